import { usageError } from '../errors.js';

/**
 * Precision and recall of "predict positive when score ≥ threshold", one point per distinct score
 * (tied scores form one point), thresholds descending so recall rises along the arrays.
 */
export interface PrecisionRecallCurve {
  thresholds: number[];
  precision: number[];
  recall: number[];
  truePositives: number[];
  falsePositives: number[];
  /** Number of positive examples. */
  positives: number;
  /** Number of negative examples. */
  negatives: number;
  /** Σ (Rₖ − Rₖ₋₁)·Pₖ over the points (scikit-learn's average_precision_score). */
  averagePrecision: number;
}

/**
 * False- and true-positive rates of "predict positive when score ≥ threshold", one point per
 * distinct score, preceded by the (0, 0) point whose threshold is Infinity (scikit-learn ≥ 1.3);
 * no intermediate points are dropped.
 */
export interface RocCurve {
  thresholds: number[];
  falsePositiveRate: number[];
  truePositiveRate: number[];
  positives: number;
  negatives: number;
}

/** The curves of one class against all others. */
export interface ClassCurves {
  className: string;
  /** Undefined when the class is absent from the data (no positive example). */
  precisionRecall?: PrecisionRecallCurve;
  /** Undefined when the data holds only this class or none of it. */
  roc?: RocCurve;
  /** Area under the ROC curve (undefined with roc). */
  rocAuc?: number;
}

/** The operating point chosen for a target recall. */
export interface ThresholdChoice {
  /** Predict the class when its probability ≥ threshold. */
  threshold: number;
  /** Recall reached at that threshold (≥ the target). */
  recall: number;
  /** Precision at that threshold: what the target recall costs. */
  precision: number;
  truePositives: number;
  falsePositives: number;
  targetRecall: number;
}

interface BinaryCounts {
  thresholds: number[];
  truePositives: number[];
  falsePositives: number[];
  positives: number;
  negatives: number;
}

/** The precision–recall curve of scores against positives (true = positive example). */
export function precisionRecallCurve(
  scores: ArrayLike<number>,
  positives: ArrayLike<boolean>,
): PrecisionRecallCurve {
  const counts = countByThreshold(scores, positives);
  if (counts.positives === 0) {
    throw usageError('a precision–recall curve needs at least one positive example. Received: none');
  }
  const precision = counts.truePositives.map((tp, i) => tp / (tp + counts.falsePositives[i]));
  const recall = counts.truePositives.map((tp) => tp / counts.positives);
  let averagePrecision = 0;
  let previousRecall = 0;
  recall.forEach((r, i) => {
    averagePrecision += (r - previousRecall) * precision[i];
    previousRecall = r;
  });
  return { ...counts, precision, recall, averagePrecision };
}

/** The ROC curve of scores against positives (true = positive example). */
export function rocCurve(scores: ArrayLike<number>, positives: ArrayLike<boolean>): RocCurve {
  const counts = countByThreshold(scores, positives);
  if (counts.positives === 0 || counts.negatives === 0) {
    throw usageError(
      `a ROC curve needs positive and negative examples. Received: ${counts.positives} positive, ${counts.negatives} negative`,
    );
  }
  return {
    thresholds: [Number.POSITIVE_INFINITY, ...counts.thresholds],
    falsePositiveRate: [0, ...counts.falsePositives.map((fp) => fp / counts.negatives)],
    truePositiveRate: [0, ...counts.truePositives.map((tp) => tp / counts.positives)],
    positives: counts.positives,
    negatives: counts.negatives,
  };
}

/** The area under a curve by the trapezoidal rule; x must be monotonic (either direction). */
export function auc(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length || x.length < 2) {
    throw usageError(`auc needs x and y of the same length ≥ 2. Received: ${x.length} and ${y.length}`);
  }
  let direction = 0;
  let area = 0;
  for (let i = 1; i < x.length; i++) {
    const dx = x[i] - x[i - 1];
    if (dx !== 0) {
      const sign = Math.sign(dx);
      if (direction !== 0 && sign !== direction) {
        throw usageError(`x must be monotonic increasing or decreasing. Received a turn at index ${i}`);
      }
      direction = sign;
    }
    area += (dx * (y[i] + y[i - 1])) / 2;
  }
  return direction < 0 ? -area : area;
}

/**
 * The operating point reaching recall ≥ targetRecall with the best precision (ties: the higher
 * threshold), and the precision it costs.
 */
export function thresholdForRecall(curve: PrecisionRecallCurve, targetRecall: number): ThresholdChoice {
  if (!(targetRecall > 0 && targetRecall <= 1)) {
    throw usageError(`targetRecall must be in (0, 1]. Received: ${targetRecall}`);
  }
  let best = -1;
  curve.recall.forEach((recall, i) => {
    // A tiny tolerance so that e.g. 19/20 reaches a target of 0.95.
    if (recall + 1e-12 >= targetRecall && (best < 0 || curve.precision[i] > curve.precision[best])) best = i;
  });
  if (best < 0) throw usageError(`no threshold reaches recall ${targetRecall}`);
  return {
    threshold: curve.thresholds[best],
    recall: curve.recall[best],
    precision: curve.precision[best],
    truePositives: curve.truePositives[best],
    falsePositives: curve.falsePositives[best],
    targetRecall,
  };
}

/**
 * One-vs-rest curves of every class from row-major softmax probabilities [labels.length × numClasses]:
 * class c's score is its probability, its positives the images labelled c.
 */
export function oneVsRestCurves(
  probabilities: ArrayLike<number>,
  labels: readonly number[],
  classNames: readonly string[],
): ClassCurves[] {
  const numClasses = classNames.length;
  if (probabilities.length !== labels.length * numClasses) {
    throw usageError(
      `probabilities must hold ${labels.length} × ${numClasses} values. Received: ${probabilities.length}`,
    );
  }
  return classNames.map((className, c) => {
    const scores = labels.map((_, i) => probabilities[i * numClasses + c]);
    const positives = labels.map((label) => label === c);
    const positiveCount = positives.filter(Boolean).length;
    const curves: ClassCurves = { className };
    if (positiveCount > 0) curves.precisionRecall = precisionRecallCurve(scores, positives);
    if (positiveCount > 0 && positiveCount < labels.length) {
      curves.roc = rocCurve(scores, positives);
      curves.rocAuc = auc(curves.roc.falsePositiveRate, curves.roc.truePositiveRate);
    }
    return curves;
  });
}

/** Cumulative true/false positives at each distinct score, scores descending. */
function countByThreshold(scores: ArrayLike<number>, positives: ArrayLike<boolean>): BinaryCounts {
  if (scores.length !== positives.length) {
    throw usageError(
      `scores and positives must have the same length. Received: ${scores.length} and ${positives.length}`,
    );
  }
  const order = Array.from({ length: scores.length }, (_, i) => i);
  for (const i of order) {
    if (!Number.isFinite(scores[i])) throw usageError(`scores[${i}] must be a finite number. Received: ${scores[i]}`);
  }
  order.sort((a, b) => scores[b] - scores[a]);
  const thresholds: number[] = [];
  const truePositives: number[] = [];
  const falsePositives: number[] = [];
  let tp = 0;
  let fp = 0;
  order.forEach((index, k) => {
    if (positives[index]) tp++;
    else fp++;
    // one point per distinct score: emit only after the last of a run of ties
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[index]) {
      thresholds.push(scores[index]);
      truePositives.push(tp);
      falsePositives.push(fp);
    }
  });
  return { thresholds, truePositives, falsePositives, positives: tp, negatives: fp };
}
