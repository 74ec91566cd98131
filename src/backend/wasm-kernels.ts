import * as tf from '@tensorflow/tfjs';
import { ImgclsError } from '../errors.js';

type Attrs = Record<string, unknown>;
type KernelArgs = { inputs: Record<string, tf.TensorInfo>; attrs?: Attrs };
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The gradient kernels tfjs-backend-wasm 4.22 lacks, which imgcls registers on it. */
export const WASM_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

/** wasm kernels imgcls replaces with faster compositions (wasm's own Conv2DBackpropInput is a slow loop). */
export const WASM_REPLACED_KERNELS = ['Conv2DBackpropInput'] as const;

/** A Tensor for a kernel input (kernels receive Tensors from ops, plain TensorInfos from other kernels). */
function asTensor(info: tf.TensorInfo): tf.Tensor {
  return 'rank' in info ? (info as tf.Tensor) : tf.engine().makeTensorFromTensorInfo(info);
}

function unsupported(kernelName: string, what: string): ImgclsError {
  return new ImgclsError(`${kernelName} on wasm: ${what} is not supported by imgcls' replacement kernel`, 'INTERNAL',
    undefined, 'Run on the cpu backend (IMGCLS_BACKEND=cpu) for this model.');
}

/** Pads x (NHWC) as the forward convolution did. */
function padLike(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
}

/** The input window that filter tap (kh, kw) saw at every output position: [n, outH, outW, c]. */
function tapWindow(xPadded: tf.Tensor4D, info: Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const { batchSize, outHeight, outWidth, strideHeight, strideWidth, inChannels } = info;
  if (kh === 0 && kw === 0 && strideHeight === 1 && strideWidth === 1 &&
    xPadded.shape[1] === outHeight && xPadded.shape[2] === outWidth) {
    return xPadded;
  }
  return tf.stridedSlice(
    xPadded,
    [0, kh, kw, 0],
    [batchSize, kh + (outHeight - 1) * strideHeight + 1, kw + (outWidth - 1) * strideWidth + 1, inChannels],
    [1, strideHeight, strideWidth, 1],
  ) as tf.Tensor4D;
}

/**
 * Spreads dy (NHWC) back onto the input grid: inserts stride−1 zeros between rows/columns and pads so
 * that a 'valid' correlation with the flipped filter gives dx of the input's height and width.
 */
function spreadAndPad(dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { batchSize, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth, inHeight, inWidth } = info;
  const channels = dy.shape[3];
  let spread = dy;
  if (strideHeight > 1 || strideWidth > 1) {
    const withGaps = tf.pad(dy.reshape([batchSize * outHeight, 1, outWidth, 1, channels]) as tf.Tensor5D,
      [[0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]]);
    spread = (withGaps
      .reshape([batchSize, outHeight * strideHeight, outWidth * strideWidth, channels])
      .slice([0, 0, 0, 0], [batchSize, (outHeight - 1) * strideHeight + 1, (outWidth - 1) * strideWidth + 1, channels])) as tf.Tensor4D;
  }
  const before = [filterHeight - 1 - info.padInfo.top, filterWidth - 1 - info.padInfo.left];
  const after = [
    inHeight + filterHeight - 1 - before[0] - spread.shape[1],
    inWidth + filterWidth - 1 - before[1] - spread.shape[2],
  ];
  if ([...before, ...after].some((p) => p < 0)) throw unsupported('backprop input', 'this padding');
  return tf.pad(spread, [[0, 0], [before[0], after[0]], [before[1], after[1]], [0, 0]]);
}

function checkDilations(kernelName: string, dilations: unknown): void {
  const values = Array.isArray(dilations) ? dilations : [dilations ?? 1];
  if (values.some((d) => d !== 1)) throw unsupported(kernelName, `dilations ${JSON.stringify(dilations)}`);
}

/**
 * dW of a conv2d (NHWC). 1×1 stride 1: one xᵀ · dy matrix product. Otherwise one conv2d with the
 * input channels as the batch and dy as a (stride-dilated) filter: ~10× faster than a strided slice
 * + matMul per tap on the stem's shape at batch 8 (A/B in one process).
 */
