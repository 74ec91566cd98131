import path from 'node:path';
import { usageError } from '../errors.js';
import { DEFAULT_PREPROCESSING, type Preprocessing } from '../data/types.js';
import { resolvePreprocessing } from '../data/preprocess.js';
import type { EngineChoice } from '../model/engine.js';
import type { TrainMode } from '../model/types.js';
import { defaultCacheDir } from '../util/cache-dirs.js';
import { resolveTrainEngine, TRAIN_ENGINE_CHOICES, type TrainEngineChoice } from './engines/index.js';

/** The optimizers train() knows; both follow PyTorch's update rules (L2 weight decay added to the gradient). */
export type OptimizerName = 'sgd' | 'adam';

/** The validation metric that picks best.imgcls. */
export type MonitorMetric = 'val_accuracy' | 'val_loss';

/** What train() needs; every field but `data` and `outDir` has a documented default. */
export interface TrainConfig {
  /** Dataset root: root/train/<class> + root/val/<class>, or root/<class> (then a seeded split is drawn). */
  data: string;
  /** Run folder: history.jsonl and checkpoints/ go here. */
  outDir: string;
  /** Which weights learn: the dense head on cached features, the last topK blocks + head, or everything. Default 'head'. */
  mode?: TrainMode;
  /** Passes over the training set. Default 10. */
  epochs?: number;
  /** Images per optimizer step. Default 10 (the lesson's); 'full' mode on TF.js is capped at 4 to fit the wasm heap. */
  batchSize?: number;
  /** Default 0.001. */
  learningRate?: number;
  /** SGD momentum (Adam: beta1). Default 0.9. */
  momentum?: number;
  /** L2 penalty added to every gradient, biases included (PyTorch's weight_decay). Default 1e-4. */
  weightDecay?: number;
  /** Default 'sgd' (the lesson's). */
  optimizer?: OptimizerName;
  /** Seeds the split, the head's initial weights, shuffling, dropout and augmentation. Default 42. */
  seed?: number;
  /** Share of each class held out when the dataset has no val/ folder. Default 0.2. */
  validPct?: number;
  /** Augmented views (flip, crop, colour jitter) cached per training image; each epoch picks one view per image. Default 0. */
  augmentViews?: number;
  /** Dropout before the dense head. Default 0.2 (torchvision's efficientnet_b0). */
  dropout?: number;
  /** Write checkpoints/epoch-NNN.imgcls every this many epochs (last.imgcls is written every epoch). Default 1. */
  saveInterval?: number;
  /**
   * Epoch checkpoints kept: the newest this many epoch-NNN.imgcls files (older ones are deleted as
   * training goes on), or 'all'. best.imgcls and last.imgcls are always kept. Default 3.
   */
  keepCheckpoints?: number | 'all';
  /** Metric that chooses best.imgcls; ties go to the lower val_loss. Default 'val_accuracy'. */
  monitor?: MonitorMetric;
  /** 'balanced' weighs each class's loss by n / (numClasses × n_class). Default 'balanced'. */
  classWeights?: 'balanced' | 'none';
  /** For 'top-k': how many final MBConv blocks train. Default 2. */
  topK?: number;
  /**
   * Continue from <outDir>/checkpoints/last.imgcls (optimizer state included; a missing file starts a new
   * run). Default false.
   */
  resume?: boolean;
  /**
   * Replace a finished or partial run already in outDir (its history.jsonl and .imgcls checkpoints).
   * Default false: train() refuses with RUN_EXISTS instead of deleting a run it was not told to delete.
   */
  overwrite?: boolean;
  /** Default DEFAULT_PREPROCESSING (224, 'squash', 'zero-one'). */
  preprocessing?: Partial<Preprocessing>;
  /** Backbone engine for feature extraction. Default 'auto' (ONNX Runtime when it loads, else TF.js). */
  engine?: EngineChoice;
  /** Feature cache folder. Default $IMGCLS_CACHE/features, else <parent of outDir>/.imgcls-cache. */
  cacheDir?: string;
  /**
   * Engine that trains 'top-k' and 'full': 'libtorch' (native addon, `npm run build:native`) or 'tfjs' (wasm).
   * Default 'auto': $IMGCLS_TRAIN_ENGINE, else libtorch when its addon loads, else TF.js.
   */
  trainEngine?: TrainEngineChoice;
}

/** A TrainConfig with every default filled in and every value checked. */
export interface ResolvedTrainConfig {
  data: string;
  outDir: string;
  mode: TrainMode;
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  weightDecay: number;
  optimizer: OptimizerName;
  seed: number;
  validPct: number;
  augmentViews: number;
  dropout: number;
  saveInterval: number;
  keepCheckpoints: number | 'all';
  monitor: MonitorMetric;
  classWeights: 'balanced' | 'none';
  topK: number;
  resume: boolean;
  overwrite: boolean;
  preprocessing: Preprocessing;
  engine: EngineChoice;
  cacheDir: string;
  trainEngine: TrainEngineChoice;
}

