import type { DenseHead } from '../model/types.js';
import type { NamedTensor } from '../model/checkpoint.js';
import type { ResolvedTrainConfig } from './config.js';
import { headProbabilities, headStep, initHead } from '../model/dense-head.js';
import { applyOptimizer, createOptimizerState, type OptimizerState } from './optimizer.js';
import { randomStream } from '../util/random.js';

/** The trainable part of a mode, fed with cached backbone outputs (pooled features or boundary activations). */
export interface ModeRunner {
  /** Values per training sample. */
  readonly inputDim: number;
  /** One optimizer step on `labels.length` rows of inputs; returns the weighted loss and the correct count. */
  step(inputs: Float32Array, labels: number[], random: () => number): Promise<{ loss: number; correct: number }>;
  /** Softmax probabilities of `count` rows (dropout off). */
  predict(inputs: Float32Array, count: number): Promise<Float32Array>;
  /** Model weights and optimizer state for a checkpoint. */
  weights(): Record<string, NamedTensor>;
  /** The current dense head (a copy). */
  head(): DenseHead;
  readonly optimizerSteps: number;
  dispose(): void;
  /** Which engine trains ('js', 'tfjs', 'libtorch <version>'); set by createModeRunner. */
  engine?: string;
  /** Why 'auto' did not pick the fastest engine (a notice for the user). */
  engineNote?: string;
}

/** Optimizer state entries in a checkpoint are named 'optimizer/<param>/<buffer>'. */
export const OPTIMIZER_PREFIX = 'optimizer/';

/** Splits checkpoint weights into an optimizer state (the 'optimizer/…' entries). */
export function optimizerStateFrom(weights: Record<string, NamedTensor>, steps: number): OptimizerState {
  const state = createOptimizerState();
  state.steps = steps;
  for (const [name, tensor] of Object.entries(weights)) {
    if (name.startsWith(OPTIMIZER_PREFIX)) state.buffers[name.slice(OPTIMIZER_PREFIX.length)] = tensor.data.slice();
  }
  return state;
}

/** Trains the dense head alone, in plain JavaScript (fast for 1280 × classes, and bit-for-bit repeatable). */
export function createHeadRunner(
  config: ResolvedTrainConfig,
  options: { inputDim: number; numClasses: number; classWeights: number[]; resumeFrom?: { head: DenseHead; weights: Record<string, NamedTensor>; steps: number } },
): ModeRunner {
  const head = options.resumeFrom
    ? { ...options.resumeFrom.head, kernel: options.resumeFrom.head.kernel.slice(), bias: options.resumeFrom.head.bias.slice() }
    : initHead(options.inputDim, options.numClasses, randomStream(config.seed, 0));
  const state = options.resumeFrom ? optimizerStateFrom(options.resumeFrom.weights, options.resumeFrom.steps) : createOptimizerState();
  const settings = { name: config.optimizer, learningRate: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay };
  return {
    inputDim: options.inputDim,
    async step(inputs, labels, random) {
      const result = headStep(head, inputs, labels, { classWeights: options.classWeights, dropout: config.dropout, random });
      applyOptimizer(settings, state, { 'head/kernel': head.kernel, 'head/bias': head.bias }, { 'head/kernel': result.grads.kernel, 'head/bias': result.grads.bias });
      return { loss: result.loss, correct: result.correct };
    },
    async predict(inputs, count) {
      return headProbabilities(head, inputs, count);
    },
    weights() {
      const weights: Record<string, NamedTensor> = {
        'head/kernel': { shape: [head.inputDim, head.numClasses], data: head.kernel.slice() },
        'head/bias': { shape: [head.numClasses], data: head.bias.slice() },
      };
      for (const [name, buffer] of Object.entries(state.buffers)) weights[`${OPTIMIZER_PREFIX}${name}`] = { shape: [buffer.length], data: buffer.slice() };
      return weights;
    },
    head() {
      return { ...head, kernel: head.kernel.slice(), bias: head.bias.slice() };
    },
    get optimizerSteps() {
      return state.steps;
    },
    dispose() {},
  };
}