function conv2DBackpropFilter({ inputs, attrs = {} }: KernelArgs): tf.TensorInfo {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw unsupported('Conv2DBackpropFilter', 'NCHW');
  const filterShape = attrs.filterShape as [number, number, number, number];
  return tf.tidy(() => {
    const x = asTensor(inputs.x) as tf.Tensor4D;
    const dy = asTensor(inputs.dy) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, attrs.strides as [number, number], 1,
      attrs.pad as 'same', attrs.dimRoundingMode as 'floor' | undefined);
    const { filterHeight, filterWidth, strideHeight, strideWidth, inChannels, outChannels } = info;
    const xPadded = padLike(x, info);
    if (filterHeight === 1 && filterWidth === 1 && strideHeight === 1 && strideWidth === 1) {
      const rows = info.batchSize * info.outHeight * info.outWidth;
      const window = tapWindow(xPadded, info, 0, 0).reshape([rows, inChannels]);
      // explicit transpose: wasm's transposed BatchMatMul is much slower than Transpose + MatMul
      return tf.matMul(tf.transpose(window), dy.reshape([rows, outChannels])).reshape(filterShape);
    }
    const image = tf.transpose(xPadded, [3, 1, 2, 0]) as tf.Tensor4D; // [inChannels, H, W, batch]
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [outH, outW, batch, outChannels]
    const perChannel = tf.conv2d(image, dyAsFilter, 1, 'valid', 'NHWC', [strideHeight, strideWidth]);
    return tf.transpose(perChannel.slice([0, 0, 0, 0], [inChannels, filterHeight, filterWidth, outChannels]), [1, 2, 0, 3]);
  });
}

/**
 * dX of a conv2d (NHWC) for 1×1 stride-1 convolutions (most of EfficientNet's FLOPs): one dy · Wᵀ
 * matrix product: 2.5–6× faster than wasm's own kernel on three B0 shapes at batch 8 (A/B in one process
 * on a busy shared 2-core machine, so only the ratio means anything); other shapes keep wasm's kernel.
 */
function conv2DBackpropInput(wasmKernel: tf.KernelFunc) {
  return (args: KernelArgs & { backend: unknown }): tf.TensorInfo => {
    const { inputs, attrs = {} } = args;
    const filter = inputs.filter;
    const inputShape = attrs.inputShape as [number, number, number, number];
    const strides = attrs.strides as number | [number, number];
    const unitStride = Array.isArray(strides) ? strides.every((s) => s === 1) : strides === 1;
    const pointwise = filter.shape[0] === 1 && filter.shape[1] === 1 && unitStride &&
      (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC');
    if (!pointwise) return wasmKernel(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return tf.tidy(() => {
      const dy = asTensor(inputs.dy);
      const [inChannels, outChannels] = [filter.shape[2], filter.shape[3]];
      const weightsT = tf.transpose(asTensor(filter).reshape([inChannels, outChannels]));
      return tf.matMul(dy.reshape([dy.size / outChannels, outChannels]), weightsT).reshape(inputShape);
    });
  };
}

/**
 * dW of a depthwise conv (NHWC) as one depthwise convolution: the padded input, with the batch folded
 * into channels, is correlated with dy used as a (stride-dilated) filter, then summed over the batch.
 * One pass instead of a strided slice + multiply + sum per filter tap: 1.5–60× faster on B0's shapes
 * at batch 8 (A/B in one process; strided slices with stride 2 are very slow on wasm).
 */
function depthwiseBackpropFilter({ inputs, attrs = {} }: KernelArgs): tf.TensorInfo {
  checkDilations('DepthwiseConv2dNativeBackpropFilter', attrs.dilations);
  const filterShape = attrs.filterShape as [number, number, number, number];
  return tf.tidy(() => {
    const x = asTensor(inputs.x) as tf.Tensor4D;
    const dy = asTensor(inputs.dy) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, attrs.strides as [number, number], 1,
      attrs.pad as 'same', attrs.dimRoundingMode as 'floor' | undefined, true);
    const { batchSize, outHeight, outWidth, inChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
    if (filterShape[3] !== 1) return depthwiseBackpropFilterByTaps(x, dy, info, filterShape);
    const xPadded = padLike(x, info);
    const [paddedHeight, paddedWidth] = [xPadded.shape[1], xPadded.shape[2]];
    const image = tf.transpose(xPadded, [1, 2, 0, 3]).reshape([1, paddedHeight, paddedWidth, batchSize * inChannels]);
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]).reshape([outHeight, outWidth, batchSize * inChannels, 1]);
    const perImage = tf.depthwiseConv2d(image as tf.Tensor4D, dyAsFilter as tf.Tensor4D, 1, 'valid', 'NHWC',
      [strideHeight, strideWidth]);
    return tf.sum(perImage.slice([0, 0, 0, 0], [1, filterHeight, filterWidth, batchSize * inChannels])
      .reshape([filterHeight, filterWidth, batchSize, inChannels]), 2).reshape(filterShape);
  });
}

