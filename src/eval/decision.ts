import { usageError } from '../errors.js';
import type { ModelSpec } from '../model/types.js';

/** Picks a class index from one image's probabilities. */
export type DecisionRule = (probabilities: ArrayLike<number>, offset?: number) => number;

/**
 * The decision rule of a checkpoint: without a threshold, the most probable class; with
 * `threshold = {className, value}`, that class whenever its probability ≥ value, otherwise the most
 * probable of the other classes. `offset` indexes a row of a row-major batch.
 */
export function createDecisionRule(classNames: readonly string[], threshold?: ModelSpec['threshold']): DecisionRule {
  const numClasses = classNames.length;
  if (!threshold) return (probabilities, offset = 0) => argmax(probabilities, offset, numClasses, -1);
  const chosen = classNames.indexOf(threshold.className);
  if (chosen < 0) {
    throw usageError(
      `the threshold's class "${threshold.className}" is not one of the classes: ${classNames.join(', ')}`,
      'Choose a class of the checkpoint with --class.',
    );
  }
  if (!(threshold.value >= 0 && threshold.value <= 1)) {
    throw usageError(`the threshold must be a probability in [0, 1]. Received: ${threshold.value}`);
  }
  return (probabilities, offset = 0) =>
    probabilities[offset + chosen] >= threshold.value ? chosen : argmax(probabilities, offset, numClasses, chosen);
}

/** The index (relative to offset) of the largest of numClasses values, skipping `excluded`; first wins ties. */
function argmax(values: ArrayLike<number>, offset: number, numClasses: number, excluded: number): number {
  let best = -1;
  for (let c = 0; c < numClasses; c++) {
    if (c === excluded) continue;
    if (best < 0 || values[offset + c] > values[offset + best]) best = c;
  }
  return best < 0 ? excluded : best;
}
