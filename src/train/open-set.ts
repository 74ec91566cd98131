import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ImgclsError } from '../errors.js';
import { contentHash } from '../data/hash.js';
import { scanDataset } from '../data/scan.js';
import type { ImageItem } from '../data/types.js';
import { checkpointHead, loadCheckpoint, writeCheckpointOpenSet, type Checkpoint } from '../model/checkpoint.js';
import { headLogits } from '../model/dense-head.js';
import { createBackboneEngine, type EngineChoice } from '../model/engine.js';
import {
  buildOpenSet,
  classThresholdsByName,
  formatOpenSetThresholds,
  layerChannels,
  OPEN_SET_LAYERS_OUTPUT,
  OPEN_SET_MAX_IMAGES,
  openSetForCheckpoint,
  openSetLayersFor,
  openSetSubsample,
  type OpenSetData,
  type OpenSetMethod,
} from '../model/open-set.js';
import type { BackboneEngine } from '../model/types.js';
import { defaultCacheDir } from '../util/cache-dirs.js';
import { mapLimit } from '../util/limit.js';
import { computeFeatures, featureKey, IMAGE_OUTPUT, type FeatureSet } from './features.js';

/** The score bench:openset chose (see README "Know when it doesn't know"). */
export const DEFAULT_OPEN_SET_METHOD: OpenSetMethod = 'knn';
/** Images per forward pass through a top-k / full model while calibrating. */
const TOP_CHUNK = 16;

/** One training image to calibrate on: its path, class and cached backbone output (pooled, boundary or pixels). */
export interface CalibrationImage {
  file: string;
  label: number;
  values: Float32Array;
  /** Its pooled intermediate stages (OPEN_SET_LAYERS_OUTPUT), when the verdict compares them (openSetLayersFor). */
  layerValues?: Float32Array;
}

/** What calibration did, per checkpoint file. */
export interface OpenSetCalibration {
  file: string;
  /** The global threshold (nearest training image of any class). */
  threshold: number;
  /** Each class's own threshold by class name, when the verdict is class-conditional (the default). */
  classThresholds?: Record<string, number>;
  storedImages: number;
  trainCount: number;
  /** Bytes the checkpoint grew by. */
  addedBytes: number;
}

/**
 * The pooled features (what feeds the head) of the calibration images under a checkpoint: the cached
 * values themselves in head mode, else run through the checkpoint's trained top blocks.
 */
async function pooledFeatures(checkpoint: Checkpoint, images: readonly CalibrationImage[]): Promise<Float32Array> {
  const { spec } = checkpoint;
  if (spec.mode === 'head') return concatRows(images.map((image) => image.values));
  const { buildTopModel, runTopModel } = await import('../model/top-model.js');
  const top = await buildTopModel(spec.mode === 'full' ? 'full' : spec.topK!, {
    featureMap: true, weights: checkpoint.weights, file: checkpoint.file, inputSize: spec.preprocessing.inputSize,
  });
  try {
    const parts: Float32Array[] = [];
    const perImage = images[0].values.length;
    for (let start = 0; start < images.length; start += TOP_CHUNK) {
      const chunk = images.slice(start, start + TOP_CHUNK);
      const input = new Float32Array(chunk.length * perImage);
      chunk.forEach((image, i) => input.set(image.values, i * perImage));
      parts.push((await runTopModel(top, input, chunk.length)).pooled);
    }
    return concatRows(parts);
  } finally {
    top.dispose();
  }
}

/** The open-set data of one checkpoint from its calibration images (leave-one-out threshold). */
export async function openSetFor(checkpoint: Checkpoint, images: readonly CalibrationImage[], options: { trainCount?: number; method?: OpenSetMethod } = {}): Promise<OpenSetData> {
  const features = await pooledFeatures(checkpoint, images);
  const head = checkpointHead(checkpoint);
  const layerNames = openSetLayersFor(checkpoint.spec);
  const layered = layerNames.length > 0 && images.every((image) => image.layerValues);
  const layerDims = layerChannels(layerNames);
  return buildOpenSet(features, images.map((image) => image.file), images.map((image) => image.label), {
    method: options.method ?? DEFAULT_OPEN_SET_METHOD,
    trainCount: options.trainCount ?? images.length,
    logits: headLogits(head, features, images.length),
    numClasses: head.numClasses,
    ...(layered ? { layers: { names: layerNames, dims: layerDims, features: concatRows(images.map((image) => image.layerValues!)) } } : {}),
  });
}

