import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.js';
import { ImgclsError } from '../errors.js';
import { splitBackbone, topKBoundary } from '../model/head.js';
import { loadPretrainedBackbone } from '../model/pretrained.js';
import { FEATURE_MAP_LAYER } from '../model/tfjs-engine.js';
import type { DenseHead } from '../model/types.js';
import type { NamedTensor } from './checkpoint.js';
import type { ResolvedTrainConfig } from './config.js';
import { initHead } from './head.js';
import { OPTIMIZER_PREFIX, optimizerStateFrom, type ModeRunner } from './head-runner.js';
import { applyOptimizer, createOptimizerState } from './optimizer.js';
import { randomStream } from './random.js';

/** Checkpoint weights of the trained top blocks are named 'top/<layer name>/<weight index>'. */
export const TOP_PREFIX = 'top/';

/** Images per forward pass when predicting through the top. */
const PREDICT_CHUNK = 32;

/** The pretrained backbone's layers after the top-k boundary, as a model from boundary activations to outputs. */
export interface TopModel {
  /** Maps [n, ...boundaryShape] to pooled [n, 1280] (or [featureMap, pooled] with featureMap). */
  model: tf.LayersModel;
  /** Name of the boundary layer (topKBoundary(k)). */
  boundary: string;
  /** Shape of one image's boundary activation (H, W, C). */
  boundaryShape: number[];
  /** Trainable weights by checkpoint name. */
  variables: Map<string, tf.LayerVariable>;
  dispose(): void;
}

/** The boundary name of 'full' mode: the whole network trains, from the preprocessed image. */
export const FULL_BOUNDARY = 'input';

/**
 * Builds the trainable part of the pretrained EfficientNet-B0: after the boundary of the last k
 * blocks, or the whole network for 'full' (ImageNet weights; the checkpoint's 'top/…' weights when
 * given). With featureMap, the model also outputs the 7×7×1280 map before pooling.
 */
export async function buildTopModel(
  k: number | 'full',
  options: { featureMap?: boolean; weights?: Record<string, NamedTensor>; file?: string; inputSize?: number } = {},
): Promise<TopModel> {
  await initBackend();
  const backbone = await loadPretrainedBackbone({ inputSize: options.inputSize ?? 224 });
  const boundary = k === 'full' ? FULL_BOUNDARY : topKBoundary(k);
  const source = options.featureMap
    ? tf.model({ inputs: backbone.inputs, outputs: [backbone.getLayer(FEATURE_MAP_LAYER).output as tf.SymbolicTensor, backbone.outputs[0]] })
    : backbone;
  const top = k === 'full' ? source : splitBackbone(source, boundary).top;
  // the layers a split re-applies count the top as an owner: dispose it before the backbone; a model
  // over the backbone's own nodes (full mode's feature-map view) frees the shared layers by itself
  const disposeAll = () => {
    top.dispose();
    if (k !== 'full' && top !== backbone) backbone.dispose();
  };
  const variables = new Map<string, tf.LayerVariable>();
  for (const layer of top.layers) {
    layer.trainableWeights.forEach((variable, index) => variables.set(`${TOP_PREFIX}${layer.name}/${index}`, variable));
  }
  if (options.weights) {
    for (const [name, variable] of variables) {
      const stored = options.weights[name];
      if (!stored || stored.shape.join('×') !== variable.shape.join('×')) {
        disposeAll();
        throw new ImgclsError(`checkpoint weight ${name} is ${stored ? `[${stored.shape}]` : 'missing'}, the model needs [${variable.shape}]`,
          'CHECKPOINT_INVALID', options.file, 'The file does not match its top-k setting; retrain or pass the right checkpoint.');
      }
      const value = tf.tensor(stored.data, stored.shape);
      variable.write(value);
      value.dispose();
    }
  }
  return {
    model: top,
    boundary,
    boundaryShape: (top.inputs[0].shape.slice(1) as number[]),
    variables,
    dispose: disposeAll,
  };
}

/**
 * Trains the last k blocks + top conv + dense head on cached boundary activations ('top-k'), or the
 * whole network on cached preprocessed images ('full'), on the TF.js backend (wasm gradients), with
 * the same optimizer rules and checkpoint layout as head mode.
 */
