import { ImgclsError, usageError } from '../errors.js';
import { streamBatches } from '../data/stream.js';
import { IMAGE_EXTENSIONS } from '../data/scan.js';
import type { Classifier, OpenSetVerdict, Prediction } from '../model/types.js';
import type { ImageBatch } from '../data/types.js';
import { rankPredictions } from '../model/classifier.js';
import { expandInputs } from './inputs.js';
import { lookAhead } from '../util/limit.js';

/** The classification of one file: softmax probabilities, never logits. */
export interface FilePrediction {
  file: string;
  /** The predicted class (after the checkpoint's decision threshold, if it has one). */
  predicted: string;
  /** Probability of the predicted class. */
  probability: number;
  /** Every class (or the topK) with its probability, the predicted class first. */
  probabilities: Prediction[];
  /** Whether the image is unlike the training data (when the checkpoint carries open-set data and the verdict was not turned off). */
  openSet?: OpenSetVerdict;
}

/** A file that could not be classified, and why. */
export interface FileError {
  file: string;
  error: string;
}

/** One row of predict's output. */
export type PredictResult = FilePrediction | FileError;

/** Progress of a prediction run. */
export interface PredictProgress {
  /** Files handled so far (classified or failed). */
  done: number;
  total: number;
}

/** Options of predict. */
export interface PredictOptions {
  /** Images per forward pass. Default 16 (peak RSS grows with it: about 0.5 GB at 8, 0.7 at 16, 1.1 at 32 with ONNX Runtime). */
  batchSize?: number;
  /** Images decoded at the same time. Default 4. */
  concurrency?: number;
  /** Batches decoded ahead of the one being classified. Default 2. */
  prefetch?: number;
  /** How many classes each result lists. Default: all. */
  topK?: number;
  /**
   * Give each result the open-set verdict (openSet). Default: when the checkpoint carries open-set
   * data; true with a checkpoint that has none throws OPEN_SET_MISSING; false skips it.
   */
  verdict?: boolean;
  /** Nearest training images listed per verdict. Default 1. */
  nearest?: number;
  onProgress?: (progress: PredictProgress) => void;
  signal?: AbortSignal;
}

/** True when the result is an error entry. */
export function isFileError(result: PredictResult): result is FileError {
  return 'error' in result;
}

/**
 * Classifies a file, files, folders (recursively) or globs, streaming: yields one result per file in
 * input order, batch by batch, so memory stays bounded however many files there are. An unreadable
 * file yields `{file, error}` and the rest goes on. Throws NO_IMAGES when the inputs name no file.
 */
export async function* predict(
  classifier: Classifier,
  inputs: string | readonly string[],
  options: PredictOptions = {},
): AsyncGenerator<PredictResult> {
  const batchSize = options.batchSize ?? 16;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw usageError(`batchSize must be a positive integer. Received: ${batchSize}`);
  const { spec } = classifier;
  const numClasses = spec.classNames.length;
  const topK = options.topK ?? numClasses;
  if (!(Number.isInteger(topK) && topK >= 1)) throw usageError(`topK must be a positive integer. Received: ${topK}`);
  const withVerdict = options.verdict ?? classifier.openSet !== undefined;
  if (withVerdict && (!classifier.openSet || !classifier.predictBatchWithVerdict)) throw openSetMissing(classifier);
  const files = await expandInputs(inputs);
  if (files.length === 0) {
    throw new ImgclsError(
      `no image files found in ${typeof inputs === 'string' ? inputs : inputs.join(', ')}`,
      'NO_IMAGES',
      undefined,
      `Pass image files, a folder or a glob; image extensions are ${IMAGE_EXTENSIONS.join(' ')}.`,
    );
  }
  const classifyBatch = async (batch: ImageBatch): Promise<{ batch: ImageBatch; probabilities: Float32Array; verdicts?: OpenSetVerdict[] }> => {
    if (batch.count === 0) return { batch, probabilities: new Float32Array(0) };
    if (withVerdict) return { batch, ...(await classifier.predictBatchWithVerdict!(batch, { nearest: options.nearest ?? 1 })) };
    return { batch, probabilities: await classifier.predictBatch(batch) };
  };
  let start = 0;
  /** The rows of one classified batch, in input order (a file named twice in one batch gets its results in turn). */
  function* rows({ batch, probabilities, verdicts }: Awaited<ReturnType<typeof classifyBatch>>): Generator<PredictResult> {
    const byFile = new Map<string, PredictResult[]>();
    const add = (result: PredictResult) => byFile.set(result.file, [...(byFile.get(result.file) ?? []), result]);
    batch.files.forEach((file, i) => {
      const ranked = rankPredictions(probabilities.subarray(i * numClasses, (i + 1) * numClasses), spec, numClasses);
      const verdict = verdicts?.[i];
      add({ file, predicted: ranked[0].className, probability: ranked[0].probability, probabilities: ranked.slice(0, topK), ...(verdict ? { openSet: verdict } : {}) });
    });
    for (const skipped of batch.skipped) add({ file: skipped.file, error: skipped.reason });
    const chunk = files.slice(start, start + batchSize);
    start += chunk.length;
    for (const file of chunk) {
      const result = byFile.get(file)?.shift();
      if (result) yield result;
    }
    options.onProgress?.({ done: start, total: files.length });
  }
  // one batch classifies while the rows of the one before are handed out (and written by the caller), so the
  // engine never waits for the consumer
  const batches = streamBatches(files, {
    batchSize,
    concurrency: options.concurrency,
    prefetch: options.prefetch,
    preprocessing: spec.preprocessing,
    signal: options.signal,
  });
  for await (const classified of lookAhead(batches, classifyBatch)) yield* rows(classified);
}

/** The OPEN_SET_MISSING error: a verdict was asked of a checkpoint without open-set data. */
export function openSetMissing(classifier: Pick<Classifier, 'spec'>, file?: string): ImgclsError {
  return new ImgclsError('this checkpoint carries no open-set data, so it cannot tell images unlike its training data', 'OPEN_SET_MISSING', file,
    'Add it with "imgcls calibrate <checkpoint> <dataset>" (the dataset it was trained on), or run without the verdict (--no-verdict).');
}

/** All of predict's results as one array (convenient for a few files; use predict to stream many). */
export async function predictAll(
  classifier: Classifier,
  inputs: string | readonly string[],
  options: PredictOptions = {},
): Promise<PredictResult[]> {
  const results: PredictResult[] = [];
  for await (const result of predict(classifier, inputs, options)) results.push(result);
  return results;
}
