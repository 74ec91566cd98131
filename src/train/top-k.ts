import * as tf from '@tensorflow/tfjs';
import { buildTopModel, FULL_BOUNDARY } from '../model/top-model.js';
import type { DenseHead } from '../model/types.js';
import type { ResolvedTrainConfig } from './config.js';
import { initHead } from '../model/dense-head.js';
import { OPTIMIZER_PREFIX, optimizerStateFrom, type ModeRunner } from './head-runner.js';
import { applyOptimizer, createOptimizerState } from './optimizer.js';
import { randomStream } from '../util/random.js';
import type { NamedTensor } from '../model/checkpoint.js';

/** Images per forward pass when predicting through the top. */
const PREDICT_CHUNK = 32;

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
