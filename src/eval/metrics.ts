import { usageError } from '../errors.js';

/** Precision, recall, F1 and support of one class. */
export interface ClassMetrics {
  className: string;
  precision: number;
  recall: number;
  f1: number;
  /** How many images of this class the data holds. */
  support: number;
}

/** An averaged row of the report (macro or weighted). */
export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Everything scikit-learn's classification_report prints, as plain data. */
export interface ClassificationMetrics {
  /** Share of images whose predicted class is their true class (0 when there are none). */
  accuracy: number;
  /** One row per class, in classNames order (every class, even one absent from the data). */
  perClass: ClassMetrics[];
  /** Unweighted mean over all classes. */
  macroAvg: AverageMetrics;
  /** Mean over all classes weighted by support. */
  weightedAvg: AverageMetrics;
  /** Total number of images. */
  support: number;
  /**
   * Zero-division notes: a ratio whose denominator is 0 is reported as 0, as scikit-learn's default
   * `zero_division="warn"` does; each such case is named here instead of printed as a warning.
   */
  notes: string[];
}

/**
 * The counts of a confusion matrix: row = actual class, column = predicted class (scikit-learn's
 * orientation), `numClasses × numClasses`.
 */
export function confusionMatrix(
  actual: readonly number[],
  predicted: readonly number[],
  numClasses: number,
): number[][] {
  if (!(Number.isInteger(numClasses) && numClasses > 0)) {
    throw usageError(`numClasses must be a positive integer. Received: ${numClasses}`);
  }
  if (actual.length !== predicted.length) {
    throw usageError(
      `actual and predicted must have the same length. Received: ${actual.length} and ${predicted.length}`,
    );
  }
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) {
    checkLabel(actual[i], numClasses, 'actual', i);
    checkLabel(predicted[i], numClasses, 'predicted', i);
    matrix[actual[i]][predicted[i]] += 1;
  }
  return matrix;
}

/**
 * Accuracy, per-class precision/recall/F1/support and their macro and weighted averages, computed
 * over every class of classNames (like `classification_report(y, p, labels=range(n))`).
 */
export function classificationMetrics(
  actual: readonly number[],
  predicted: readonly number[],
  classNames: readonly string[],
): ClassificationMetrics {
  return metricsFromConfusionMatrix(confusionMatrix(actual, predicted, classNames.length), classNames);
}

/** The same metrics as classificationMetrics, from an already counted confusion matrix. */
export function metricsFromConfusionMatrix(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
): ClassificationMetrics {
  const numClasses = classNames.length;
  if (matrix.length !== numClasses || matrix.some((row) => row.length !== numClasses)) {
    throw usageError(`the confusion matrix must be ${numClasses} × ${numClasses}, one row and column per class name.`);
  }
  const notes: string[] = [];
  const divide = (numerator: number, denominator: number, what: string): number => {
    if (denominator > 0) return numerator / denominator;
    notes.push(`${what} is ill-defined and set to 0.0`);
    return 0;
  };
  let total = 0;
  let correct = 0;
  const perClass: ClassMetrics[] = classNames.map((className, c) => {
    const truePositives = matrix[c][c];
    const support = sum(matrix[c]);
    const predictedCount = sum(matrix.map((row) => row[c]));
    total += support;
    correct += truePositives;
    const falsePositives = predictedCount - truePositives;
    const falseNegatives = support - truePositives;
    const precision = divide(truePositives, predictedCount, `precision of "${className}" (never predicted)`);
    const recall = divide(truePositives, support, `recall of "${className}" (absent from the data)`);
    // scikit-learn ≥ 1.3 computes F1 as 2·TP / (2·TP + FP + FN): 0/0 only when the class is neither
    // present nor predicted.
    const f1 = divide(
      2 * truePositives,
      2 * truePositives + falsePositives + falseNegatives,
      `F1 of "${className}" (neither present nor predicted)`,
    );
    return { className, precision, recall, f1, support };
  });
  const average = (weights: number[]): AverageMetrics => {
    const weightSum = sum(weights);
    const mean = (values: number[]): number =>
      weightSum > 0 ? sum(values.map((value, i) => value * weights[i])) / weightSum : 0;
    return {
      precision: mean(perClass.map((row) => row.precision)),
      recall: mean(perClass.map((row) => row.recall)),
      f1: mean(perClass.map((row) => row.f1)),
      support: total,
    };
  };
  return {
    accuracy: total > 0 ? correct / total : 0,
    perClass,
    macroAvg: average(perClass.map(() => 1)),
    weightedAvg: average(perClass.map((row) => row.support)),
    support: total,
    notes,
  };
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function checkLabel(label: number, numClasses: number, name: string, index: number): void {
  if (!(Number.isInteger(label) && label >= 0 && label < numClasses)) {
    throw usageError(`${name}[${index}] must be a class index in [0, ${numClasses - 1}]. Received: ${label}`);
  }
}
