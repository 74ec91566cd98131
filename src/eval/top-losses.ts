import { usageError } from '../errors.js';

/** What evaluation keeps about one image. */
export interface ImageResult {
  file: string;
  /** Index of the true class. */
  actual: number;
  actualClass: string;
  /** Index of the predicted class (after the checkpoint's threshold, if any). */
  predicted: number;
  predictedClass: string;
  /** Probability of the predicted class. */
  probability: number;
  /** Probability of the true class. */
  actualProbability: number;
  /** Cross-entropy loss −ln p(true class), the "top losses" sort key. */
  loss: number;
  /** Softmax probabilities in classNames order. */
  probabilities: number[];
}

/** Options of topLosses. */
export interface TopLossesOptions {
  /** How many to return. Default: all. */
  k?: number;
  /** Keep only misclassified images. Default true. */
  misclassifiedOnly?: boolean;
}

/** The images with the highest loss first (misclassified only by default): where the model is most wrong. */
export function topLosses(images: readonly ImageResult[], options: TopLossesOptions = {}): ImageResult[] {
  const { k = Number.POSITIVE_INFINITY, misclassifiedOnly = true } = options;
  if (!(k === Number.POSITIVE_INFINITY || (Number.isInteger(k) && k >= 0))) {
    throw usageError(`k must be a non-negative integer. Received: ${k}`);
  }
  return images
    .filter((image) => !misclassifiedOnly || image.predicted !== image.actual)
    .sort((a, b) => b.loss - a.loss || a.file.localeCompare(b.file))
    .slice(0, k);
}

/** The cross-entropy loss of a probability, clamped so a 0 gives a large finite loss (like PyTorch's log clamp). */
export function crossEntropy(probability: number): number {
  return -Math.log(Math.max(probability, 1e-12));
}