export async function createTopKRunner(
  config: ResolvedTrainConfig,
  options: { numClasses: number; classWeights: number[]; resumeFrom?: { head: DenseHead; weights: Record<string, NamedTensor>; steps: number } },
): Promise<ModeRunner> {
  const top = await buildTopModel(config.mode === 'full' ? 'full' : config.topK, { weights: options.resumeFrom?.weights, inputSize: config.preprocessing.inputSize });
  const featureDim = (top.model.outputs[0].shape as number[])[1];
  const initial = options.resumeFrom?.head ?? initHead(featureDim, options.numClasses, randomStream(config.seed, 0));
  const [kernel, bias] = tf.tidy(() => [
    tf.variable(tf.tensor2d(initial.kernel, [featureDim, options.numClasses]), true),
    tf.variable(tf.tensor1d(initial.bias), true),
  ]);

  // JS mirrors of every trainable value: the shared optimizer updates them, then they are written back
  const params: Record<string, Float32Array> = { 'head/kernel': initial.kernel.slice(), 'head/bias': initial.bias.slice() };
  const shapes: Record<string, number[]> = { 'head/kernel': [featureDim, options.numClasses], 'head/bias': [options.numClasses] };
  const variables: tf.Variable[] = [kernel, bias];
  const names = ['head/kernel', 'head/bias'];
  for (const [name, variable] of top.variables) {
    params[name] = variable.read().dataSync().slice() as Float32Array;
    shapes[name] = variable.shape as number[];
    variables.push(variable.read() as tf.Variable);
    names.push(name);
  }
  const state = options.resumeFrom ? optimizerStateFrom(options.resumeFrom.weights, options.resumeFrom.steps) : createOptimizerState();
  const settings = { name: config.optimizer, learningRate: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay };
  const perImage = top.boundaryShape.reduce((a, b) => a * b, 1);

  return {
    inputDim: perImage,
    async step(inputs, labels, random) {
      const count = labels.length;
      const mask = new Float32Array(count * featureDim);
      const keep = 1 / (1 - config.dropout);
      for (let i = 0; i < mask.length; i++) mask[i] = config.dropout > 0 && random() < config.dropout ? 0 : config.dropout > 0 ? keep : 1;
      let weightSum = 0;
      for (const label of labels) weightSum += options.classWeights[label];
      const sampleWeights = Float32Array.from(labels, (label) => options.classWeights[label] / weightSum);
      let logits: tf.Tensor | undefined;
      const { value, grads } = tf.tidy(() => {
        const x = tf.tensor(inputs, [count, ...top.boundaryShape]);
        const maskTensor = tf.tensor2d(mask, [count, featureDim]);
        const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), options.numClasses);
        const weights = tf.tensor1d(sampleWeights);
        return tf.variableGrads(() => {
          const features = top.model.apply(x, { training: true }) as tf.Tensor2D;
          const output = features.mul(maskTensor).matMul(kernel).add(bias);
          logits = tf.keep(output);
          return tf.logSoftmax(output).mul(oneHot).sum(1).mul(weights).sum().neg() as tf.Scalar;
        }, variables);
      });
      try {
        const gradArrays: Record<string, Float32Array> = {};
        variables.forEach((variable, i) => (gradArrays[names[i]] = grads[variable.name].dataSync() as Float32Array));
        applyOptimizer(settings, state, params, gradArrays);
        variables.forEach((variable, i) => {
          const value = tf.tensor(params[names[i]], shapes[names[i]]);
          variable.assign(value);
          value.dispose();
        });
        const argMax = logits!.argMax(1);
        const predicted = (await argMax.data()) as Int32Array;
        argMax.dispose();
        const correct = labels.filter((label, i) => predicted[i] === label).length;
        return { loss: (await value.data())[0], correct };
      } finally {
        tf.dispose([value, logits!, ...Object.values(grads)]);
      }
    },
    async predict(inputs, count) {
      const out = new Float32Array(count * options.numClasses);
      for (let start = 0; start < count; start += PREDICT_CHUNK) {
        const n = Math.min(PREDICT_CHUNK, count - start);
        const probabilities = tf.tidy(() => {
          const x = tf.tensor(inputs.subarray(start * perImage, (start + n) * perImage), [n, ...top.boundaryShape]);
          return tf.softmax((top.model.predict(x) as tf.Tensor2D).matMul(kernel).add(bias));
        });
        try {
          out.set((await probabilities.data()) as Float32Array, start * options.numClasses);
        } finally {
          probabilities.dispose();
        }
      }
      return out;
    },
    weights() {
      const weights: Record<string, NamedTensor> = {};
      for (const name of names) weights[name] = { shape: shapes[name], data: params[name].slice() };
      for (const [name, buffer] of Object.entries(state.buffers)) weights[`${OPTIMIZER_PREFIX}${name}`] = { shape: [buffer.length], data: buffer.slice() };
      return weights;
    },
    head() {
      return { kernel: params['head/kernel'].slice(), bias: params['head/bias'].slice(), inputDim: featureDim, numClasses: options.numClasses };
    },
    get optimizerSteps() {
      return state.steps;
    },
    dispose() {
      kernel.dispose();
      bias.dispose();
      top.dispose();
    },
  };
}

/** Runs boundary activations of `count` images through a top model built with featureMap: the pooled features and the feature map. */
export async function runTopModel(top: TopModel, boundaryValues: Float32Array, count: number): Promise<{ pooled: Float32Array; featureMap: Float32Array }> {
  const outputs = tf.tidy(() => top.model.predict(tf.tensor(boundaryValues, [count, ...top.boundaryShape])) as tf.Tensor[]);
  try {
    if (!Array.isArray(outputs) || outputs.length !== 2) throw new ImgclsError('the top model was built without its feature map output', 'INTERNAL');
    const [featureMap, pooled] = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
    return { pooled, featureMap };
  } finally {
    tf.dispose(outputs);
  }
}
