import * as tf from '@tensorflow/tfjs';
import { ImgclsError } from '../../errors.js';
import { NORMALIZATIONS, RESIZE_MODES } from '../../data/preprocess.js';
import { DEFAULT_PREPROCESSING, type Preprocessing } from '../../data/types.js';
import type { DenseHead, ModelSpec } from '../types.js';
import { OnnxGraphBuilder, valueInfo } from './graph-builder.js';
import { LAYER_CONVERTERS, exportError, type KerasShape, type OnnxValue } from './layers.js';
import { ONNX_IR_VERSION, ONNX_OPSET, encodeOnnxModel, type OnnxModel, type OnnxValueInfo } from './schema.js';
import { writeFileAtomic } from '../../util/atomic.js';

export { ONNX_EXPORTER_VERSION } from './version.js';
import { ONNX_EXPORTER_VERSION } from './version.js';

/** Options of exportOnnx and buildOnnxModel. */
export interface OnnxExportOptions {
  /** Extra layers whose outputs become graph outputs, by layer name (e.g. 'top_activation', a block's output). Default none. */
  outputs?: string[];
  /** Extra metadata_props entries (string → string). Default none. */
  metadata?: Record<string, string>;
  /** How images must be prepared for the model; written to metadata_props. Default DEFAULT_PREPROCESSING. */
  preprocessing?: Preprocessing;
}

/** Options of exportClassifierOnnx. */
export interface ClassifierExportOptions extends OnnxExportOptions {
  /** The checkpoint's spec: class names and preprocessing go into metadata_props. */
  spec?: ModelSpec;
}

/** Structural view of a TF.js inbound node (tfjs-layers does not export the Node type from the package root). */
interface InboundNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

const INPUT_NAME = 'image';

/** Walks a functional model from its outputs back to its inputs and converts every layer on the way. */
class LayersGraphConverter {
  /** Each converted layer's first output, by layer name (for extra graph outputs). */
  readonly layerOutputs = new Map<string, OnnxValue>();

  constructor(readonly graph: OnnxGraphBuilder) {}

  /** Converts `model` with its inputs bound to `inputs` and returns its outputs. */
  convertModel(model: tf.LayersModel, inputs: OnnxValue[]): OnnxValue[] {
    const values = new Map<number, OnnxValue>();
    model.inputs.forEach((tensor, i) => values.set(tensor.id, inputs[i]));
    const visit = (tensor: tf.SymbolicTensor): OnnxValue => {
      const known = values.get(tensor.id);
      if (known) return known;
      const layer = tensor.sourceLayer as tf.layers.Layer;
      const node = layer.inboundNodes[tensor.nodeIndex] as unknown as InboundNode;
      if (!node || node.inputTensors.length === 0) throw exportError(layer, 'an input the exporter was not given');
      const layerInputs = node.inputTensors.map(visit);
      const outputShapes = node.outputTensors.map((t) => t.shape as KerasShape);
      const names = layer instanceof tf.LayersModel
        ? this.convertModel(layer, layerInputs).map((v) => v.name)
        : this.convertLayer(layer, layerInputs, outputShapes);
      node.outputTensors.forEach((t, i) => {
        const value = { name: names[i], shape: outputShapes[i] };
        values.set(t.id, value);
        if (i === 0 && !this.layerOutputs.has(layer.name)) this.layerOutputs.set(layer.name, value);
      });
      return values.get(tensor.id) as OnnxValue;
    };
    return model.outputs.map(visit);
  }

  private convertLayer(layer: tf.layers.Layer, inputs: OnnxValue[], outputShapes: KerasShape[]): string[] {
    const convert = LAYER_CONVERTERS[layer.getClassName()];
    if (!convert) throw exportError(layer, 'no ONNX mapping for this layer type');
    return convert({ layer, config: layer.getConfig() as Record<string, unknown>, inputs, outputShapes, graph: this.graph });
  }
}

/** The graph-boundary dims of a Keras shape: the batch becomes the named dim 'batch'. */
const boundaryDims = (shape: KerasShape): (number | string)[] => shape.map((d, i) => (i === 0 || d === null ? (i === 0 ? 'batch' : `d${i}`) : d));

/** Emits `value` as the (reserved) graph output `name`: rank-4 values go back to NHWC, others through an Identity. */
function addGraphOutput(graph: OnnxGraphBuilder, value: OnnxValue, name: string): OnnxValueInfo {
  const rank4 = value.shape.length === 4;
  graph.addNode(rank4 ? 'Transpose' : 'Identity', [value.name], name, rank4 ? { perm: [0, 2, 3, 1] } : {}, [name]);
  return valueInfo(name, boundaryDims(value.shape), rank4 ? 'NHWC' : undefined);
}

function preprocessingMetadata(preprocessing: Preprocessing, inputShape: KerasShape): Record<string, string> {
  return {
    'imgcls.preprocessing': JSON.stringify(preprocessing),
    'imgcls.input': `"${INPUT_NAME}": float32 NHWC [batch, ${inputShape.slice(1).join(', ')}], RGB. ` +
      `Resize: ${preprocessing.resize} (${RESIZE_MODES[preprocessing.resize]}) ` +
      `Values: ${preprocessing.normalization} (${NORMALIZATIONS[preprocessing.normalization]}) ` +
      'Any further normalisation (ImageNet mean/std) is inside the graph.',
  };
}

