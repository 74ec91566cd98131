import * as tf from '@tensorflow/tfjs';
import { ImgclsError } from '../../errors.js';
import { float } from './graph-builder.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

/** Keras shape of a value, batch first (rank-4 shapes are NHWC, as the layers model sees them). */
export type KerasShape = (number | null)[];

/**
 * A value in the ONNX graph under construction. Rank-4 values are stored NCHW inside the graph (the
 * layout ONNX Runtime's convolutions are fastest in); `shape` is still the Keras NHWC shape.
 */
export interface OnnxValue {
  name: string;
  shape: KerasShape;
}

/** What a layer converter gets: the layer, its config, its converted inputs and its output shapes. */
export interface LayerContext {
  layer: tf.layers.Layer;
  config: Record<string, unknown>;
  inputs: OnnxValue[];
  outputShapes: KerasShape[];
  graph: OnnxGraphBuilder;
}

/** Converts one layer to ONNX nodes and returns the names of its outputs (NCHW for rank 4). */
export type LayerConverter = (context: LayerContext) => string[];

/** Writes one activation function; `rank` tells where the channel axis is (1 inside the NCHW graph). */
export type ActivationConverter = (graph: OnnxGraphBuilder, x: string, base: string, rank: number) => string;

/** TF.js activation names (their serialised `className`) → ONNX ops. */
export const ONNX_ACTIVATIONS: Readonly<Record<string, ActivationConverter>> = Object.freeze({
  linear: (_graph, x) => x,
  relu: (graph, x, base) => graph.add('Relu', [x], base),
  relu6: (graph, x, base) => graph.add('Clip', [x, graph.addFloat(`${base}/min`, [0], []), graph.addFloat(`${base}/max`, [6], [])], base),
  sigmoid: (graph, x, base) => graph.add('Sigmoid', [x], base),
  tanh: (graph, x, base) => graph.add('Tanh', [x], base),
  elu: (graph, x, base) => graph.add('Elu', [x], base, { alpha: float(1) }),
  softplus: (graph, x, base) => graph.add('Softplus', [x], base),
  // swish(x) = x·sigmoid(x); ONNX Runtime fuses the pair (QuickGelu with alpha 1)
  swish: (graph, x, base) => graph.add('Mul', [x, graph.add('Sigmoid', [x], `${base}/sigmoid`)], base),
  softmax: (graph, x, base, rank) => graph.add('Softmax', [x], base, { axis: rank === 4 ? 1 : -1 }),
});

/** The error every unsupported layer or setting raises. */
export function exportError(layer: tf.layers.Layer, message: string): ImgclsError {
  return new ImgclsError(`cannot export layer ${layer.name} (${layer.getClassName()}) to ONNX: ${message}`, 'ONNX_EXPORT',
    undefined, `Supported layers: ${Object.keys(LAYER_CONVERTERS).join(', ')}; activations: ${Object.keys(ONNX_ACTIVATIONS).join(', ')}.`);
}

/** Applies a layer's own `activation` (Conv2D, Dense, Activation); unknown names are an ONNX_EXPORT error. */
function applyActivation(context: LayerContext, x: string, rank: number): string {
  const name = String(context.config.activation ?? 'linear');
  const convert = ONNX_ACTIVATIONS[name];
  if (!convert) throw exportError(context.layer, `activation "${name}" has no ONNX mapping`);
  return convert(context.graph, x, `${context.layer.name}/${name}`, rank);
}

/** The layer's weights as float arrays, in `layer.weights` order (the variables stay owned by the layer). */
function weightValues(layer: tf.layers.Layer): { values: Float32Array; shape: number[] }[] {
  return layer.getWeights().map((w) => ({ values: Float32Array.from(w.dataSync() as Float32Array), shape: w.shape }));
}

function pair(value: unknown): [number, number] {
  return Array.isArray(value) ? [Number(value[0]), Number(value[1] ?? value[0])] : [Number(value), Number(value)];
}

function requireChannelsLast(context: LayerContext): void {
  const format = context.config.dataFormat;
  if (format !== undefined && format !== 'channelsLast') throw exportError(context.layer, `dataFormat ${String(format)}`);
}

/**
 * ONNX pads [top, left, bottom, right] reproducing TF's 'same' padding exactly: total padding
 * (ceil(in/s) − 1)·s + (k − 1)·d + 1 − in, the odd pixel at the bottom/right (so stride 2 on an even
 * size pads 0 before and 1 after). undefined when the spatial size is unknown.
 */
