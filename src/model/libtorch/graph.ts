import { usageError } from '../../errors.js';
import { EFFICIENTNET_B0_BLOCKS, EFFICIENTNET_B0_FEATURES, type BlockArgs } from '../efficientnet.js';
import { topKBoundary } from '../head.js';
import { TOP_PREFIX } from '../top-model.js';

/** What one graph node computes; the addon interprets exactly these. */
export type GraphOp = 'input' | 'affine' | 'conv' | 'swish' | 'sigmoid' | 'mean' | 'pool' | 'mul' | 'add';

/** A node of the libtorch graph; inputs and weights are indices into the node and param lists. */
export interface GraphNode {
  op: GraphOp;
  inputs: number[];
  /** The Keras layer name whose output this node is (the same names as buildEfficientNetB0's layers). */
  layer: string;
  /** 'conv': kernel; 'affine': scale. */
  weight?: number;
  /** 'conv': bias; 'affine': offset. */
  bias?: number;
  stride?: number;
  /** Channels for a depthwise conv, else 1. */
  groups?: number;
}

/** How a weight is laid out in TF.js (checkpoints) and how it maps to libtorch's layout. */
export type ParamKind = 'conv' | 'depthwise' | 'vector' | 'dense';

/** A named weight of the graph: 'top/<layer>/<index>' as in checkpoints, 'head/kernel', 'head/bias', or a frozen constant. */
export interface GraphParam {
  name: string;
  /** The Keras layer it belongs to, and its index among the layer's weights (0 kernel, 1 bias). */
  layer: string;
  index: number;
  kind: ParamKind;
  /** Shape in TF.js layout (conv [kh, kw, in, out], depthwise [kh, kw, c, 1], dense [in, out]). */
  tfShape: number[];
  trainable: boolean;
}

/** EfficientNet-B0 (or its top after a boundary) + a dense head, as data for the addon. */
export interface TorchGraph {
  nodes: GraphNode[];
  params: GraphParam[];
  /** The pooled-features node. */
  output: number;
  head: { kernel: number; bias: number };
  /** One image's input (the preprocessed image, or the boundary activation) as [h, w, c]. */
  inputShape: [number, number, number];
  /** The layer the graph starts after: 'input' for the whole network. */
  boundary: string;
}

/** The batch-norm-free normalisation of the pretrained graph: per-channel scale and offset (not trained). */
export const NORMALIZATION_LAYER = 'normalization';

interface Value {
  node: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Describes EfficientNet-B0 from EFFICIENTNET_B0_BLOCKS with the same layer names and weight names as
 * buildEfficientNetB0 / buildTopModel, so weights map by name; for a number k the graph starts after
 * topKBoundary(k) (top-k mode), for 'full' at the image. The head is dropout (a mask given per step) + dense.
 */
export function buildTorchGraph(k: number | 'full', numClasses: number, inputSize = 224): TorchGraph {
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) throw usageError(`numClasses must be an integer ≥ 2. Received: ${numClasses}`);
  const nodes: GraphNode[] = [];
  const params: GraphParam[] = [];
  const shapes: Value[] = [];
  const add = (node: GraphNode, shape: Omit<Value, 'node'>): Value => {
    nodes.push(node);
    const value = { ...shape, node: nodes.length - 1 };
    shapes.push(value);
    return value;
  };
  const param = (layer: string, index: number, kind: ParamKind, tfShape: number[], trainable = true): number => {
    params.push({ name: trainable ? `${TOP_PREFIX}${layer}/${index}` : `${layer}/${index}`, layer, index, kind, tfShape, trainable });
    return params.length - 1;
  };
  const conv = (x: Value, layer: string, filters: number, kernel: number, stride: number, depthwise = false): Value => {
    const weight = depthwise
      ? param(layer, 0, 'depthwise', [kernel, kernel, x.channels, 1])
      : param(layer, 0, 'conv', [kernel, kernel, x.channels, filters]);
    const bias = param(layer, 1, 'vector', [depthwise ? x.channels : filters]);
    return add(
      { op: 'conv', inputs: [x.node], layer, weight, bias, stride, groups: depthwise ? x.channels : 1 },
      { height: Math.ceil(x.height / stride), width: Math.ceil(x.width / stride), channels: depthwise ? x.channels : filters },
    );
  };
  const unary = (op: GraphOp, x: Value, layer: string): Value => add({ op, inputs: [x.node], layer }, { ...x });

  // one MBConv block: expansion, depthwise, squeeze-and-excitation, projection, residual (as mbConvBlock)
  const block = (inputs: Value, args: Omit<BlockArgs, 'repeats'>, prefix: string): Value => {
    const filters = args.filtersIn * args.expandRatio;
    let x = inputs;
    if (args.expandRatio !== 1) x = unary('swish', conv(x, `${prefix}expand_conv`, filters, 1, 1), `${prefix}expand_activation`);
    x = unary('swish', conv(x, `${prefix}dwconv`, filters, args.kernelSize, args.strides, true), `${prefix}activation`);
    const filtersSe = Math.max(1, Math.floor(args.filtersIn * args.seRatio));
    let se = add({ op: 'mean', inputs: [x.node], layer: `${prefix}se_squeeze` }, { height: 1, width: 1, channels: x.channels });
    se = unary('swish', conv(se, `${prefix}se_reduce`, filtersSe, 1, 1), `${prefix}se_reduce_activation`);
    se = unary('sigmoid', conv(se, `${prefix}se_expand`, filters, 1, 1), `${prefix}se_expand_activation`);
    x = add({ op: 'mul', inputs: [x.node, se.node], layer: `${prefix}se_excite` }, { ...x });
    x = conv(x, `${prefix}project_conv`, args.filtersOut, 1, 1);
    if (args.strides === 1 && args.filtersIn === args.filtersOut) x = add({ op: 'add', inputs: [x.node, inputs.node], layer: `${prefix}add` }, { ...x });
    return x;
  };

