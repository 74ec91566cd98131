import * as tf from '@tensorflow/tfjs';
import { usageError } from '../errors.js';

/** Options of withHead. */
export interface HeadOptions {
  /** Dropout rate before the dense layer, in [0, 1). Default 0.2 (EfficientNet-B0's). */
  dropout?: number;
}

/**
 * Returns a model: `backbone` (pooled [n × features] output) → dropout → dense softmax `head_dense`
 * with numClasses units, sharing the backbone's layers and weights (the lesson's `_fc = nn.Linear(1280, N)`).
 */
export function withHead(backbone: tf.LayersModel, numClasses: number, options: HeadOptions = {}): tf.LayersModel {
  const dropout = options.dropout ?? 0.2;
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) {
    throw usageError(`numClasses must be an integer ≥ 2. Received: ${numClasses}`);
  }
  if (!(Number.isFinite(dropout) && dropout >= 0 && dropout < 1)) {
    throw usageError(`dropout must be in [0, 1). Received: ${dropout}`);
  }
  const features = backbone.outputs[0];
  const outputLayer = backbone.layers[backbone.layers.length - 1];
  if (backbone.outputs.length !== 1 || outputLayer.getClassName() !== 'GlobalAveragePooling2D') {
    throw usageError(
      `withHead needs a backbone whose one output is global average pooling. Received: ${outputLayer.name} [${features.shape.join(', ')}]`,
      'Build or load the backbone with includeTop: false.',
    );
  }
  let x = tf.layers.dropout({ rate: dropout, name: 'head_dropout' }).apply(features) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: numClasses, activation: 'softmax', name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: backbone.inputs, outputs: x, name: `${backbone.name}-head${numClasses}` });
}

interface GraphNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/** Each layer's call node inside `model` (a shared layer also has nodes from other models). */
function ownNodes(model: tf.LayersModel): Map<string, GraphNode> {
  const own = new Set<number>(model.inputs.map((t) => t.id));
  const nodeOf = new Map<string, GraphNode>();
  for (const layer of model.layers) {
    const node = layer.inboundNodes.find((n) => n.inputTensors.every((t) => own.has(t.id)));
    if (!node) continue;
    nodeOf.set(layer.name, node);
    node.outputTensors.forEach((t) => own.add(t.id));
  }
  return nodeOf;
}

/**
 * The symbolic output of a named layer within `model`. Unlike `getLayer(name).output`, this still
 * works after the layer was reused in another model (e.g. by splitBackbone or withHead).
 */
export function layerOutput(model: tf.LayersModel, layerName: string): tf.SymbolicTensor {
  const node = ownNodes(model).get(layerName);
  if (!node) throw usageError(`no layer named "${layerName}" in ${model.name}`);
  return node.outputTensors[0];
}

export { EFFICIENTNET_B0_NUM_BLOCKS, topKBoundary } from './efficientnet-blocks.js';

/**
 * Splits a functional model at a layer: `bottom` maps the input to that layer's activation, `top`
 * maps such an activation to the model's output. Both reuse the original layers (same weights).
 * Throws USAGE when a later layer needs a tensor from before the boundary (not a clean cut).
 */
export function splitBackbone(
  backbone: tf.LayersModel,
  boundaryLayer: string,
): { bottom: tf.LayersModel; top: tf.LayersModel } {
  const names = backbone.layers.map((layer) => layer.name);
  if (!names.includes(boundaryLayer)) {
    throw usageError(`no layer named "${boundaryLayer}" in ${backbone.name}`, 'Use topKBoundary(k) for a block output.');
  }
  const nodeOf = ownNodes(backbone);
  const boundaryNode = nodeOf.get(boundaryLayer);
  const boundaryOutput = boundaryNode ? boundaryNode.outputTensors[0] : backbone.inputs[0];
  const bottom = tf.model({ inputs: backbone.inputs, outputs: boundaryOutput, name: `${backbone.name}-bottom` });

  const topInput = tf.input({ shape: boundaryOutput.shape.slice(1) as number[], name: `${boundaryLayer}_input` });
  const mapped = new Map<number, tf.SymbolicTensor>([[boundaryOutput.id, topInput]]);
  for (const layer of backbone.layers.slice(names.indexOf(boundaryLayer) + 1)) {
    const node = nodeOf.get(layer.name);
    if (!node) continue;
    const inputs = node.inputTensors.map((t) => mapped.get(t.id));
    if (inputs.some((t) => t === undefined)) {
      throw usageError(`cannot split ${backbone.name} at "${boundaryLayer}": layer ${layer.name} reads a tensor from before it`,
        'Cut at a block output (see topKBoundary).');
    }
    const output = layer.apply(inputs.length === 1 ? inputs[0]! : (inputs as tf.SymbolicTensor[])) as
      | tf.SymbolicTensor
      | tf.SymbolicTensor[];
    const outputs = Array.isArray(output) ? output : [output];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outputs[i]));
  }
  const topOutputs = backbone.outputs.map((t) => mapped.get(t.id));
  if (topOutputs.some((t) => t === undefined)) {
    throw usageError(`cannot split ${backbone.name} at "${boundaryLayer}": the output does not depend on it`);
  }
  const outputs = topOutputs as tf.SymbolicTensor[];
  const top = tf.model({ inputs: topInput, outputs: outputs.length === 1 ? outputs[0] : outputs, name: `${backbone.name}-top` });
  return { bottom, top };
}
