import sharp from 'sharp';
import { ImgclsError, usageError } from '../errors.js';
import { decodeImage } from '../data/decode.js';
import { loadImage, resolvePreprocessing } from '../data/preprocess.js';
import type { Preprocessing } from '../data/types.js';
import type { Classifier } from '../model/types.js';
import { rankPredictions } from '../model/classifier.js';
import { classActivationMap, headProbabilities } from './cam.js';

/** A rectangle in image pixels. */
export interface PixelRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Why a classifier chose a class for one image: where in the image the evidence for it lies. */
export interface Explanation {
  /** The image file explained. */
  file: string;
  /** The class explained: the one asked for, else the predicted one. */
  className: string;
  /** Index of className in spec.classNames. */
  classIndex: number;
  /** The classifier's probability for className. */
  probability: number;
  /** Probabilities of all classes, in spec.classNames order. */
  probabilities: number[];
  /** The predicted class (equal to className unless another class was asked for). */
  predictedClassName: string;
  /** mapSize × mapSize class activation values in [0, 1], row-major, top row first (1 = strongest evidence). */
  map: Float32Array;
  /** Side of the map in cells: 7 for EfficientNet-B0 at 224 px (one cell per 32 × 32 input pixels). */
  mapSize: number;
  /** Width of the image as displayed (EXIF orientation applied), in pixels. */
  imageWidth: number;
  /** Height of the image as displayed, in pixels. */
  imageHeight: number;
  /**
   * The part of the image the network saw, which the map covers: the whole image for 'squash'
   * preprocessing, the centred square for 'center-crop'.
   */
  region: PixelRegion;
}

/** Options of explain. */
export interface ExplainOptions {
  /** The class to explain, one of the classifier's spec.classNames. Default: the predicted class. */
  className?: string;
}

/**
 * Explains one image's prediction with a class activation map (exact Grad-CAM for the GAP + dense head)
 * from the classifier's last 7 × 7 feature map; returns plain data, nothing to dispose.
 */
export async function explain(classifier: Classifier, file: string, options: ExplainOptions = {}): Promise<Explanation> {
  const { spec, head } = classifier;
  const requested = options.className;
  if (requested !== undefined && !spec.classNames.includes(requested)) {
    throw usageError(`className must be one of ${spec.classNames.join(', ')}. Received: ${requested}`,
      'Pass one of the class names the classifier was trained on, or none to explain the predicted class.');
  }
  const preprocessing = resolvePreprocessing(spec.preprocessing);
  const [data, size] = await Promise.all([loadImage(file, preprocessing), displaySize(file)]);
  const featureMap = await classifier.featureMap({
    data, count: 1, inputSize: preprocessing.inputSize, files: [file], labels: [-1], skipped: [],
  });
  const channels = head.inputDim;
  const mapSize = Math.round(Math.sqrt(featureMap.length / channels));
  if (mapSize * mapSize * channels !== featureMap.length) {
    throw new ImgclsError(`the feature map has ${featureMap.length} values, not a square map of ${channels} channels`,
      'INTERNAL', file, 'The backbone engine and the head disagree; report this with the checkpoint used.');
  }
  const probabilities = Array.from(headProbabilities(featureMap, mapSize, channels, head));
  // the predicted class follows classify()'s rule, spec.threshold included
  const predictedIndex = spec.classNames.indexOf(rankPredictions(probabilities, spec, 1)[0].className);
  const classIndex = requested === undefined ? predictedIndex : spec.classNames.indexOf(requested);
  return {
    file,
    className: spec.classNames[classIndex],
    classIndex,
    probability: probabilities[classIndex],
    probabilities,
    predictedClassName: spec.classNames[predictedIndex],
    map: classActivationMap(featureMap, mapSize, channels, head, classIndex),
    mapSize,
    imageWidth: size.width,
    imageHeight: size.height,
    region: inputRegion(size.width, size.height, preprocessing),
  };
}

/** The part of a width × height image that preprocessing feeds to the network. */
export function inputRegion(width: number, height: number, preprocessing: Pick<Preprocessing, 'resize'>): PixelRegion {
  if (preprocessing.resize === 'squash') return { left: 0, top: 0, width, height };
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side };
}

/** The displayed size of an image (EXIF orientation applied), from its header when sharp can read it. */
async function displaySize(file: string): Promise<{ width: number; height: number }> {
  try {
    const metadata = await sharp(file).metadata();
    if (metadata.autoOrient?.width && metadata.autoOrient.height) return metadata.autoOrient;
  } catch {
    // not readable by sharp's header parser (e.g. BMP): decode fully below, which reports real errors
  }
  const decoded = await decodeImage(file);
  return { width: decoded.width, height: decoded.height };
}
