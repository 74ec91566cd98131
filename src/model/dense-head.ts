import type { DenseHead } from './types.js';

/** A new dense head with PyTorch nn.Linear's initialisation: kernel and bias uniform in ±1/√inputDim, seeded. */
export function initHead(inputDim: number, numClasses: number, random: () => number): DenseHead {
  const bound = 1 / Math.sqrt(inputDim);
  const kernel = new Float32Array(inputDim * numClasses);
  for (let i = 0; i < kernel.length; i++) kernel[i] = (random() * 2 - 1) * bound;
  const bias = new Float32Array(numClasses);
  for (let i = 0; i < numClasses; i++) bias[i] = (random() * 2 - 1) * bound;
  return { kernel, bias, inputDim, numClasses };
}

/** Row-wise softmax probabilities of `count` feature rows through the head ([count × numClasses]). */
export function headProbabilities(head: DenseHead, features: Float32Array, count: number): Float32Array {
  const { inputDim, numClasses, kernel, bias } = head;
  const out = new Float32Array(count * numClasses);
  const logits = new Float64Array(numClasses);
  for (let row = 0; row < count; row++) {
    logits.set(bias);
    const offset = row * inputDim;
    for (let d = 0; d < inputDim; d++) {
      const x = features[offset + d];
      if (x === 0) continue;
      const k = d * numClasses;
      for (let c = 0; c < numClasses; c++) logits[c] += x * kernel[k + c];
    }
    softmaxInto(logits, out, row * numClasses);
  }
  return out;
}

/** Numerically stable softmax of `logits` written at out[offset…]. */
function softmaxInto(logits: Float64Array, out: Float32Array, offset: number): void {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (let c = 0; c < logits.length; c++) sum += Math.exp(logits[c] - max);
  for (let c = 0; c < logits.length; c++) out[offset + c] = Math.exp(logits[c] - max) / sum;
}

/** Loss, correct count and gradients of one batch through the head. */
export interface HeadStepResult {
  /** Weighted mean cross-entropy (PyTorch CrossEntropyLoss with `weight`). */
  loss: number;
  correct: number;
  grads: { kernel: Float32Array; bias: Float32Array };
}

/**
 * Forward and backward pass of a batch through dropout + the head: inputs are `count` rows of
 * `head.inputDim` features, `classWeights` (one per class) weigh each sample's loss.
 */
export function headStep(
  head: DenseHead,
  features: Float32Array,
  labels: readonly number[],
  options: { classWeights: readonly number[]; dropout: number; random: () => number },
): HeadStepResult {
  const { inputDim, numClasses, kernel, bias } = head;
  const count = labels.length;
  const { dropout, random, classWeights } = options;
  const keepScale = dropout > 0 ? 1 / (1 - dropout) : 1;
  const inputs = new Float32Array(count * inputDim);
  for (let i = 0; i < inputs.length; i++) inputs[i] = dropout > 0 ? (random() < dropout ? 0 : features[i] * keepScale) : features[i];

  const gradKernel = new Float32Array(kernel.length);
  const gradBias = new Float32Array(numClasses);
  const probabilities = new Float32Array(numClasses);
  const logits = new Float64Array(numClasses);
  let weightSum = 0;
  for (const label of labels) weightSum += classWeights[label];
  let loss = 0;
  let correct = 0;
  for (let row = 0; row < count; row++) {
    const label = labels[row];
    const offset = row * inputDim;
    logits.set(bias);
    for (let d = 0; d < inputDim; d++) {
      const x = inputs[offset + d];
      if (x === 0) continue;
      for (let c = 0; c < numClasses; c++) logits[c] += x * kernel[d * numClasses + c];
    }
    softmaxInto(logits, probabilities, 0);
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probabilities[c] > probabilities[best]) best = c;
    if (best === label) correct++;
    const weight = classWeights[label] / weightSum;
    loss -= weight * Math.log(Math.max(probabilities[label], 1e-30));
    for (let c = 0; c < numClasses; c++) {
      const delta = weight * (probabilities[c] - (c === label ? 1 : 0));
      gradBias[c] += delta;
      if (delta === 0) continue;
      for (let d = 0; d < inputDim; d++) gradKernel[d * numClasses + c] += inputs[offset + d] * delta;
    }
  }
  return { loss, correct, grads: { kernel: gradKernel, bias: gradBias } };
}

/** 'balanced' class weights n / (numClasses × n_class) from training labels (1 for every class when 'none'). */
export function computeClassWeights(labels: readonly number[], numClasses: number, rule: 'balanced' | 'none'): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label]++;
  if (rule === 'none') return counts.map(() => 1);
  return counts.map((n) => (n === 0 ? 0 : labels.length / (numClasses * n)));
}
