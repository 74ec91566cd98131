import type { ImageBatch, Preprocessing } from '../data/types.js';

/** The architectures imgcls knows. */
export type Architecture = 'efficientnet-b0';

/** Which weights learn during training. */
export type TrainMode = 'head' | 'top-k' | 'full';

/**
 * Everything a checkpoint needs to be used without other knowledge; stored beside the weights.
 * (Training fills `training`; loaders only read.)
 */
export interface ModelSpec {
  arch: Architecture;
  classNames: string[];
  preprocessing: Preprocessing;
  /** Dropout before the dense head. */
  dropout: number;
  /** Training mode the weights come from. */
  mode: TrainMode;
  /** For 'top-k': how many final MBConv blocks were trained. */
  topK?: number;
  /** Optional decision rule: predict `className` when its probability ≥ threshold (set by eval). */
  threshold?: { className: string; value: number; targetRecall?: number };
}

/** One class and its probability. */
export interface Prediction {
  className: string;
  probability: number;
}

/** A training image close to a classified image in feature space. */
export interface NearestImage {
  /** The training file's path as it was when the checkpoint was trained (it may have moved since). */
  file: string;
  className: string;
  /** Distance in the open-set score's feature space (smaller is closer). */
  distance: number;
}

/**
 * Whether an image resembles the training data. `unfamiliar` when `score` > `threshold`: the image is
 * unlike anything the model was trained on, and its class should not be trusted.
 */
export interface OpenSetVerdict {
  unfamiliar: boolean;
  /** Higher means less like the training data. */
  score: number;
  /** Calibrated when training ended (about 95% of the training images score at or below it). */
  threshold: number;
  /** The nearest training images, nearest first. */
  nearest: NearestImage[];
}

/** The open-set calibration a checkpoint carries. */
export interface OpenSetSummary {
  /** How the score is computed (e.g. 'knn': distance to the nearest training image). */
  method: string;
  threshold: number;
  /**
   * Class-conditional verdicts: each class's own threshold by class name (an image is compared with the training images
   * of its predicted class); absent when one global `threshold` applies (checkpoints before per-class thresholds).
   */
  classThresholds?: Record<string, number>;
  /** Training images stored to compare with (at most OPEN_SET_MAX_IMAGES = 256), and how many the model was trained on. */
  storedImages: number;
  trainCount: number;
}

/** One image's classes plus the open-set verdict (undefined when the checkpoint carries no open-set data). */
export interface Classification {
  predictions: Prediction[];
  verdict?: OpenSetVerdict;
}

/**
 * A trained classifier: backbone + head, ready to run. Probabilities are softmax outputs, never logits.
 * Created by loadClassifier(checkpoint) in train/ (or by the model stage for the ImageNet demo).
 */
export interface Classifier {
  readonly spec: ModelSpec;
  /** Softmax probabilities, row-major [batch.count × classNames.length]. */
  predictBatch(batch: ImageBatch): Promise<Float32Array>;
  /** The topK classes of one image file, most probable first (applies spec.threshold when set). */
  classify(file: string, topK?: number): Promise<Prediction[]>;
  /** classify() plus the open-set verdict: whether the image is unlike the training data, and its nearest training images. */
  classifyWithVerdict(file: string, options?: { topK?: number; nearest?: number }): Promise<Classification>;
  /**
   * predictBatch() plus each image's open-set verdict (`verdicts` undefined when the checkpoint has no
   * open-set data). Optional: classifiers built by loadClassifier have it.
   */
  predictBatchWithVerdict?(batch: ImageBatch, options?: { nearest?: number }): Promise<{ probabilities: Float32Array; verdicts?: OpenSetVerdict[] }>;
  /** The [batch.count × inputDim] features that feed the head (pooled; after the trained blocks for top-k/full). Optional: loadClassifier's have it. */
  pooledFeatures?(batch: ImageBatch): Promise<Float32Array>;
  /** What the checkpoint's open-set data holds; undefined when it has none (then no verdict can be given). */
  readonly openSet?: OpenSetSummary;
  /** The dense head, for class activation maps (explain) and export. */
  readonly head: DenseHead;
  /** The [batch.count × 7 × 7 × 1280] NHWC feature map that feeds global pooling and the head. */
  featureMap(batch: ImageBatch): Promise<Float32Array>;
  /** Frees tensors and sessions. */
  dispose(): Promise<void>;
}

/** A dense layer as plain arrays: logits = features · kernel + bias. */
export interface DenseHead {
  /** [inputDim × numClasses], row-major. */
  kernel: Float32Array;
  bias: Float32Array;
  inputDim: number;
  numClasses: number;
}

/** What a backbone engine can return for a batch. */
export interface BackboneOutputs {
  /** [count × 1280] globally average-pooled features. */
  pooled: Float32Array;
  /** [count × 7 × 7 × 1280] NHWC last feature map (only when asked for). */
  featureMap?: Float32Array;
  /** NHWC output of the named layer (only when asked for): the frozen boundary of top-k training. */
  boundary?: Float32Array;
  /** NHWC outputs of the named layers (only when asked for), by name. */
  layers?: Record<string, Float32Array>;
  /** [count × channels] global averages of the named layers (only when asked for), by name: the open-set verdict's stages. */
  pooledLayers?: Record<string, Float32Array>;
}

/** What to compute besides the pooled features. */
export interface BackboneRunOptions {
  featureMap?: boolean;
  /** Name of a backbone layer (e.g. a block's output layer) whose activations are also returned. */
  boundary?: string;
  /** Names of further backbone layers whose activations are also returned (in `layers`). */
  layers?: readonly string[];
  /** Names of further backbone layers whose global averages over height and width are also returned (in `pooledLayers`). */
  pooledLayers?: readonly string[];
}

/**
 * One interface for every way to run the frozen EfficientNet-B0 backbone (ONNX Runtime, TF.js).
 * Feature extraction for training, predict, eval and VS Code's Classify all go through it.
 */
export interface BackboneEngine {
  /** 'onnxruntime' or 'tfjs-<backend>'. */
  readonly name: string;
  /** Runs the backbone on a preprocessed batch. */
  run(batch: ImageBatch, options?: BackboneRunOptions): Promise<BackboneOutputs>;
  dispose(): Promise<void>;
}
