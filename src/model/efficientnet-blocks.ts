// EfficientNet-B0's block table and the names derived from it: plain data, no TF.js (the inference path reads it).
import { usageError } from '../errors.js';

/** One stage of MBConv blocks: the row format of an EfficientNet block table. */
export interface BlockArgs {
  kernelSize: 3 | 5;
  repeats: number;
  filtersIn: number;
  filtersOut: number;
  expandRatio: 1 | 6;
  strides: 1 | 2;
  seRatio: number;
}

/** EfficientNet-B0's seven stages (16 MBConv blocks), as in Keras' DEFAULT_BLOCKS_ARGS. */
export const EFFICIENTNET_B0_BLOCKS: readonly BlockArgs[] = Object.freeze([
  { kernelSize: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, strides: 1, seRatio: 0.25 },
  { kernelSize: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernelSize: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernelSize: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernelSize: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, strides: 1, seRatio: 0.25 },
  { kernelSize: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, strides: 2, seRatio: 0.25 },
  { kernelSize: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, strides: 1, seRatio: 0.25 },
] as const);

/** ImageNet channel mean and standard deviation for RGB in [0, 1]; the pretrained graph normalises with these. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Width of the pooled feature vector (the top conv's filters). */
export const EFFICIENTNET_B0_FEATURES = 1280;

/** One MBConv block's name prefix and the name of the layer that outputs it (the top-k cut points). */
export interface BlockInfo {
  /** Keras-style prefix, e.g. `block2b_`. */
  prefix: string;
  /** Zero-based stage (row of EFFICIENTNET_B0_BLOCKS) and repeat within it. */
  stage: number;
  repeat: number;
  /** `${prefix}add` for residual blocks, else `${prefix}project_conv`. */
  outputLayer: string;
}

/**
 * The 16 MBConv blocks in order with their output layer names. A block's output is its residual
 * `_add` when input and output shapes match (stride 1, same width), else its `_project_conv`
 * (batch-norm is folded into the convolutions, so there is no `_project_bn`). For B0 these are:
 * block1a_project_conv, block2a_project_conv, block2b_add, block3a_project_conv, block3b_add,
 * block4a_project_conv, block4b_add, block4c_add, block5a_project_conv, block5b_add, block5c_add,
 * block6a_project_conv, block6b_add, block6c_add, block6d_add, block7a_project_conv.
 */
export function efficientNetB0Blocks(): BlockInfo[] {
  const blocks: BlockInfo[] = [];
  EFFICIENTNET_B0_BLOCKS.forEach((row, stage) => {
    for (let repeat = 0; repeat < row.repeats; repeat++) {
      const prefix = `block${stage + 1}${String.fromCharCode(97 + repeat)}_`;
      const filtersIn = repeat === 0 ? row.filtersIn : row.filtersOut;
      const strides = repeat === 0 ? row.strides : 1;
      const residual = strides === 1 && filtersIn === row.filtersOut;
      blocks.push({ prefix, stage, repeat, outputLayer: residual ? `${prefix}add` : `${prefix}project_conv` });
    }
  });
  return blocks;
}

/** The number of MBConv blocks in EfficientNet-B0. */
export const EFFICIENTNET_B0_NUM_BLOCKS = 16;

/**
 * The layer whose output is the frozen boundary when only the last k MBConv blocks (plus the
 * top conv) train: the output of block 16 − k (`stem_activation` for k = 16). Cutting at a block
 * output keeps residual adds on one side, so the top part is self-contained.
 */
export function topKBoundary(k: number): string {
  if (!(Number.isInteger(k) && k >= 0 && k <= EFFICIENTNET_B0_NUM_BLOCKS)) {
    throw usageError(`k (blocks to train) must be an integer from 0 to ${EFFICIENTNET_B0_NUM_BLOCKS}. Received: ${k}`);
  }
  if (k === EFFICIENTNET_B0_NUM_BLOCKS) return 'stem_activation';
  return efficientNetB0Blocks()[EFFICIENTNET_B0_NUM_BLOCKS - k - 1].outputLayer;
}