  const input = add({ op: 'input', inputs: [], layer: 'input' }, { height: inputSize, width: inputSize, channels: 3 });
  const scale = param(NORMALIZATION_LAYER, 0, 'vector', [3], false);
  const offset = param(NORMALIZATION_LAYER, 1, 'vector', [3], false);
  let x = add({ op: 'affine', inputs: [input.node], layer: NORMALIZATION_LAYER, weight: scale, bias: offset }, { ...input });
  x = unary('swish', conv(x, 'stem_conv', 32, 3, 2), 'stem_activation');
  EFFICIENTNET_B0_BLOCKS.forEach((row, stage) => {
    for (let repeat = 0; repeat < row.repeats; repeat++) {
      const first = repeat === 0;
      x = block(x, { ...row, strides: first ? row.strides : 1, filtersIn: first ? row.filtersIn : row.filtersOut },
        `block${stage + 1}${String.fromCharCode(97 + repeat)}_`);
    }
  });
  x = unary('swish', conv(x, 'top_conv', EFFICIENTNET_B0_FEATURES, 1, 1), 'top_activation');
  const pooled = add({ op: 'pool', inputs: [x.node], layer: 'avg_pool' }, { height: 1, width: 1, channels: x.channels });
  params.push({ name: 'head/kernel', layer: 'head', index: 0, kind: 'dense', tfShape: [EFFICIENTNET_B0_FEATURES, numClasses], trainable: true });
  params.push({ name: 'head/bias', layer: 'head', index: 1, kind: 'vector', tfShape: [numClasses], trainable: true });
  const whole: TorchGraph = {
    nodes, params, output: pooled.node, head: { kernel: params.length - 2, bias: params.length - 1 },
    inputShape: [inputSize, inputSize, 3], boundary: 'input',
  };
  if (k === 'full') return whole;
  return cutGraph(whole, shapes, topKBoundary(k));
}

/** The part of a graph after the node named `boundary`, which becomes the input (a clean cut: nothing later reads before it). */
function cutGraph(graph: TorchGraph, shapes: Value[], boundary: string): TorchGraph {
  const start = graph.nodes.findIndex((node) => node.layer === boundary);
  if (start < 0) throw usageError(`no graph node named "${boundary}"`, 'Use topKBoundary(k) for a block output.');
  const used = new Set<number>();
  const nodes: GraphNode[] = [{ op: 'input', inputs: [], layer: 'input' }];
  const paramIndex = new Map<number, number>();
  const params: GraphParam[] = [];
  const keepParam = (index: number | undefined): number | undefined => {
    if (index === undefined) return undefined;
    if (!paramIndex.has(index)) {
      params.push(graph.params[index]);
      paramIndex.set(index, params.length - 1);
    }
    return paramIndex.get(index);
  };
  for (let i = start + 1; i < graph.nodes.length; i++) {
    const node = graph.nodes[i];
    const inputs = node.inputs.map((input) => {
      if (input < start) throw usageError(`cannot cut the graph at "${boundary}": ${node.layer} reads an earlier node`, 'Cut at a block output.');
      return input - start;
    });
    inputs.forEach((input) => used.add(input));
    nodes.push({ ...node, inputs, weight: keepParam(node.weight), bias: keepParam(node.bias) });
  }
  const kernel = keepParam(graph.head.kernel)!;
  const bias = keepParam(graph.head.bias)!;
  const shape = shapes[start];
  return {
    nodes, params, output: graph.output - start, head: { kernel, bias },
    inputShape: [shape.height, shape.width, shape.channels], boundary,
  };
}

/** Reorders an array's axes: out[perm applied] (row-major, like numpy.transpose). */
export function transposeArray(data: Float32Array, shape: readonly number[], perm: readonly number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((axis) => shape[axis]);
  const rank = shape.length;
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * shape[i + 1];
  const strides = perm.map((axis) => inStrides[axis]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[source];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      source += strides[d];
      if (index[d] < outShape[d]) break;
      source -= strides[d] * outShape[d];
      index[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** TF.js → libtorch axis order: conv [kh, kw, in, out] → [out, in, kh, kw]; depthwise [kh, kw, c, 1] → [c, 1, kh, kw]. */
const TO_TORCH: Record<ParamKind, number[] | undefined> = { conv: [3, 2, 0, 1], depthwise: [2, 3, 0, 1], vector: undefined, dense: undefined };
const TO_TF: Record<ParamKind, number[] | undefined> = { conv: [2, 3, 1, 0], depthwise: [2, 3, 0, 1], vector: undefined, dense: undefined };

/** A param's values in libtorch's layout, from TF.js layout. */
export function toTorchLayout(param: GraphParam, data: Float32Array): { data: Float32Array; shape: number[] } {
  const perm = TO_TORCH[param.kind];
  return perm ? transposeArray(data, param.tfShape, perm) : { data, shape: [...param.tfShape] };
}

/** A param's values in TF.js layout (checkpoints), from libtorch's layout. */
export function toTfLayout(param: GraphParam, data: Float32Array): Float32Array {
  const perm = TO_TF[param.kind];
  if (!perm) return data;
  const torchShape = TO_TORCH[param.kind]!.map((axis) => param.tfShape[axis]);
  return transposeArray(data, torchShape, perm).data;
}