/** Rows one after the other in one array. */
function concatRows(rows: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((sum, row) => sum + row.length, 0));
  let offset = 0;
  for (const row of rows) {
    out.set(row, offset);
    offset += row.length;
  }
  return out;
}

/**
 * Adds each calibration image's pooled intermediate stages (OPEN_SET_LAYERS_OUTPUT) from the feature cache or the engine,
 * when the checkpoint's verdict compares them; images as they are otherwise.
 */
async function withLayerValues(
  images: readonly (CalibrationImage & { hash: string })[], spec: Checkpoint['spec'],
  options: { cacheDir: string; getEngine: () => Promise<BackboneEngine>; signal?: AbortSignal },
): Promise<CalibrationImage[]> {
  if (openSetLayersFor(spec).length === 0) return [...images];
  const featureSet = await computeFeatures(images.map((image) => ({ file: image.file, hash: image.hash, view: 0 })), {
    cacheDir: options.cacheDir, preprocessing: spec.preprocessing, output: OPEN_SET_LAYERS_OUTPUT, getEngine: options.getEngine, signal: options.signal,
  });
  return images.map((image) => ({ ...image, layerValues: featureSet.byKey.get(featureKey({ hash: image.hash, view: 0 }, spec.preprocessing, OPEN_SET_LAYERS_OUTPUT)) }));
}

/**
 * Calibrates the open-set score of each checkpoint file on the calibration images and writes it
 * into the file (atomically). Files that are hard links of one another are computed once.
 */
export async function writeOpenSet(files: readonly string[], images: readonly CalibrationImage[], options: { trainCount?: number; method?: OpenSetMethod } = {}): Promise<OpenSetCalibration[]> {
  const results: OpenSetCalibration[] = [];
  const byInode = new Map<string, OpenSetData>();
  const inodes = await Promise.all(files.map(async (file) => {
    const stat = await fs.stat(file);
    return `${stat.dev}:${stat.ino}`;
  }));
  for (const [i, file] of files.entries()) {
    const before = (await fs.stat(file)).size;
    let data = byInode.get(inodes[i]);
    const checkpoint = await loadCheckpoint(file);
    if (!data) {
      data = await openSetFor(checkpoint, images, options);
      byInode.set(inodes[i], data);
    }
    const { header, tensors } = openSetForCheckpoint(data);
    const bytes = await writeCheckpointOpenSet(file, header, tensors);
    const classThresholds = classThresholdsByName(data, checkpoint.spec.classNames);
    results.push({ file, threshold: data.threshold, ...(classThresholds ? { classThresholds } : {}), storedImages: data.files.length, trainCount: data.trainCount, addedBytes: bytes - before });
  }
  return results;
}

/**
 * train()'s last step: calibrates best and last on (a seeded subsample of) the training images'
 * cached outputs and returns the notice to show.
 */
export async function calibrateRunCheckpoints(run: {
  files: readonly string[];
  trainItems: readonly (ImageItem & { hash: string })[];
  featureSet: FeatureSet;
  preprocessing: Checkpoint['spec']['preprocessing'];
  output: string;
  seed: number;
  /** Feature cache folder and engine for the verdict's intermediate stages (not in the training cache). */
  cacheDir: string;
  engine: EngineChoice;
  signal?: AbortSignal;
}): Promise<string> {
  const keyOf = (item: ImageItem & { hash: string }) => featureKey({ hash: item.hash, view: 0 }, run.preprocessing, run.output);
  const usable = run.trainItems.filter((item) => run.featureSet.byKey.has(keyOf(item)));
  if (usable.length < 2) return 'open-set score: not calibrated (fewer than 2 training images)';
  const picked = openSetSubsample(usable.length, OPEN_SET_MAX_IMAGES, run.seed).map((i) => usable[i]);
  const plain = picked.map((item) => ({ file: path.resolve(item.file), hash: item.hash, label: item.label, values: run.featureSet.byKey.get(keyOf(item))! }));
  let enginePromise: Promise<BackboneEngine> | undefined;
  let images: CalibrationImage[];
  try {
    images = await withLayerValues(plain, (await loadCheckpoint(run.files[0])).spec, {
      cacheDir: run.cacheDir, getEngine: () => (enginePromise ??= createBackboneEngine(run.engine)), signal: run.signal,
    });
  } finally {
    await enginePromise?.then((engine) => engine.dispose(), () => undefined);
  }
  const [result] = await writeOpenSet(run.files, images, { trainCount: usable.length });
  return `open-set score calibrated on ${result.trainCount} training images (${result.storedImages} stored, +${(result.addedBytes / 1024).toFixed(0)} KB per checkpoint): ` +
    `images scoring above ${formatOpenSetThresholds(result)} are called unlike the training data`;
}

