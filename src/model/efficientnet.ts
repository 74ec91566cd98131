import * as tf from '@tensorflow/tfjs';
import { usageError } from '../errors.js';

export {
  EFFICIENTNET_B0_BLOCKS, EFFICIENTNET_B0_FEATURES, IMAGENET_MEAN, IMAGENET_STD, efficientNetB0Blocks, type BlockArgs, type BlockInfo,
} from './efficientnet-blocks.js';
import { EFFICIENTNET_B0_BLOCKS, EFFICIENTNET_B0_FEATURES, IMAGENET_MEAN, IMAGENET_STD, type BlockArgs } from './efficientnet-blocks.js';

/** Options of buildEfficientNetB0. */
export interface EfficientNetOptions {
  /** Add the 1000-way ImageNet softmax (`predictions`) after pooling. Default false. */
  includeTop?: boolean;
  /** Square input side in pixels. Default 224. */
  inputSize?: number;
}

function swish(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.activation({ activation: 'swish', name }).apply(x) as tf.SymbolicTensor;
}

function conv(x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string): tf.SymbolicTensor {
  return tf.layers
    .conv2d({ filters, kernelSize, strides, padding: 'same', useBias: true, name })
    .apply(x) as tf.SymbolicTensor;
}

/** One MBConv block: expansion, depthwise, squeeze-and-excitation, projection, residual. */
function mbConvBlock(
  inputs: tf.SymbolicTensor,
  args: Omit<BlockArgs, 'repeats'>,
  prefix: string,
): tf.SymbolicTensor {
  const filters = args.filtersIn * args.expandRatio;
  let x = inputs;

  // expansion phase (absent in the first stage, whose expand ratio is 1)
  if (args.expandRatio !== 1) {
    x = conv(x, filters, 1, 1, `${prefix}expand_conv`);
    x = swish(x, `${prefix}expand_activation`);
  }

  // depthwise convolution; TF 'same' padding, like the pretrained graph (not Keras' explicit pads)
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: args.kernelSize,
      strides: args.strides,
      padding: 'same',
      useBias: true,
      name: `${prefix}dwconv`,
    })
    .apply(x) as tf.SymbolicTensor;
  x = swish(x, `${prefix}activation`);

  // squeeze-and-excitation
  const filtersSe = Math.max(1, Math.floor(args.filtersIn * args.seRatio));
  let se = tf.layers.globalAveragePooling2d({ name: `${prefix}se_squeeze` }).apply(x) as tf.SymbolicTensor;
  se = tf.layers.reshape({ targetShape: [1, 1, filters], name: `${prefix}se_reshape` }).apply(se) as tf.SymbolicTensor;
  se = tf.layers
    .conv2d({ filters: filtersSe, kernelSize: 1, padding: 'same', activation: 'swish', name: `${prefix}se_reduce` })
    .apply(se) as tf.SymbolicTensor;
  se = tf.layers
    .conv2d({ filters, kernelSize: 1, padding: 'same', activation: 'sigmoid', name: `${prefix}se_expand` })
    .apply(se) as tf.SymbolicTensor;
  x = tf.layers.multiply({ name: `${prefix}se_excite` }).apply([x, se]) as tf.SymbolicTensor;

  // output phase: linear projection, residual when shapes match
  x = conv(x, args.filtersOut, 1, 1, `${prefix}project_conv`);
  if (args.strides === 1 && args.filtersIn === args.filtersOut) {
    x = tf.layers.add({ name: `${prefix}add` }).apply([x, inputs]) as tf.SymbolicTensor;
  }
  return x;
}

/**
 * Builds EfficientNet-B0 (random weights) as a TF.js functional model taking RGB in [0, 1] NHWC.
 * Layers are named Keras-style from their position (`stem_conv`, `block2b_se_reduce`, `top_conv`,
 * `avg_pool`, `predictions`) so pretrained weights map by name; batch-norm is folded into conv
 * biases. The first layer, `normalization`, applies the ImageNet mean/std inside the model.
 * Output: [n × 1280] pooled features, or [n × 1000] softmax with `includeTop`.
 */
export function buildEfficientNetB0(options: EfficientNetOptions = {}): tf.LayersModel {
  const includeTop = options.includeTop ?? false;
  const inputSize = options.inputSize ?? 224;
  if (!(Number.isInteger(inputSize) && inputSize >= 32)) {
    throw usageError(`inputSize must be an integer ≥ 32. Received: ${inputSize}`);
  }
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'image_input' });

  // (x - mean) / std per channel, as a frozen 1×1 depthwise conv so the model stays plain Keras layers
  let x = tf.layers
    .depthwiseConv2d({
      kernelSize: 1,
      useBias: true,
      trainable: false,
      name: 'normalization',
      depthwiseInitializer: tf.initializers.constant({ value: 1 }),
    })
    .apply(input) as tf.SymbolicTensor;

  // stem
  x = conv(x, 32, 3, 2, 'stem_conv');
  x = swish(x, 'stem_activation');

  // blocks, straight from the table: only the first repeat changes stride and width
  EFFICIENTNET_B0_BLOCKS.forEach((row, stage) => {
    for (let repeat = 0; repeat < row.repeats; repeat++) {
      const first = repeat === 0;
      x = mbConvBlock(
        x,
        { ...row, strides: first ? row.strides : 1, filtersIn: first ? row.filtersIn : row.filtersOut },
        `block${stage + 1}${String.fromCharCode(97 + repeat)}_`,
      );
    }
  });

  // top
  x = conv(x, EFFICIENTNET_B0_FEATURES, 1, 1, 'top_conv');
  x = swish(x, 'top_activation');
  x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  if (includeTop) {
    x = tf.layers.dense({ units: 1000, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: input, outputs: x, name: 'efficientnet-b0' });
  setNormalization(model);
  return model;
}

/** Writes the ImageNet mean/std into the `normalization` layer: y = x / std - mean / std. */
function setNormalization(model: tf.LayersModel): void {
  const layer = model.getLayer('normalization');
  const scale = IMAGENET_STD.map((s) => 1 / s);
  const offset = IMAGENET_MEAN.map((m, i) => -m / IMAGENET_STD[i]);
  const [kernel, bias] = [tf.tensor4d(scale, [1, 1, 3, 1]), tf.tensor1d(offset)];
  try {
    layer.setWeights([kernel, bias]);
  } finally {
    tf.dispose([kernel, bias]);
  }
}