export function samePads(inputHW: (number | null)[], kernel: [number, number], strides: [number, number], dilations: [number, number]): number[] | undefined {
  if (inputHW.some((d) => d === null)) return undefined;
  const before: number[] = [];
  const after: number[] = [];
  for (let axis = 0; axis < 2; axis++) {
    const size = inputHW[axis] as number;
    const effectiveKernel = (kernel[axis] - 1) * dilations[axis] + 1;
    const total = Math.max((Math.ceil(size / strides[axis]) - 1) * strides[axis] + effectiveKernel - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

/** Conv attributes shared by Conv2D and DepthwiseConv2D. */
function convAttributes(context: LayerContext, kernel: [number, number], group: number): Record<string, number | number[] | string> {
  const strides = pair(context.config.strides ?? 1);
  const dilations = pair(context.config.dilationRate ?? 1);
  const attributes: Record<string, number | number[] | string> = { kernel_shape: kernel, strides, dilations, group };
  const padding = context.config.padding;
  if (padding === 'same') {
    const pads = samePads(context.inputs[0].shape.slice(1, 3), kernel, strides, dilations);
    if (pads) attributes.pads = pads;
    else attributes.auto_pad = 'SAME_UPPER'; // SAME_UPPER puts the odd pixel at the end, as TF does
  } else if (padding === 'valid') {
    attributes.pads = [0, 0, 0, 0];
  } else {
    throw exportError(context.layer, `padding "${String(padding)}"`);
  }
  return attributes;
}

function conv2d(context: LayerContext): string[] {
  requireChannelsLast(context);
  const { layer, graph } = context;
  const [kernel, bias] = weightValues(layer);
  const [kh, kw, cin, cout] = kernel.shape;
  // TF [kh, kw, in, out] → ONNX [out, in, kh, kw]
  const w = new Float32Array(kernel.values.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) {
    w[((o * cin + i) * kh + y) * kw + x] = kernel.values[((y * kw + x) * cin + i) * cout + o];
  }
  const inputs = [context.inputs[0].name, graph.addFloat(`${layer.name}/kernel`, w, [cout, cin, kh, kw])];
  if (bias) inputs.push(graph.addFloat(`${layer.name}/bias`, bias.values, [cout]));
  const y = graph.add('Conv', inputs, `${layer.name}/conv`, convAttributes(context, [kh, kw], 1));
  return [applyActivation(context, y, 4)];
}

function depthwiseConv2d(context: LayerContext): string[] {
  requireChannelsLast(context);
  const { layer, graph } = context;
  const [kernel, bias] = weightValues(layer);
  const [kh, kw, cin, multiplier] = kernel.shape;
  // TF [kh, kw, in, multiplier] → ONNX [in·multiplier, 1, kh, kw] with group = in (output channel c·multiplier + m)
  const w = new Float32Array(kernel.values.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < cin; c++) for (let m = 0; m < multiplier; m++) {
    w[((c * multiplier + m) * kh + y) * kw + x] = kernel.values[((y * kw + x) * cin + c) * multiplier + m];
  }
  const inputs = [context.inputs[0].name, graph.addFloat(`${layer.name}/kernel`, w, [cin * multiplier, 1, kh, kw])];
  if (bias) inputs.push(graph.addFloat(`${layer.name}/bias`, bias.values, [cin * multiplier]));
  const y = graph.add('Conv', inputs, `${layer.name}/conv`, convAttributes(context, [kh, kw], cin));
  return [applyActivation(context, y, 4)];
}

function dense(context: LayerContext): string[] {
  const { layer, graph, inputs } = context;
  if (inputs[0].shape.length !== 2) throw exportError(layer, `input of rank ${inputs[0].shape.length} (only [batch, features])`);
  const [kernel, bias] = weightValues(layer);
  const k = graph.addFloat(`${layer.name}/kernel`, kernel.values, kernel.shape);
  const y = bias
    ? graph.add('Gemm', [inputs[0].name, k, graph.addFloat(`${layer.name}/bias`, bias.values, bias.shape)], `${layer.name}/gemm`)
    : graph.add('MatMul', [inputs[0].name, k], `${layer.name}/matmul`);
  return [applyActivation(context, y, 2)];
}

function batchNormalization(context: LayerContext): string[] {
  const { layer, graph, inputs, config } = context;
  const rank = inputs[0].shape.length;
  const axis = Number(config.axis ?? -1);
  if (axis !== -1 && axis !== rank - 1) throw exportError(layer, `axis ${axis} (only the channel axis)`);
  const weights = weightValues(layer);
  const channels = weights[weights.length - 1].values.length;
  const ones = new Float32Array(channels).fill(1);
  let index = 0;
  const gamma = config.scale === false ? ones : weights[index++].values;
  const beta = config.center === false ? new Float32Array(channels) : weights[index++].values;
  const [mean, variance] = [weights[index].values, weights[index + 1].values];
  const name = (role: string, values: Float32Array): string => graph.addFloat(`${layer.name}/${role}`, values, [channels]);
  return [graph.add('BatchNormalization',
    [inputs[0].name, name('gamma', gamma), name('beta', beta), name('mean', mean), name('variance', variance)],
    layer.name, { epsilon: float(Number(config.epsilon ?? 1e-3)) })];
}

/** Element-wise merge of n inputs of equal rank (broadcasting as Keras does, e.g. SE's [n,h,w,c]·[n,1,1,c]). */
function merge(opType: string): LayerConverter {
  return ({ layer, graph, inputs }) => {
    if (new Set(inputs.map((v) => v.shape.length)).size !== 1) throw exportError(layer, 'inputs of different ranks');
    let y = inputs[0].name;
    for (let i = 1; i < inputs.length; i++) y = graph.add(opType, [y, inputs[i].name], inputs.length > 2 ? `${layer.name}/${i}` : layer.name);
    return [y];
  };
}

function globalPooling(opType: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (context) => {
    requireChannelsLast(context);
    const { layer, graph, inputs } = context;
    const pooled = graph.add(opType, [inputs[0].name], `${layer.name}/pool`);
    // [n, c, 1, 1] → [n, c]; a following Reshape back to [1, 1, c] (squeeze-and-excitation) reuses `pooled`
    const flat = graph.add('Flatten', [pooled], layer.name, { axis: 1 });
    graph.squeezedFrom.set(flat, pooled);
    return [flat];
  };
}

const nchwToNhwc = (graph: OnnxGraphBuilder, x: string, base: string): string => graph.add('Transpose', [x], base, { perm: [0, 2, 3, 1] });
const nhwcToNchw = (graph: OnnxGraphBuilder, x: string, base: string): string => graph.add('Transpose', [x], base, { perm: [0, 3, 1, 2] });

/** Keras Reshape/Flatten semantics (row-major over NHWC) on values stored NCHW. */
function reshapeTo(context: LayerContext, target: number[]): string[] {
  const { layer, graph, inputs } = context;
  const input = inputs[0];
  const outRank = target.length + 1;
  const pooled = graph.squeezedFrom.get(input.name);
  if (input.shape.length === 2 && outRank === 4 && target[0] === 1 && target[1] === 1) {
    // [n, c] → [n, 1, 1, c] is [n, c, 1, 1] in NCHW: no data moves
    return [pooled ?? graph.add('Reshape', [input.name, graph.addInt64(`${layer.name}/shape`, [0, target[2], 1, 1])], layer.name)];
  }
  const source = input.shape.length === 4 ? nchwToNhwc(graph, input.name, `${layer.name}/to_nhwc`) : input.name;
  const reshaped = graph.add('Reshape', [source, graph.addInt64(`${layer.name}/shape`, [0, ...target])], `${layer.name}/reshape`);
  return [outRank === 4 ? nhwcToNchw(graph, reshaped, layer.name) : reshaped];
}

function zeroPadding2d(context: LayerContext): string[] {
  requireChannelsLast(context);
  const { layer, graph, inputs, config } = context;
  const padding = config.padding as number | number[] | number[][];
  const [[top, bottom], [left, right]] = Array.isArray(padding)
    ? (padding as (number | number[])[]).map((p) => pair(p))
    : [pair(padding), pair(padding)];
  const pads = graph.addInt64(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
  return [graph.add('Pad', [inputs[0].name, pads], layer.name, { mode: 'constant' })];
}

function rescaling(context: LayerContext): string[] {
  const { layer, graph, inputs, config } = context;
  const scale = Number(config.scale ?? 1);
  const offset = Number(config.offset ?? 0);
  let y = inputs[0].name;
  if (scale !== 1) y = graph.add('Mul', [y, graph.addFloat(`${layer.name}/scale`, [scale], [])], `${layer.name}/mul`);
  if (offset !== 0) y = graph.add('Add', [y, graph.addFloat(`${layer.name}/offset`, [offset], [])], `${layer.name}/add`);
  return [y === inputs[0].name ? graph.add('Identity', [y], layer.name) : y];
}

function concatenate(context: LayerContext): string[] {
  const { layer, graph, inputs, config } = context;
  const rank = inputs[0].shape.length;
  let axis = Number(config.axis ?? -1);
  if (axis < 0) axis += rank;
  // NHWC axis → NCHW axis inside the graph
  const onnxAxis = rank === 4 ? [0, 2, 3, 1][axis] : axis;
  return [graph.add('Concat', inputs.map((v) => v.name), layer.name, { axis: onnxAxis })];
}

const identity: LayerConverter = ({ inputs }) => [inputs[0].name];

/**
 * TF.js layer class → ONNX converter: the whole op mapping. Inference-time no-ops (Dropout and
 * friends) pass their input through.
 */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = Object.freeze({
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  Activation: (context) => [applyActivation(context, context.inputs[0].name, context.inputs[0].shape.length)],
  ReLU: ({ layer, graph, inputs }) => [graph.add('Relu', [inputs[0].name], layer.name)],
  Softmax: ({ layer, graph, inputs, config }) => {
    const rank = inputs[0].shape.length;
    const axis = Number(config.axis ?? -1) < 0 ? Number(config.axis ?? -1) + rank : Number(config.axis);
    return [graph.add('Softmax', [inputs[0].name], layer.name, { axis: rank === 4 ? [0, 2, 3, 1][axis] : axis })];
  },
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  Reshape: (context) => reshapeTo(context, (context.config.targetShape as number[]).map(Number)),
  Flatten: (context) => reshapeTo(context, [-1]),
  ZeroPadding2D: zeroPadding2d,
  Rescaling: rescaling,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
});