/** Options of calibrateCheckpoint. */
export interface CalibrateOptions {
  /** Feature cache folder. Default: beside the checkpoint's run folder, as train uses. */
  cacheDir?: string;
  engine?: EngineChoice;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Adds (or renews) the open-set data of a checkpoint from its dataset: scans `data` with the
 * checkpoint's split settings, computes the training images' features and writes the calibration.
 */
export async function calibrateCheckpoint(checkpointFile: string, data: string, options: CalibrateOptions = {}): Promise<OpenSetCalibration> {
  const checkpoint = await loadCheckpoint(checkpointFile);
  const config = checkpoint.training?.config ?? {};
  const seed = typeof config.seed === 'number' ? config.seed : 0;
  const dataset = await scanDataset(data, {
    validPct: typeof config.validPct === 'number' ? config.validPct : undefined,
    seed: typeof config.seed === 'number' ? config.seed : undefined,
  });
  if (JSON.stringify(dataset.classNames) !== JSON.stringify(checkpoint.spec.classNames)) {
    throw new ImgclsError(`the dataset's classes (${dataset.classNames.join(', ')}) differ from the checkpoint's (${checkpoint.spec.classNames.join(', ')})`,
      'CLASS_COUNT_MISMATCH', data, 'Pass the dataset the checkpoint was trained on.');
  }
  const picked = openSetSubsample(dataset.train.length, OPEN_SET_MAX_IMAGES, seed).map((i) => dataset.train[i]);
  const hashed = await mapLimit(picked, 16, async (item) => ({ ...item, hash: await contentHash(item.file) }));
  const { spec } = checkpoint;
  const output = spec.mode === 'top-k' ? (await import('../model/head.js')).topKBoundary(spec.topK!) : spec.mode === 'full' ? IMAGE_OUTPUT : 'pooled';
  let enginePromise: Promise<BackboneEngine> | undefined;
  const getEngine = () => (enginePromise ??= createBackboneEngine(options.engine ?? 'auto'));
  const cacheDir = options.cacheDir ?? defaultCacheDir(path.dirname(path.dirname(path.resolve(checkpointFile))));
  let images: CalibrationImage[];
  try {
    const featureSet = await computeFeatures(hashed.map((item) => ({ file: item.file, hash: item.hash, view: 0 })), {
      cacheDir,
      preprocessing: spec.preprocessing,
      output,
      getEngine,
      signal: options.signal,
      onProgress: (done, total) => options.onProgress?.(done, total),
    });
    const read = hashed
      .map((item) => ({ file: path.resolve(item.file), hash: item.hash, label: item.label, values: featureSet.byKey.get(featureKey({ hash: item.hash, view: 0 }, spec.preprocessing, output)) }))
      .filter((image): image is CalibrationImage & { hash: string } => image.values !== undefined);
    images = await withLayerValues(read, spec, { cacheDir, getEngine, signal: options.signal });
  } finally {
    await enginePromise?.then((engine) => engine.dispose(), () => undefined);
  }
  if (images.length < 2) {
    throw new ImgclsError(`only ${images.length} training image(s) of ${data} could be read`, 'NO_IMAGES', data, 'See the skipped files with imgcls data report.');
  }
  const [result] = await writeOpenSet([checkpointFile], images, { trainCount: dataset.train.length });
  return result;
}
