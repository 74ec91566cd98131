import { ImgclsError, usageError } from '../errors.js';
import { streamBatches } from '../data/stream.js';
import type { Dataset, ImageItem, SkippedFile } from '../data/types.js';
import type { Classifier, ModelSpec } from '../model/types.js';
import { oneVsRestCurves, thresholdForRecall, type ClassCurves, type ThresholdChoice } from './curves.js';
import { createDecisionRule } from './decision.js';
import { metricsFromConfusionMatrix, confusionMatrix, type ClassificationMetrics } from './metrics.js';
import { formatClassificationReport } from './report-text.js';
import { crossEntropy, type ImageResult } from './top-losses.js';

/** Everything an evaluation found, as plain data (JSON-serialisable except ROC's first threshold, Infinity). */
export interface Evaluation {
  classNames: string[];
  metrics: ClassificationMetrics;
  /** Row = actual class, column = predicted class. */
  confusionMatrix: number[][];
  /** The metrics in scikit-learn's classification_report layout. */
  report: string;
  /** One-vs-rest precision–recall and ROC curves of every class (for two classes, one per class). */
  curves: ClassCurves[];
  /** One entry per classified image, in input order. */
  images: ImageResult[];
  /** Files that could not be read, with the reason. */
  skipped: SkippedFile[];
  /** The decision threshold applied to the predictions, if any. */
  threshold?: ModelSpec['threshold'];
}

/** Which images of a Dataset evaluate() looks at. */
export type EvaluationSplit = 'valid' | 'train' | 'all';

/** Progress of an evaluation. */
export interface EvaluateProgress {
  /** Images looked at so far (classified or skipped). */
  done: number;
  total: number;
}

/** Options of evaluate. */
export interface EvaluateOptions {
  /** With a Dataset: which split to evaluate ('all' = train + valid, e.g. a held-out test folder). Default 'valid'. */
  split?: EvaluationSplit;
  /** Images per batch. Default 16 (peak RSS grows with it: about 0.5 GB at 8, 0.7 at 16, 1.1 at 32 with ONNX Runtime). */
  batchSize?: number;
  /** Images decoded at the same time. Default 4. */
  concurrency?: number;
  /**
   * Decision threshold to apply: default the checkpoint's (classifier.spec.threshold); null for
   * plain argmax.
   */
  threshold?: ModelSpec['threshold'] | null;
  onProgress?: (progress: EvaluateProgress) => void;
  signal?: AbortSignal;
}

/**
 * Classifies every image of a dataset split (or a list of labelled items, labels indexing the
 * classifier's classNames) and returns metrics, confusion matrix, curves, per-image results and skipped files.
 */
