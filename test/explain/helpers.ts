import sharp from 'sharp';
import { loadImage } from '../../src/data/preprocess.js';
import { DEFAULT_PREPROCESSING, type ImageBatch, type Preprocessing } from '../../src/data/types.js';
import type { BackboneEngine, Classifier, DenseHead, Prediction } from '../../src/model/types.js';

/** Softmax of features · kernel + bias for each row of [count × inputDim] features. */
export function applyHead(features: Float32Array, head: DenseHead): Float32Array {
  const count = features.length / head.inputDim;
  const out = new Float32Array(count * head.numClasses);
  for (let row = 0; row < count; row++) {
    const logits = Array.from(head.bias);
    for (let c = 0; c < head.inputDim; c++) {
      const feature = features[row * head.inputDim + c];
      for (let k = 0; k < head.numClasses; k++) logits[k] += feature * head.kernel[c * head.numClasses + k];
    }
    const top = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - top));
    const total = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, k) => (out[row * head.numClasses + k] = e / total));
  }
  return out;
}

/**
 * A real Classifier: the pretrained backbone (a real BackboneEngine) plus a dense head given as plain
 * arrays, e.g. one set by hand. The engine stays owned by the caller.
 */
export function engineClassifier(
  engine: BackboneEngine,
  head: DenseHead,
  classNames: string[],
  preprocessing: Preprocessing = { ...DEFAULT_PREPROCESSING },
): Classifier {
  const spec = { arch: 'efficientnet-b0' as const, classNames, preprocessing, dropout: 0, mode: 'head' as const };
  const predictBatch = async (batch: ImageBatch) => applyHead((await engine.run(batch)).pooled, head);
  return {
    spec,
    head,
    predictBatch,
    async classify(file: string, topK = classNames.length): Promise<Prediction[]> {
      const data = await loadImage(file, preprocessing);
      const probabilities = await predictBatch(singleBatch(data, file, preprocessing.inputSize));
      return Array.from(probabilities, (probability, i) => ({ className: classNames[i], probability }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, topK);
    },
    async classifyWithVerdict(file: string, options: { topK?: number } = {}) {
      return { predictions: await this.classify(file, options.topK) };
    },
    async featureMap(batch: ImageBatch): Promise<Float32Array> {
      const { featureMap } = await engine.run(batch, { featureMap: true });
      if (!featureMap) throw new Error('engine returned no feature map');
      return featureMap;
    },
    async dispose() {},
  };
}

/** An ImageBatch of one preprocessed image. */
export function singleBatch(data: Float32Array, file: string, inputSize = 224): ImageBatch {
  return { data, count: 1, inputSize, files: [file], labels: [-1], skipped: [] };
}

/** Where a square checkerboard patch sits in an image, in pixels. */
export interface Patch {
  left: number;
  top: number;
  size: number;
}

/** Writes a PNG: flat mid-grey with a black-and-white checkerboard (squares of `square` px) in `patch`. */
export async function writePatchImage(file: string, width: number, height: number, patch?: Patch, square = 8): Promise<void> {
  const pixels = Buffer.alloc(width * height * 3, 128);
  if (patch) {
    for (let y = patch.top; y < patch.top + patch.size; y++) {
      for (let x = patch.left; x < patch.left + patch.size; x++) {
        const value = (Math.floor((x - patch.left) / square) + Math.floor((y - patch.top) / square)) % 2 ? 255 : 0;
        pixels.fill(value, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

/** Index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The map cells (row * mapSize + col) covered by rows [row0, row1] × cols [col0, col1]. */
export function cellsOf(mapSize: number, row0: number, row1: number, col0: number, col1: number): Set<number> {
  const cells = new Set<number>();
  for (let row = row0; row <= row1; row++) for (let col = col0; col <= col1; col++) cells.add(row * mapSize + col);
  return cells;
}

/**
 * A two-class head ['flat', 'patch'] where one feature channel decides the class: the real backbone's
 * channel that fires most inside `patchCells` of `patchedFile` and least outside them. The 'patch'
 * bias puts the boundary halfway between that channel's pooled value on `flatFile` and on `patchedFile`.
 */
export async function patchDetectorHead(
  engine: BackboneEngine,
  patchedFile: string,
  flatFile: string,
  patchCells: Set<number>,
): Promise<{ head: DenseHead; channel: number; margin: number }> {
  const channels = 1280;
  const run = async (file: string) => engine.run(singleBatch(await loadImage(file), file), { featureMap: true });
  const patched = await run(patchedFile);
  const flat = await run(flatFile);
  const cells = patched.featureMap!.length / channels;
  let margin = -Infinity;
  let channel = -1;
  for (let c = 0; c < channels; c++) {
    let insideMean = 0;
    let outsideMax = -Infinity;
    for (let cell = 0; cell < cells; cell++) {
      const value = patched.featureMap![cell * channels + c];
      if (patchCells.has(cell)) insideMean += value / patchCells.size;
      else outsideMax = Math.max(outsideMax, value);
    }
    if (insideMean - outsideMax > margin) [margin, channel] = [insideMean - outsideMax, c];
  }
  const kernel = new Float32Array(channels * 2);
  kernel[channel * 2 + 1] = 1;
  const boundary = (flat.pooled[channel] + patched.pooled[channel]) / 2;
  return { head: { kernel, bias: new Float32Array([0, -boundary]), inputDim: channels, numClasses: 2 }, channel, margin };
}

/** Writes a real checkpoint file (train's format) holding `head`, for loadClassifier and the CLI. */
export async function writeHeadCheckpoint(file: string, head: DenseHead, classNames: string[]): Promise<void> {
  const { writeCheckpoint } = await import('../../src/model/checkpoint.js');
  await writeCheckpoint(file, {
    spec: { arch: 'efficientnet-b0', classNames, preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0, mode: 'head' },
    training: { config: { note: 'head set by hand in test/explain' }, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
    metrics: null,
    weights: {
      'head/kernel': { shape: [head.inputDim, head.numClasses], data: head.kernel },
      'head/bias': { shape: [head.numClasses], data: head.bias },
    },
  });
}
