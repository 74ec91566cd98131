import type { OpenSetVerdict, Prediction } from '../model/types.js';

/** Anything with ranked predictions (predicted class first) and perhaps an open-set verdict. */
export interface SureableResult {
  predictions?: readonly Prediction[];
  verdict?: OpenSetVerdict;
}

/**
 * How sure the model is: the predicted (first-ranked) class's probability minus the highest other one.
 * Near 0 the model hesitates between two classes; negative when a decision threshold ranked a less probable
 * class first. With a single listed class the margin is its probability. NaN without predictions.
 */
export function predictionMargin(predictions: readonly Prediction[] | undefined): number {
  if (!predictions || predictions.length === 0) return Number.NaN;
  const [first, ...rest] = predictions;
  const runnerUp = rest.reduce((best, p) => Math.max(best, p.probability), 0);
  return first.probability - runnerUp;
}

/**
 * The results reordered so the ones most worth labelling come first: images the open-set verdict calls
 * unfamiliar (highest score first), then the rest by lowest margin; results without predictions (errors) go
 * last. Stable: equal keys keep their input order. Returns a new array.
 */
export function leastSureFirst<T extends SureableResult>(results: readonly T[]): T[] {
  const keyed = results.map((result, index) => ({
    result,
    index,
    failed: !result.predictions?.length,
    unfamiliar: result.verdict?.unfamiliar === true,
    score: result.verdict?.score ?? 0,
    margin: predictionMargin(result.predictions),
  }));
  keyed.sort((a, b) =>
    Number(a.failed) - Number(b.failed)
    || Number(b.unfamiliar) - Number(a.unfamiliar)
    || (a.unfamiliar && b.unfamiliar ? b.score - a.score : 0)
    || (a.failed ? 0 : a.margin - b.margin)
    || a.index - b.index);
  return keyed.map((k) => k.result);
}
