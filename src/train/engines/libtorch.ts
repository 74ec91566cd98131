import type { DenseHead } from '../../model/types.js';
import type { NamedTensor } from '../../model/checkpoint.js';
import { initHead } from '../../model/dense-head.js';
import { buildTorchGraph, createTorchModel, readTorchWeights, torchError } from '../../model/libtorch/index.js';
import type { ResolvedTrainConfig } from '../config.js';
import { OPTIMIZER_PREFIX, type ModeRunner } from '../head-runner.js';
import { randomStream } from '../../util/random.js';

/** Images per forward pass when predicting. */
const PREDICT_CHUNK = 32;

/** Dropout mask of `count` rows, drawn from `random` exactly as the TF.js runner draws it (same seed, same mask). */
export function dropoutMask(count: number, featureDim: number, dropout: number, random: () => number): Float32Array {
  const mask = new Float32Array(count * featureDim);
  const keep = 1 / (1 - dropout);
  for (let i = 0; i < mask.length; i++) mask[i] = dropout > 0 && random() < dropout ? 0 : dropout > 0 ? keep : 1;
  return mask;
}

/**
 * Trains 'top-k' (on cached boundary activations) or 'full' (on cached preprocessed images) on libtorch
 * through the native addon: same weights by name, same optimizer rules and checkpoint layout as the TF.js
 * runner, so checkpoints and resume work across engines. Steps run off the JS thread.
 */
export async function createLibtorchRunner(
  config: ResolvedTrainConfig,
  options: { numClasses: number; classWeights: number[]; resumeFrom?: { head: DenseHead; weights: Record<string, NamedTensor>; steps: number }; file?: string },
): Promise<ModeRunner> {
  const graph = buildTorchGraph(config.mode === 'full' ? 'full' : config.topK, options.numClasses, config.preprocessing.inputSize);
  const featureDim = graph.params[graph.head.kernel].tfShape[0];
  const head = options.resumeFrom?.head ?? initHead(featureDim, options.numClasses, randomStream(config.seed, 0));
  const buffers: Record<string, Float32Array> = {};
  for (const [name, tensor] of Object.entries(options.resumeFrom?.weights ?? {})) {
    if (name.startsWith(OPTIMIZER_PREFIX)) buffers[name.slice(OPTIMIZER_PREFIX.length)] = tensor.data;
  }
  const model = await createTorchModel(graph, { weights: options.resumeFrom?.weights, head, buffers, file: options.file });
  let steps = options.resumeFrom?.steps ?? 0;
  model.setOptimizer({ name: config.optimizer, learningRate: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay, steps });
  const perImage = graph.inputShape.reduce((a, b) => a * b, 1);
  let snapshot: ReturnType<typeof readTorchWeights> | undefined;
  const read = () => (snapshot ??= readTorchWeights(graph, model));

  return {
    inputDim: perImage,
    async step(inputs, labels, random) {
      const count = labels.length;
      const mask = dropoutMask(count, featureDim, config.dropout, random);
      let weightSum = 0;
      for (const label of labels) weightSum += options.classWeights[label];
      const sampleWeights = Float32Array.from(labels, (label) => options.classWeights[label] / weightSum);
      snapshot = undefined;
      try {
        const result = await model.step(inputs, [count, ...graph.inputShape], Int32Array.from(labels), sampleWeights, mask);
        steps++;
        return { loss: result.loss, correct: result.correct };
      } catch (err) {
        throw torchError(err, 'training step');
      }
    },
    async predict(inputs, count) {
      const out = new Float32Array(count * options.numClasses);
      for (let start = 0; start < count; start += PREDICT_CHUNK) {
        const n = Math.min(PREDICT_CHUNK, count - start);
        try {
          out.set(await model.predict(inputs.subarray(start * perImage, (start + n) * perImage), [n, ...graph.inputShape]), start * options.numClasses);
        } catch (err) {
          throw torchError(err, 'forward pass');
        }
      }
      return out;
    },
    weights() {
      const { weights, buffers: state } = read();
      const out: Record<string, NamedTensor> = { ...weights };
      for (const [name, buffer] of Object.entries(state)) out[`${OPTIMIZER_PREFIX}${name}`] = { shape: [buffer.length], data: buffer.slice() };
      return out;
    },
    head() {
      const { weights } = read();
      return { kernel: weights['head/kernel'].data.slice(), bias: weights['head/bias'].data.slice(), inputDim: featureDim, numClasses: options.numClasses };
    },
    get optimizerSteps() {
      return steps;
    },
    dispose() {},
  };
}