/** The largest batch 'full' mode uses: a wasm training step needs ~0.7 GiB per image of the 4 GiB heap. */
export const FULL_MODE_MAX_BATCH = 4;

const MODES: readonly TrainMode[] = ['head', 'top-k', 'full'];
const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'adam'];
const MONITORS: readonly MonitorMetric[] = ['val_accuracy', 'val_loss'];
const ENGINES: readonly EngineChoice[] = ['auto', 'onnxruntime', 'tfjs'];
/** EfficientNet-B0 has 16 MBConv blocks. */
const MAX_TOP_K = 16;

function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw usageError(`${name} must be one of ${allowed.join(', ')}. Received: ${String(value)}`);
  return value;
}

function integerIn(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw usageError(`${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]. Received: ${value}`);
  }
  return value;
}

function numberIn(name: string, value: number, min: number, max: number, maxOpen = false): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && (maxOpen ? value < max : value <= max);
  if (!ok) throw usageError(`${name} must be a number in [${min}, ${max}${maxOpen ? ')' : ']'}. Received: ${value}`);
  return value;
}

export { defaultCacheDir };

/** Fills the defaults of a TrainConfig and validates every field once, naming the value received. */
export function resolveTrainConfig(config: TrainConfig): ResolvedTrainConfig {
  if (typeof config?.data !== 'string' || config.data === '') throw usageError(`data must be a dataset folder. Received: ${config?.data}`);
  if (typeof config.outDir !== 'string' || config.outDir === '') throw usageError(`outDir must be a folder path. Received: ${config.outDir}`);
  const mode = oneOf('mode', config.mode ?? 'head', MODES);
  const trainEngine = oneOf('trainEngine', config.trainEngine ?? 'auto', TRAIN_ENGINE_CHOICES);
  // the wasm heap caps 'full' on TF.js; libtorch takes the lesson's batch
  const onTfjs = mode === 'full' && resolveTrainEngine(trainEngine).engine === 'tfjs';
  const batchSize = integerIn('batchSize', config.batchSize ?? (onTfjs ? FULL_MODE_MAX_BATCH : 10), 1, 4096);
  if (onTfjs && batchSize > FULL_MODE_MAX_BATCH) {
    throw usageError(`batchSize ${batchSize} is too large for 'full' mode (at most ${FULL_MODE_MAX_BATCH})`,
      "A full-network training step on TF.js wasm needs ~0.7 GiB per image; use --batch-size 4, 'head'/'top-k' mode, or the libtorch engine (npm run build:native).");
  }
  const outDir = path.resolve(config.outDir);
  return {
    data: path.resolve(config.data),
    outDir,
    mode,
    epochs: integerIn('epochs', config.epochs ?? 10, 1),
    batchSize,
    learningRate: numberIn('learningRate', config.learningRate ?? 0.001, Number.MIN_VALUE, 10),
    momentum: numberIn('momentum', config.momentum ?? 0.9, 0, 1, true),
    weightDecay: numberIn('weightDecay', config.weightDecay ?? 1e-4, 0, 1),
    optimizer: oneOf('optimizer', config.optimizer ?? 'sgd', OPTIMIZERS),
    seed: integerIn('seed', config.seed ?? 42, 0, 2 ** 32 - 1),
    validPct: numberIn('validPct', config.validPct ?? 0.2, 0, 1, true),
    augmentViews: integerIn('augmentViews', config.augmentViews ?? 0, 0, 64),
    dropout: numberIn('dropout', config.dropout ?? 0.2, 0, 1, true),
    saveInterval: integerIn('saveInterval', config.saveInterval ?? 1, 1),
    keepCheckpoints: config.keepCheckpoints === 'all' ? 'all' : integerIn('keepCheckpoints', config.keepCheckpoints ?? 3, 0),
    monitor: oneOf('monitor', config.monitor ?? 'val_accuracy', MONITORS),
    classWeights: oneOf('classWeights', config.classWeights ?? 'balanced', ['balanced', 'none'] as const),
    topK: integerIn('topK', config.topK ?? 2, 1, MAX_TOP_K),
    resume: config.resume ?? false,
    overwrite: config.overwrite ?? false,
    preprocessing: resolvePreprocessing({ ...DEFAULT_PREPROCESSING, ...config.preprocessing }),
    engine: oneOf('engine', config.engine ?? 'auto', ENGINES),
    cacheDir: config.cacheDir ? path.resolve(config.cacheDir) : defaultCacheDir(outDir),
    trainEngine,
  };
}