/**
 * Converts a TF.js functional LayersModel (plus an optional dense head on its output) into ONNX
 * model data (opset 13): NHWC input "image" transposed once to NCHW, every rank-4 output transposed back.
 */
export function buildOnnxModel(model: tf.LayersModel, options: OnnxExportOptions & { head?: DenseHead; classNames?: string[] } = {}): OnnxModel {
  if (model.inputs.length !== 1) {
    throw new ImgclsError(`cannot export a model with ${model.inputs.length} inputs to ONNX`, 'ONNX_EXPORT', undefined, 'Export a model with one image input.');
  }
  const graph = new OnnxGraphBuilder();
  const inputShape = model.inputs[0].shape as KerasShape;
  graph.reserve(INPUT_NAME);
  const input: OnnxValue = {
    name: inputShape.length === 4 ? graph.add('Transpose', [INPUT_NAME], 'image_nchw', { perm: [0, 3, 1, 2] }) : INPUT_NAME,
    shape: inputShape,
  };
  // graph output names are reserved first so internal values named after layers never take them
  const mainOutputs = options.head ? ['probabilities'] : model.outputs.map((t) => (t.sourceLayer as tf.layers.Layer).name);
  const extraOutputs = [...new Set(options.outputs ?? [])].filter((name) => !mainOutputs.includes(name));
  [...mainOutputs, ...extraOutputs].forEach((name) => graph.reserve(name));
  const converter = new LayersGraphConverter(graph);
  const modelOutputs = converter.convertModel(model, [input]);

  const outputs: OnnxValueInfo[] = [];
  if (options.head) {
    const { head } = options;
    const pooled = modelOutputs[0];
    if (pooled.shape.length !== 2 || pooled.shape[1] !== head.inputDim) {
      throw new ImgclsError(`the head expects ${head.inputDim} features, the backbone gives shape [${pooled.shape}]`, 'ONNX_EXPORT',
        undefined, 'Export the backbone the head was trained on.');
    }
    const kernel = graph.addFloat('head/kernel', head.kernel, [head.inputDim, head.numClasses]);
    const bias = graph.addFloat('head/bias', head.bias, [head.numClasses]);
    const logits = graph.add('Gemm', [pooled.name, kernel, bias], 'head/logits');
    graph.addNode('Softmax', [logits], 'probabilities', { axis: -1 }, ['probabilities']);
    outputs.push(valueInfo('probabilities', ['batch', head.numClasses], 'softmax over the class names in metadata imgcls.classNames'));
  } else {
    mainOutputs.forEach((name, i) => outputs.push(addGraphOutput(graph, modelOutputs[i], name)));
  }
  for (const layerName of extraOutputs) {
    const value = converter.layerOutputs.get(layerName);
    if (!value) {
      throw new ImgclsError(`layer "${layerName}" does not feed the model's output`, 'ONNX_EXPORT', undefined,
        'Name a layer of the model (model.layers.map(l => l.name)).');
    }
    outputs.push(addGraphOutput(graph, value, layerName));
  }
  graph.prune(outputs.map((o) => o.name));

  const metadata: Record<string, string> = {
    ...preprocessingMetadata(options.preprocessing ?? { ...DEFAULT_PREPROCESSING }, inputShape),
    'imgcls.outputs': JSON.stringify(outputs.map((o) => o.name)),
    ...(options.classNames ? { 'imgcls.classNames': JSON.stringify(options.classNames) } : {}),
    ...options.metadata,
  };
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'imgcls',
    producerVersion: String(ONNX_EXPORTER_VERSION),
    graph: {
      name: model.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [valueInfo(INPUT_NAME, boundaryDims(inputShape), inputShape.length === 4 ? 'NHWC' : undefined)],
      output: outputs,
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
}

/** Writes bytes with writeFileAtomic (readers see the old file or the complete new one); ONNX_EXPORT when it cannot. */
export async function writeFileAtomically(file: string, data: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, data);
  } catch (err) {
    throw new ImgclsError(`cannot write ${file}`, 'ONNX_EXPORT', file, 'Check that the folder exists and is writable.', { cause: err });
  }
}

/** Writes a TF.js functional LayersModel as an ONNX file (opset 13, NHWC input "image"), atomically. */
export async function exportOnnx(model: tf.LayersModel, file: string, options: OnnxExportOptions = {}): Promise<void> {
  await writeFileAtomically(file, encodeOnnxModel(buildOnnxModel(model, options)));
}

/**
 * Writes a trained classifier (backbone + dense head + softmax) as an ONNX file whose output
 * "probabilities" is [batch × classes]; class names and preprocessing travel in metadata_props.
 */
export async function exportClassifierOnnx(backbone: tf.LayersModel, head: DenseHead, file: string, options: ClassifierExportOptions = {}): Promise<void> {
  const { spec } = options;
  if (spec && spec.classNames.length !== head.numClasses) {
    throw new ImgclsError(`the spec names ${spec.classNames.length} classes, the head has ${head.numClasses}`, 'CLASS_COUNT_MISMATCH',
      undefined, 'Export the head and spec of the same checkpoint.');
  }
  const model = buildOnnxModel(backbone, {
    ...options,
    head,
    classNames: spec?.classNames,
    preprocessing: options.preprocessing ?? spec?.preprocessing,
    metadata: { ...(spec ? { 'imgcls.spec': JSON.stringify(spec) } : {}), ...options.metadata },
  });
  await writeFileAtomically(file, encodeOnnxModel(model));
}
