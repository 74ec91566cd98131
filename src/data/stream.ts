import { ImgclsError, usageError } from '../errors.js';
import { loadResizedRgb, normalizePixels, resolvePreprocessing } from './preprocess.js';
import type { ImageBatch, ImageItem, Preprocessing, SkippedFile } from './types.js';
import { createLimit } from '../util/limit.js';

/** Options of streamBatches. */
export interface StreamOptions {
  /** Images per batch. Default 16. */
  batchSize?: number;
  /** Default DEFAULT_PREPROCESSING (224, 'squash', 'zero-one'). */
  preprocessing?: Partial<Preprocessing>;
  /** Images decoded at the same time. Default 4. */
  concurrency?: number;
  /** Batches decoded ahead of the batch the consumer holds; memory stays at about (prefetch + 1) batches. Default 2. */
  prefetch?: number;
  /** Stops between batches with an ImgclsError CANCELLED. */
  signal?: AbortSignal;
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) throw usageError(`${name} must be a positive integer. Received: ${value}`);
  return value;
}

/** The reason text of a failed decode: error code and message, without the file name. */
export function skipReason(err: unknown): string {
  if (err instanceof ImgclsError) {
    // the skip list already names the file: drop the ": <file>" the message ends with
    const message = err.file && err.message.endsWith(`: ${err.file}`) ? err.message.slice(0, -err.file.length - 2) : err.message;
    return `${err.code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Yields the images as normalised NHWC batches, in input order, decoding ahead of the consumer in
 * parallel with bounded memory. Unreadable files go into `batch.skipped` (never fatal); a batch whose
 * files all failed is still yielded with count 0. Plain string items get label -1.
 */
export async function* streamBatches(
  items: ReadonlyArray<ImageItem | string>,
  options: StreamOptions = {},
): AsyncGenerator<ImageBatch> {
  const batchSize = positiveInteger('batchSize', options.batchSize ?? 16);
  const concurrency = positiveInteger('concurrency', options.concurrency ?? 4);
  const prefetch = positiveInteger('prefetch', options.prefetch ?? 2);
  const preprocessing = resolvePreprocessing(options.preprocessing);
  const { signal } = options;
  const size = preprocessing.inputSize;
  const imageLength = size * size * 3;
  const limit = createLimit(concurrency);
  const batchCount = Math.ceil(items.length / batchSize);

  const assemble = async (batchIndex: number): Promise<ImageBatch> => {
    const chunk = items.slice(batchIndex * batchSize, (batchIndex + 1) * batchSize).map((item) =>
      typeof item === 'string' ? { file: item, label: -1 } : item,
    );
    const decoded = await Promise.all(
      chunk.map((item) =>
        limit(async () => {
          if (signal?.aborted) return { item, error: new ImgclsError('cancelled', 'CANCELLED') };
          try {
            return { item, rgb: await loadResizedRgb(item.file, preprocessing) };
          } catch (error) {
            return { item, error };
          }
        }),
      ),
    );
    const ok = decoded.filter((d) => d.rgb !== undefined);
    const data = new Float32Array(ok.length * imageLength);
    ok.forEach((d, i) => normalizePixels(d.rgb!.data, preprocessing.normalization, data.subarray(i * imageLength, (i + 1) * imageLength)));
    const skipped: SkippedFile[] = decoded
      .filter((d) => d.rgb === undefined)
      .map((d) => ({ file: d.item.file, reason: skipReason(d.error) }));
    return { data, count: ok.length, inputSize: size, files: ok.map((d) => d.item.file), labels: ok.map((d) => d.item.label), skipped };
  };

  // a window of in-flight batches: batch k+prefetch starts when batch k is handed to the consumer
  const inFlight: Promise<ImageBatch>[] = [];
  let next = 0;
  const fill = () => {
    while (next < batchCount && inFlight.length < prefetch) inFlight.push(assemble(next++));
  };
  try {
    fill();
    while (inFlight.length > 0) {
      if (signal?.aborted) throw new ImgclsError('cancelled', 'CANCELLED', undefined, undefined, { cause: signal.reason });
      const batch = await inFlight.shift()!;
      if (signal?.aborted) throw new ImgclsError('cancelled', 'CANCELLED', undefined, undefined, { cause: signal.reason });
      fill();
      yield batch;
    }
  } finally {
    // the consumer stopped early or we were cancelled: let pending decodes finish quietly
    await Promise.allSettled(inFlight);
  }
}