/** dW of a depthwise conv with a channel multiplier: for each filter tap, Σ window ⊙ dy over batch and positions. */
function depthwiseBackpropFilterByTaps(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo,
  filterShape: [number, number, number, number]): tf.Tensor {
  const { batchSize, outHeight, outWidth, inChannels } = info;
  const dyPerChannel = dy.reshape([batchSize, outHeight, outWidth, inChannels, filterShape[3]]);
  const xPadded = padLike(x, info);
  const taps: tf.Tensor[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      const window = tapWindow(xPadded, info, kh, kw).reshape([batchSize, outHeight, outWidth, inChannels, 1]);
      taps.push(tf.sum(tf.mul(window, dyPerChannel), [0, 1, 2]));
    }
  }
  return tf.stack(taps).reshape(filterShape);
}

/** dX of a depthwise conv (NHWC): 'valid' depthwise correlation of the spread dy with the flipped filter. */
function depthwiseBackpropInput({ inputs, attrs = {} }: KernelArgs): tf.TensorInfo {
  checkDilations('DepthwiseConv2dNativeBackpropInput', attrs.dilations);
  const inputShape = attrs.inputShape as [number, number, number, number];
  return tf.tidy(() => {
    const dy = asTensor(inputs.dy) as tf.Tensor4D;
    const filter = asTensor(inputs.filter) as tf.Tensor4D;
    if (filter.shape[3] !== 1) throw unsupported('DepthwiseConv2dNativeBackpropInput', 'channel multiplier > 1');
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, attrs.strides as [number, number], 1,
      attrs.pad as 'same', attrs.dimRoundingMode as 'floor' | undefined, true);
    const flipped = tf.reverse(filter, [0, 1]);
    return tf.depthwiseConv2d(spreadAndPad(dy, info), flipped as tf.Tensor4D, 1, 'valid');
  });
}

let registered = false;

/**
 * Registers the gradient kernels wasm lacks (WASM_GRADIENT_KERNELS) so training runs on wasm, and
 * replaces WASM_REPLACED_KERNELS; each is composed from wasm ops (pad, strided slice, transpose,
 * matMul, conv2d, depthwise conv). Idempotent.
 */
export function registerWasmGradients(): void {
  if (registered) return;
  const kernels: Record<(typeof WASM_GRADIENT_KERNELS)[number], (args: KernelArgs) => tf.TensorInfo> = {
    Conv2DBackpropFilter: conv2DBackpropFilter,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  };
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(kernelName, 'wasm')) continue; // a future tfjs-backend-wasm ships its own
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
  const wasmBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (wasmBackpropInput) {
    // unregister first: registering over a kernel makes TF.js print a warning
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({ ...wasmBackpropInput, kernelFunc: conv2DBackpropInput(wasmBackpropInput.kernelFunc) as tf.KernelFunc });
  }
  registered = true;
}
