import { usageError } from '../errors.js';
import { rankPredictions } from '../model/classifier.js';
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
  if (threshold) {
    if (!classNames.includes(threshold.className)) {
      throw usageError(
        `the threshold's class "${threshold.className}" is not one of the classes: ${classNames.join(', ')}`,
        'Choose a class of the checkpoint with --class.',
      );
    }
    if (!(threshold.value >= 0 && threshold.value <= 1)) {
      throw usageError(`the threshold must be a probability in [0, 1]. Received: ${threshold.value}`);
    }
  }
  const spec = { classNames: [...classNames], threshold };
  const indexOf = new Map(classNames.map((className, index) => [className, index]));
  // classify()'s own ranking picks the class, so evaluation and prediction cannot disagree
  return (probabilities, offset = 0) => {
    const row = Array.from({ length: numClasses }, (_, c) => probabilities[offset + c]);
    return indexOf.get(rankPredictions(row, spec, 1)[0].className)!;
  };
}
