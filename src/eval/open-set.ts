import { ImgclsError } from '../errors.js';
import { streamBatches } from '../data/stream.js';
import type { ImageItem, SkippedFile } from '../data/types.js';
import { rankPredictions } from '../model/classifier.js';
import { auroc, falsePositiveRateAt } from '../model/open-set.js';
import type { Classifier, OpenSetVerdict } from '../model/types.js';

/** How well the open-set verdict separates images of no class from the evaluated images. */
export interface OpenSetEvaluation {
  /** In-distribution images scored (the evaluated split) and open-set images scored. */
  inCount: number;
  outCount: number;
  /** Area under the ROC curve of the score telling open-set images (positives) from the evaluated ones. */
  auroc: number;
  /** Share of open-set images that pass at the threshold keeping 95% of the evaluated images. */
  fprAt95Tpr: number;
  /** The checkpoint's stored threshold, and the share of each side flagged by it. */
  threshold: number;
  inFlagged: number;
  outFlagged: number;
  /** Share of the evaluated images at distance 0 from a training image (copies of training images: the figures are then optimistic). */
  inCopies: number;
  /** Share of open-set images called each class on probability alone. */
  calledBefore: Record<string, number>;
  /** Share called each class with the verdict (an unfamiliar image is called 'unknown'). */
  calledAfter: Record<string, number>;
  /** Each open-set image's class, probability and verdict. */
  images: { file: string; predicted: string; probability: number; verdict: OpenSetVerdict }[];
  skipped: SkippedFile[];
}

async function verdictsOf(classifier: Classifier, files: readonly (string | ImageItem)[], batchSize: number, signal?: AbortSignal) {
  const rows: OpenSetEvaluation['images'] = [];
  const skipped: SkippedFile[] = [];
  const numClasses = classifier.spec.classNames.length;
  for await (const batch of streamBatches(files, { batchSize, preprocessing: classifier.spec.preprocessing, signal })) {
    skipped.push(...batch.skipped);
    if (batch.count === 0) continue;
    const { probabilities, verdicts } = await classifier.predictBatchWithVerdict!(batch);
    batch.files.forEach((file, i) => {
      const top = rankPredictions(probabilities.subarray(i * numClasses, (i + 1) * numClasses), classifier.spec, 1)[0];
      rows.push({ file, predicted: top.className, probability: top.probability, verdict: verdicts![i] });
    });
  }
  return { rows, skipped };
}

/**
 * Scores the evaluated images (in-distribution) and the images of `openSetFiles` (which belong to no
 * class): AUROC of the open-set score, FPR at 95% TPR, and the share of open-set images called each
 * class before and after the verdict. Throws OPEN_SET_MISSING when the checkpoint has no open-set data.
 */
export async function evaluateOpenSet(
  classifier: Classifier,
  inDistribution: readonly (string | ImageItem)[],
  openSetFiles: readonly string[],
  options: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<OpenSetEvaluation> {
  if (!classifier.openSet || !classifier.predictBatchWithVerdict) {
    throw new ImgclsError('this checkpoint carries no open-set data, so --open-set cannot be measured', 'OPEN_SET_MISSING', undefined,
      'Add it with "imgcls calibrate <checkpoint> <dataset>" (the dataset it was trained on).');
  }
  const batchSize = options.batchSize ?? 16;
  const inside = await verdictsOf(classifier, inDistribution, batchSize, options.signal);
  const outside = await verdictsOf(classifier, openSetFiles, batchSize, options.signal);
  if (outside.rows.length === 0) throw new ImgclsError('no open-set image could be read', 'NO_IMAGES', undefined, 'Pass a folder of images that belong to none of the classes.');
  const inScores = inside.rows.map((row) => row.verdict.score);
  const outScores = outside.rows.map((row) => row.verdict.score);
  const share = (pick: (row: OpenSetEvaluation['images'][number]) => string) => {
    const counts: Record<string, number> = Object.fromEntries(classifier.spec.classNames.map((name) => [name, 0]));
    for (const row of outside.rows) counts[pick(row)] = (counts[pick(row)] ?? 0) + 1 / outside.rows.length;
    return counts;
  };
  return {
    inCount: inScores.length,
    outCount: outScores.length,
    auroc: auroc(inScores, outScores),
    fprAt95Tpr: falsePositiveRateAt(inScores, outScores),
    threshold: classifier.openSet.threshold,
    inFlagged: inside.rows.filter((row) => row.verdict.unfamiliar).length / Math.max(inside.rows.length, 1),
    inCopies: inScores.filter((score) => score < 1e-4).length / Math.max(inScores.length, 1),
    outFlagged: outside.rows.filter((row) => row.verdict.unfamiliar).length / outside.rows.length,
    calledBefore: share((row) => row.predicted),
    calledAfter: { ...share((row) => (row.verdict.unfamiliar ? 'unknown' : row.predicted)), unknown: outside.rows.filter((row) => row.verdict.unfamiliar).length / outside.rows.length },
    images: outside.rows,
    skipped: [...inside.skipped, ...outside.skipped],
  };
}