export async function evaluate(
  classifier: Classifier,
  data: Dataset | readonly ImageItem[],
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const classNames = classifier.spec.classNames;
  const items = itemsToEvaluate(classNames, data, options.split ?? 'valid');
  const batchSize = options.batchSize ?? 16;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw usageError(`batchSize must be a positive integer. Received: ${batchSize}`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  const skipped: SkippedFile[] = [];
  const probabilities = new Float32Array(items.length * classNames.length);
  let done = 0;
  for await (const batch of streamBatches(items, {
    batchSize,
    concurrency: options.concurrency,
    preprocessing: classifier.spec.preprocessing,
    signal: options.signal,
  })) {
    skipped.push(...batch.skipped);
    if (batch.count > 0) {
      const batchProbabilities = await classifier.predictBatch(batch);
      probabilities.set(batchProbabilities.subarray(0, batch.count * classNames.length), files.length * classNames.length);
      files.push(...batch.files);
      labels.push(...batch.labels);
    }
    done += batch.count + batch.skipped.length;
    options.onProgress?.({ done, total: items.length });
  }
  const threshold = options.threshold === undefined ? classifier.spec.threshold : options.threshold ?? undefined;
  return evaluationFromProbabilities({
    classNames,
    files,
    labels,
    probabilities: probabilities.subarray(0, files.length * classNames.length),
    skipped,
    threshold,
  });
}

/** The inputs of evaluationFromProbabilities: what a classifier produced for labelled files. */
export interface ClassifiedImages {
  classNames: readonly string[];
  files: readonly string[];
  /** True class index of each file. */
  labels: readonly number[];
  /** Row-major softmax probabilities [files.length × classNames.length]. */
  probabilities: ArrayLike<number>;
  skipped?: readonly SkippedFile[];
  threshold?: ModelSpec['threshold'];
}

/** The Evaluation of already computed probabilities (the pure half of evaluate). */
export function evaluationFromProbabilities(input: ClassifiedImages): Evaluation {
  const { classNames, files, labels, probabilities, threshold } = input;
  const numClasses = classNames.length;
  if (files.length === 0) {
    throw new ImgclsError(
      `no image could be evaluated (${input.skipped?.length ?? 0} unreadable)`,
      'NO_IMAGES',
      input.skipped?.[0]?.file,
      'Check the data folder: it needs readable images in one folder per class.',
    );
  }
  if (labels.length !== files.length || probabilities.length !== files.length * numClasses) {
    throw usageError(
      `need one label and ${numClasses} probabilities per file. Received: ${files.length} files, ${labels.length} labels, ${probabilities.length} probabilities`,
    );
  }
  const decide = createDecisionRule(classNames, threshold);
  const predicted = files.map((_, i) => decide(probabilities, i * numClasses));
  const images: ImageResult[] = files.map((file, i) => {
    const row = Array.from({ length: numClasses }, (_, c) => probabilities[i * numClasses + c]);
    return {
      file,
      actual: labels[i],
      actualClass: classNames[labels[i]],
      predicted: predicted[i],
      predictedClass: classNames[predicted[i]],
      probability: row[predicted[i]],
      actualProbability: row[labels[i]],
      loss: crossEntropy(row[labels[i]]),
      probabilities: row,
    };
  });
  const matrix = confusionMatrix(labels, predicted, numClasses);
  const metrics = metricsFromConfusionMatrix(matrix, classNames);
  return {
    classNames: [...classNames],
    metrics,
    confusionMatrix: matrix,
    report: formatClassificationReport(metrics),
    curves: oneVsRestCurves(probabilities, labels, classNames),
    images,
    skipped: [...(input.skipped ?? [])],
    ...(threshold ? { threshold } : {}),
  };
}

/**
 * The threshold on className's probability that reaches targetRecall on this evaluation, and the
 * precision it costs (store it with updateCheckpointSpec(path, { threshold }) to make prediction use it).
 */
export function chooseThreshold(evaluation: Evaluation, className: string, targetRecall: number): ThresholdChoice {
  const curves = evaluation.curves.find((c) => c.className === className);
  if (!curves) {
    throw usageError(
      `unknown class "${className}". Classes: ${evaluation.classNames.join(', ')}`,
      'Pass one of the checkpoint\'s class names with --class.',
    );
  }
  if (!curves.precisionRecall) {
    throw new ImgclsError(
      `the evaluation data has no image of class "${className}", so no threshold can reach a recall`,
      'NO_IMAGES',
      undefined,
      'Evaluate on data that holds images of this class.',
    );
  }
  return thresholdForRecall(curves.precisionRecall, targetRecall);
}

/** The items to evaluate, their labels mapped to the classifier's class order by class name. */
function itemsToEvaluate(
  classNames: readonly string[],
  data: Dataset | readonly ImageItem[],
  split: EvaluationSplit,
): ImageItem[] {
  if (Array.isArray(data)) {
    const items = data as readonly ImageItem[];
    items.forEach((item, i) => {
      if (!(Number.isInteger(item.label) && item.label >= 0 && item.label < classNames.length)) {
        throw usageError(`items[${i}].label must index the classifier's ${classNames.length} classes. Received: ${item.label}`);
      }
    });
    return [...items];
  }
  const dataset = data as Dataset;
  if (!['valid', 'train', 'all'].includes(split)) throw usageError(`split must be 'valid', 'train' or 'all'. Received: ${split}`);
  const unknown = dataset.classNames.filter((name) => !classNames.includes(name));
  if (unknown.length > 0) {
    throw new ImgclsError(
      `the data has classes the checkpoint does not know: ${unknown.join(', ')} (checkpoint: ${classNames.join(', ')})`,
      'CLASS_COUNT_MISMATCH',
      dataset.root,
      'Evaluate with the checkpoint trained on this dataset, or remove the extra class folders.',
    );
  }
  const toClassifier = dataset.classNames.map((name) => classNames.indexOf(name));
  const chosen = split === 'valid' ? dataset.valid : split === 'train' ? dataset.train : [...dataset.train, ...dataset.valid];
  return chosen.map((item) => ({ file: item.file, label: toClassifier[item.label] }));
}
