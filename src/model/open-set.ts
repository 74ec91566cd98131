import { ImgclsError } from '../errors.js';
import { randomStream, shuffledIndices } from '../util/random.js';
import { EFFICIENTNET_B0_BLOCKS, efficientNetB0Blocks, topKBoundary } from './efficientnet-blocks.js';
import type { Checkpoint, NamedTensor } from './checkpoint.js';
import type { NearestImage, OpenSetVerdict } from './types.js';

/**
 * Training images stored for the open-set score at most (a seeded subsample beyond): the checkpoint
 * grows by ≤ ~1.3 MB and the verdict costs ~256 × 1280 multiply-adds per image (bench:predict).
 */
export const OPEN_SET_MAX_IMAGES = 256;
/** Share of the training images (leave-one-out) that pass the calibrated threshold. */
export const OPEN_SET_PERCENTILE = 0.95;
/** Neighbours averaged by the kNN score (Sun et al. 2022 use k=1 for small sets; chosen by bench:openset). */
export const OPEN_SET_K = 1;
/** Checkpoint tensor name of the stored, L2-normalised training features [count × dim]. */
export const OPEN_SET_TENSOR = 'openset/features';

/**
 * How the open-set score is computed:
 * - 'knn': mean Euclidean distance to the k nearest training images on L2-normalised features
 *   (Sun et al., ICML 2022, "Out-of-Distribution Detection with Deep Nearest Neighbors");
 * - 'knn+energy': the kNN distance and the energy score (−logsumexp of the head's logits; Liu et al.,
 *   NeurIPS 2020), each z-scored on the training images' leave-one-out scores, summed.
 */
export type OpenSetMethod = 'knn' | 'knn+energy';

/**
 * Which training images an image is compared with, and which threshold applies:
 * - 'global': the nearest training image of any class, one threshold for all (checkpoints before per-class thresholds);
 * - 'class': the nearest training image of the image's predicted class, that class's own threshold (from its own
 *   images' leave-one-out scores), so that varied negatives added to one class do not loosen another's threshold.
 * Only the 'knn' method is class-conditional; 'knn+energy' stays global.
 */
export type OpenSetConditioning = 'global' | 'class';
/** The conditioning bench:openset chose (README "Know when it doesn't know"). */
export const OPEN_SET_CONDITIONING: OpenSetConditioning = 'class';
/**
 * Optional cap of a class's threshold: median + k · MAD of its leave-one-out scores (MAD × 1.4826 estimates σ).
 * Not the default: on the lesson data (9 logo images) bench:openset measured logo recall 88.9% with k = 2 or 3 against
 * 100% with the plain conformal quantile, which is what imgcls stores (madK undefined).
 */
export const OPEN_SET_MAD_K: number | undefined = undefined;
/**
 * Floor of a class's threshold: never below median + OPEN_SET_MAD_FLOOR_K · MAD of its leave-one-out scores. With a
 * dozen images per class the conformal quantile is their largest score, an estimate with a large spread: on the generated
 * three-kind test set (13 training images per kind) it flagged 5 of 10 new in-distribution discs (the floor: none).
 * bench:openset: on the lesson data the floor leaves logo's threshold as it is (k = 2 or 3 alike); k = 2 keeps the others
 * class tighter than k = 3.
 */
export const OPEN_SET_MAD_FLOOR_K: number | undefined = 2;

/**
 * Intermediate backbone stages the verdict also compares (class-conditional 'knn' only), each global-average-pooled:
 * block2b_add (stride 4, 56×56×24) and block5c_add (stride 16, 14×14×112). Low-level statistics tell screenshots, icons and
 * game screens from posters better than the last layer alone on a few training images (multi-layer, as Lee et al. 2018).
 * bench:openset chose them on the even-indexed open-set images (head input alone or with one or two of 5 stages); of the
 * sets tied there, this one keeps every new in-distribution image of the generated sample's validation set (block3b_add or
 * block4c_add with block5c_add flag a validation logo) and flags 2 of 20 new images of the generated three-kind test set
 * (head input alone: 1; block4c_add+block5c_add: 6; seeds 101–110 per kind, measured 2026-12-02). The odd-indexed
 * open-set images report.
 */
export const OPEN_SET_LAYERS: readonly string[] = Object.freeze(['block2b_add', 'block5c_add']);
/** Checkpoint tensor name of the stored pooled layer features [count × Σ layer widths], each layer's part L2-normalised. */
export const OPEN_SET_LAYERS_TENSOR = 'openset/layers';

/** The backbone output name (a feature-cache `output`) of OPEN_SET_LAYERS pooled and concatenated: `pooled:block2b_add,block5c_add`. */
export const OPEN_SET_LAYERS_OUTPUT = pooledLayersOutput(OPEN_SET_LAYERS);

/** The feature-cache output name of `layers` pooled and concatenated. */
export function pooledLayersOutput(layers: readonly string[]): string {
  return `pooled:${layers.join(',')}`;
}

/** The layer names of a `pooled:a,b` output, or undefined for any other output. */
export function pooledLayersOf(output: string): string[] | undefined {
  return output.startsWith('pooled:') ? output.slice('pooled:'.length).split(',') : undefined;
}

/** The channels of EfficientNet-B0 block outputs named by their output layer (e.g. block3b_add → 40). */
export function layerChannels(names: readonly string[]): number[] {
  const blocks = efficientNetB0Blocks();
  return names.map((name) => {
    const block = blocks.find((candidate) => candidate.outputLayer === name);
    if (!block) throw new ImgclsError(`"${name}" is not an EfficientNet-B0 block output`, 'INTERNAL');
    return EFFICIENTNET_B0_BLOCKS[block.stage].filtersOut;
  });
}

/**
 * The intermediate stages a model's verdict compares: OPEN_SET_LAYERS when the engine run that feeds its head computes them
 * anyway (head mode; top-k cut after them, as the default k = 2), else none (full mode, or top-k cut before them).
 */
export function openSetLayersFor(spec: { mode: string; topK?: number }): readonly string[] {
  if (spec.mode === 'head') return OPEN_SET_LAYERS;
  if (spec.mode !== 'top-k' || spec.topK === undefined) return [];
  const outputs = efficientNetB0Blocks().map((block) => block.outputLayer);
  const cut = outputs.indexOf(topKBoundary(spec.topK));
  return OPEN_SET_LAYERS.every((layer) => outputs.indexOf(layer) <= cut) ? OPEN_SET_LAYERS : [];
}

/** What the header records when the verdict also compares intermediate stages (absent: the head-input features alone). */
export interface OpenSetLayers {
  /** Backbone output names, in stored order. */
  names: string[];
  /** Channels of each (the pooled width). */
  dims: number[];
  /**
   * Per part (0: the head-input features, then each layer) and class index: the median of the class's leave-one-out
   * distances in that part. The score is the largest part distance divided by its scale; null for a class with < 2 images.
   */
  scales: (number | null)[][];
  /**
   * Per class index: the threshold of the head-input distance alone (the per-class rule without stages). The stages
   * only add verdicts: an image over this is unfamiliar too (its head-input distance, rescaled so that this threshold
   * meets the class's combined threshold, competes as one more part). Absent (written before it existed): the combined
   * score alone. null for a class with < 2 images.
   */
  headThresholds?: (number | null)[];
}

/** Each image's global-average-pooled channels of every layer, concatenated in `names` order: [count × Σ channels]. */
export function poolLayers(outputs: Record<string, Float32Array>, names: readonly string[], dims: readonly number[], count: number): Float32Array {
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  const out = new Float32Array(count * width);
  let offset = 0;
  names.forEach((name, layer) => {
    const map = outputs[name];
    const channels = dims[layer];
    if (!map || map.length % (count * channels) !== 0) throw new ImgclsError(`backbone output "${name}" has ${map?.length ?? 0} values for ${count} images × ${channels} channels`, 'INTERNAL');
    const positions = map.length / (count * channels);
    for (let i = 0; i < count; i++) {
      const base = i * positions * channels;
      const target = i * width + offset;
      for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) out[target + c] += map[base + p * channels + c];
      for (let c = 0; c < channels; c++) out[target + c] /= positions;
    }
    offset += channels;
  });
  return out;
}

/** Per-layer pooled values ([count × channels] each, as engines return `pooledLayers`) joined per image in `names` order: [count × Σ channels]. */
export function joinPooledLayers(pooled: Record<string, Float32Array>, names: readonly string[], dims: readonly number[], count: number): Float32Array {
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  const out = new Float32Array(count * width);
  let offset = 0;
  names.forEach((name, layer) => {
    const values = pooled[name];
    const channels = dims[layer];
    if (!values || values.length !== count * channels) throw new ImgclsError(`pooled backbone output "${name}" has ${values?.length ?? 0} values for ${count} images × ${channels} channels`, 'INTERNAL');
    for (let i = 0; i < count; i++) out.set(values.subarray(i * channels, (i + 1) * channels), i * width + offset);
    offset += channels;
  });
  return out;
}

/** Each layer's part of pooled layer rows scaled to unit length on its own, as a new array. */
function normalizeParts(features: Float32Array, count: number, dims: readonly number[]): Float32Array[] {
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  let offset = 0;
  return dims.map((dim) => {
    const part = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) part.set(features.subarray(i * width + offset, i * width + offset + dim), i * dim);
    offset += dim;
    return normalizeRows(part, count, dim);
  });
}

/** The combined score of one image: the largest of its part distances, each divided by its class's scale in that part. */
function combinedScore(partScores: readonly number[], scales: readonly (number | null)[][], label: number): number {
  let score = -Infinity;
  partScores.forEach((value, part) => {
    const scale = scales[part]?.[label];
    score = Math.max(score, typeof scale === 'number' && scale > 0 ? value / scale : value);
  });
  return score;
}

/** Mean and standard deviation of a score on the training images, for z-scoring. */
export interface ScoreScale {
  mean: number;
  std: number;
}

/** What a checkpoint's header records about its open-set data (the features are the OPEN_SET_TENSOR tensor). */
export interface OpenSetHeader {
  method: OpenSetMethod;
  k: number;
  /** An image is unfamiliar when its score is above this. */
  threshold: number;
  /** The share of training images calibrated to pass. */
  percentile: number;
  /** Feature length per image (1280 for EfficientNet-B0's pooled features). */
  dim: number;
  /** Training images the checkpoint was calibrated on (before the OPEN_SET_MAX_IMAGES subsample). */
  trainCount: number;
  /** Each stored image's path as it was at calibration, and its class index. */
  files: string[];
  labels: number[];
  /** 'class' when `classThresholds` apply (absent: 'global', as in checkpoints written before per-class thresholds). */
  conditioning?: OpenSetConditioning;
  /**
   * Per class index: the threshold of images predicted as that class (score = distance to the nearest stored image
   * of that class). null for a class with fewer than 2 stored images: the global `threshold` applies to it.
   */
  classThresholds?: (number | null)[];
  /** The k of median + k·MAD that capped `classThresholds` (absent: no cap). */
  madK?: number;
  /** The k of median + k·MAD below which no class threshold goes (absent: no floor). */
  madFloorK?: number;
  /** z-scoring of each part of a combined method. */
  scales?: { knn: ScoreScale; energy: ScoreScale };
  /**
   * Intermediate stages also compared (stored in OPEN_SET_LAYERS_TENSOR): `classThresholds` then apply to the combined score.
   * Absent in checkpoints written before multi-layer verdicts (and for full-mode models): the head-input distance alone.
   */
  layers?: OpenSetLayers;
  /** When and where the threshold was calibrated (train end, or imgcls calibrate). */
  calibratedAt: string;
}

/** The open-set data in memory: the header plus the normalised feature matrix. */
export interface OpenSetData extends OpenSetHeader {
  /** L2-normalised features, row-major [files.length × dim]. */
  features: Float32Array;
  /** With `layers`: the pooled layer features [files.length × Σ layers.dims], each layer's part L2-normalised. */
  layerFeatures?: Float32Array;
}

/** Rows of `features` scaled to unit length (a zero row stays zero), as a new array. */
export function normalizeRows(features: Float32Array, count: number, dim: number): Float32Array {
  const out = new Float32Array(count * dim);
  for (let row = 0; row < count; row++) {
    const offset = row * dim;
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += features[offset + d] * features[offset + d];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let d = 0; d < dim; d++) out[offset + d] = features[offset + d] * scale;
  }
  return out;
}

/**
 * Euclidean distances between unit query rows and unit stored rows, from one dot product per pair
 * (‖u−v‖ = √(2 − 2u·v)): [queryCount × storedCount], row-major.
 */
export function pairwiseDistances(queries: Float32Array, queryCount: number, stored: Float32Array, storedCount: number, dim: number): Float32Array {
  const out = new Float32Array(queryCount * storedCount);
  const distance = (dot: number) => Math.sqrt(Math.max(0, 2 - 2 * dot));
  let s = 0;
  // four stored rows × two queries per pass: each loaded value serves four or two products (V8 keeps the eight sums in
  // registers; ~1.6× faster than one query at a time, 3.2 vs 5.1 ms for 16 × 256 × 1280). Every pair's sum runs over d
  // in order, so the distances are the same to the bit whatever the blocking.
  for (; s + 3 < storedCount; s += 4) {
    const o0 = s * dim;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    let q = 0;
    for (; q + 1 < queryCount; q += 2) {
      const p0 = q * dim;
      const p1 = p0 + dim;
      let a = 0, b = 0, c = 0, e = 0, a2 = 0, b2 = 0, c2 = 0, e2 = 0;
      for (let d = 0; d < dim; d++) {
        const x = queries[p0 + d];
        const y = queries[p1 + d];
        const s0 = stored[o0 + d];
        const s1 = stored[o1 + d];
        const s2 = stored[o2 + d];
        const s3 = stored[o3 + d];
        a += x * s0;
        b += x * s1;
        c += x * s2;
        e += x * s3;
        a2 += y * s0;
        b2 += y * s1;
        c2 += y * s2;
        e2 += y * s3;
      }
      const at = q * storedCount + s;
      const at2 = at + storedCount;
      out[at] = distance(a);
      out[at + 1] = distance(b);
      out[at + 2] = distance(c);
      out[at + 3] = distance(e);
      out[at2] = distance(a2);
      out[at2 + 1] = distance(b2);
      out[at2 + 2] = distance(c2);
      out[at2 + 3] = distance(e2);
    }
    for (; q < queryCount; q++) {
      const qOffset = q * dim;
      let a = 0, b = 0, c = 0, e = 0;
      for (let d = 0; d < dim; d++) {
        const x = queries[qOffset + d];
        a += x * stored[o0 + d];
        b += x * stored[o1 + d];
        c += x * stored[o2 + d];
        e += x * stored[o3 + d];
      }
      const at = q * storedCount + s;
      out[at] = distance(a);
      out[at + 1] = distance(b);
      out[at + 2] = distance(c);
      out[at + 3] = distance(e);
    }
  }
  for (; s < storedCount; s++) {
    for (let q = 0; q < queryCount; q++) {
      let a = 0;
      for (let d = 0; d < dim; d++) a += queries[q * dim + d] * stored[s * dim + d];
      out[q * storedCount + s] = distance(a);
    }
  }
  return out;
}

/** Indices of the n smallest values of `row` (skipping `exclude`), smallest first. */
export function smallestIndices(row: ArrayLike<number>, n: number, exclude = -1): number[] {
  const picked: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (i === exclude) continue;
    if (picked.length < n) {
      picked.push(i);
      picked.sort((x, y) => row[x] - row[y]);
    } else if (row[i] < row[picked[n - 1]]) {
      picked[n - 1] = i;
      picked.sort((x, y) => row[x] - row[y]);
    }
  }
  return picked;
}

/** Mean of the k smallest values of `row` (skipping `exclude`): the kNN score. */
export function knnScore(row: ArrayLike<number>, k: number, exclude = -1): number {
  const nearest = smallestIndices(row, k, exclude);
  let sum = 0;
  for (const i of nearest) sum += row[i];
  return nearest.length === 0 ? Infinity : sum / nearest.length;
}

/** Each stored image's kNN score against the others (leave-one-out: an image is not its own neighbour). */
export function leaveOneOutKnnScores(normalized: Float32Array, count: number, dim: number, k: number): Float64Array {
  const distances = pairwiseDistances(normalized, count, normalized, count, dim);
  const scores = new Float64Array(count);
  for (let i = 0; i < count; i++) scores[i] = knnScore(distances.subarray(i * count, (i + 1) * count), k, i);
  return scores;
}

/** The energy score of each logit row: −logsumexp(logits) (higher = less like the training data). */
export function energyScores(logits: Float32Array, count: number, numClasses: number): Float64Array {
  const scores = new Float64Array(count);
  for (let row = 0; row < count; row++) {
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[row * numClasses + c]);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) sum += Math.exp(logits[row * numClasses + c] - max);
    scores[row] = -(max + Math.log(sum));
  }
  return scores;
}

/** The q-quantile of `values` (linear interpolation between order statistics, NumPy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/**
 * The split-conformal threshold: the ⌈(n+1)·coverage⌉-th smallest of n calibration scores (the
 * largest when that exceeds n), so that a new image from the same distribution passes with
 * probability ≥ coverage (Vovk et al. 2005; Angelopoulos & Bates 2021). With few training images it
 * is the largest leave-one-out score; from ~100 images on it is close to the plain quantile.
 */
export function conformalThreshold(scores: ArrayLike<number>, coverage: number): number {
  const sorted = Array.from(scores).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.min(Math.ceil((sorted.length + 1) * coverage), sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}

/** The median of `values` (NaN when empty). */
export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/**
 * The conformal threshold of `scores`, capped at median + madK · 1.4826 · MAD (a robust bound: with few scores the
 * conformal quantile is the largest one, which a single far-out image sets). madK undefined: no cap.
 */
export function robustThreshold(scores: ArrayLike<number>, coverage: number, madK?: number, madFloorK?: number): number {
  const conformal = conformalThreshold(scores, coverage);
  if ((madK === undefined && madFloorK === undefined) || scores.length === 0) return conformal;
  const centre = median(scores);
  const mad = 1.4826 * median(Array.from(scores, (v) => Math.abs(v - centre)));
  const capped = madK === undefined ? conformal : Math.min(conformal, centre + madK * mad);
  return madFloorK === undefined ? capped : Math.max(capped, centre + madFloorK * mad);
}

/** Mean of the k smallest values of `row` among the indices whose label is `label` (skipping `exclude`); Infinity when none. */
export function classKnnScore(row: ArrayLike<number>, labels: readonly number[], label: number, k: number, exclude = -1): number {
  const picked: number[] = [];
  for (let i = 0; i < row.length; i++) if (i !== exclude && labels[i] === label) picked.push(row[i]);
  if (picked.length === 0) return Infinity;
  picked.sort((a, b) => a - b);
  const used = picked.slice(0, Math.max(1, Math.min(k, picked.length)));
  return used.reduce((sum, v) => sum + v, 0) / used.length;
}

/**
 * Per class: the robust conformal threshold of its own images' leave-one-out class scores (distance to the nearest
 * other stored image of the same class); null for a class with fewer than 2 images.
 */
export function classThresholdsOf(distances: Float32Array, labels: readonly number[], numClasses: number, k: number, coverage: number, madK?: number, madFloorK?: number): (number | null)[] {
  const count = labels.length;
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < count; i++) {
    const score = classKnnScore(distances.subarray(i * count, (i + 1) * count), labels, labels[i], k, i);
    if (Number.isFinite(score) && labels[i] >= 0 && labels[i] < numClasses) byClass[labels[i]].push(score);
  }
  return byClass.map((scores) => (scores.length >= 2 ? robustThreshold(scores, coverage, madK, madFloorK) : null));
}

function scaleOf(values: ArrayLike<number>): ScoreScale {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i] / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (values[i] - mean) ** 2 / Math.max(n - 1, 1);
  return { mean, std: Math.sqrt(variance) || 1 };
}

/** Which of `count` training images are stored: all up to `maxImages`, else a seeded subsample (in original order). */
export function openSetSubsample(count: number, maxImages = OPEN_SET_MAX_IMAGES, seed = 0): number[] {
  if (count <= maxImages) return Array.from({ length: count }, (_, i) => i);
  return shuffledIndices(count, randomStream(seed, 0x05e7)).slice(0, maxImages).sort((a, b) => a - b);
}

/** Options of buildOpenSet. */
export interface BuildOpenSetOptions {
  method?: OpenSetMethod;
  k?: number;
  percentile?: number;
  /** Training images before any subsample (recorded; default: the rows given). */
  trainCount?: number;
  /** The head's logits of the same rows [count × numClasses] (needed by 'knn+energy'). */
  logits?: Float32Array;
  numClasses?: number;
  /** Default OPEN_SET_CONDITIONING ('class' applies to the 'knn' method only). */
  conditioning?: OpenSetConditioning;
  /** Cap of the per-class thresholds (median + madK · MAD); default OPEN_SET_MAD_K (none); null: none. */
  madK?: number | null;
  /** Floor of the per-class thresholds (median + madFloorK · MAD); default OPEN_SET_MAD_FLOOR_K; null: none. */
  madFloorK?: number | null;
  /**
   * Pooled intermediate-stage features of the same rows (poolLayers) and their layer names and widths: the class-conditional
   * verdict then compares each part and takes the largest scaled distance. Omit for the head-input features alone.
   */
  layers?: { names: readonly string[]; dims: readonly number[]; features: Float32Array };
}

/**
 * Calibrates the open-set score on training images (their pooled features, raw): the threshold is
 * the conformal `percentile` quantile of their leave-one-out scores, so that at least that share of
 * new in-distribution images pass. Subsample first (openSetSubsample) when there are many.
 */
export function buildOpenSet(features: Float32Array, files: readonly string[], labels: readonly number[], options: BuildOpenSetOptions = {}): OpenSetData {
  const count = files.length;
  const method = options.method ?? 'knn';
  const k = options.k ?? OPEN_SET_K;
  const percentile = options.percentile ?? OPEN_SET_PERCENTILE;
  if (count < 2) throw new ImgclsError(`the open-set score needs at least 2 training images, got ${count}`, 'NO_IMAGES', undefined, 'Add training images.');
  if (features.length % count !== 0) throw new ImgclsError(`${features.length} feature values for ${count} images`, 'INTERNAL');
  const dim = features.length / count;
  const normalized = normalizeRows(features, count, dim);
  const distances = pairwiseDistances(normalized, count, normalized, count, dim);
  const knn = new Float64Array(count);
  for (let i = 0; i < count; i++) knn[i] = knnScore(distances.subarray(i * count, (i + 1) * count), Math.min(k, count - 1), i);
  const conditioning = method === 'knn' ? options.conditioning ?? OPEN_SET_CONDITIONING : 'global';
  const madK = options.madK === null ? undefined : options.madK ?? OPEN_SET_MAD_K;
  const madFloorK = options.madFloorK === null ? undefined : options.madFloorK ?? OPEN_SET_MAD_FLOOR_K;
  const numClasses = options.numClasses ?? Math.max(0, ...labels) + 1;
  let scores: Float64Array = knn;
  let scales: OpenSetHeader['scales'];
  if (method === 'knn+energy') {
    if (!options.logits || !options.numClasses) throw new ImgclsError("method 'knn+energy' needs the head's logits", 'INTERNAL');
    const energy = energyScores(options.logits, count, options.numClasses);
    scales = { knn: scaleOf(knn), energy: scaleOf(energy) };
    scores = knn.map((value, i) => combine(value, energy[i], scales!));
  }
  const layered = conditioning === 'class' && options.layers ? layeredClassThresholds(distances, labels, numClasses, k, percentile, options.layers, madK, madFloorK) : undefined;
  return {
    method, k, percentile, dim,
    threshold: conformalThreshold(scores, percentile),
    ...(conditioning === 'class'
      ? {
        conditioning,
        classThresholds: layered?.classThresholds ?? classThresholdsOf(distances, labels, numClasses, k, percentile, madK, madFloorK),
        ...(madK !== undefined ? { madK } : {}),
        ...(madFloorK !== undefined ? { madFloorK } : {}),
      }
      : {}),
    trainCount: options.trainCount ?? count,
    files: [...files],
    labels: [...labels],
    ...(scales ? { scales } : {}),
    ...(layered ? { layers: layered.layers } : {}),
    calibratedAt: new Date().toISOString(),
    features: normalized,
    ...(layered ? { layerFeatures: layered.layerFeatures } : {}),
  };
}

/** The distance matrices [count × count] of each layer part of pooled layer rows (each part L2-normalised first). */
function layerDistances(layerFeatures: Float32Array, count: number, dims: readonly number[]): { normalized: Float32Array; distances: Float32Array[] } {
  const parts = normalizeParts(layerFeatures, count, dims);
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  const normalized = new Float32Array(count * width);
  let offset = 0;
  parts.forEach((part, p) => {
    for (let i = 0; i < count; i++) normalized.set(part.subarray(i * dims[p], (i + 1) * dims[p]), i * width + offset);
    offset += dims[p];
  });
  return { normalized, distances: parts.map((part, p) => pairwiseDistances(part, count, part, count, dims[p])) };
}

/**
 * Per class: the robust conformal threshold of its images' leave-one-out combined scores (each part's distance to the nearest
 * other image of the class, divided by the class's median such distance in that part; the largest part counts).
 */
function layeredClassThresholds(
  headDistances: Float32Array, labels: readonly number[], numClasses: number, k: number, coverage: number,
  layers: NonNullable<BuildOpenSetOptions['layers']>, madK?: number, madFloorK?: number,
): { classThresholds: (number | null)[]; layers: OpenSetLayers; layerFeatures: Float32Array } {
  const count = labels.length;
  if (layers.features.length !== count * layers.dims.reduce((sum, dim) => sum + dim, 0)) {
    throw new ImgclsError(`${layers.features.length} layer feature values for ${count} images`, 'INTERNAL');
  }
  const { normalized, distances } = layerDistances(layers.features, count, layers.dims);
  const parts = [headDistances, ...distances];
  const looScores = parts.map((matrix) => Array.from({ length: count }, (_, i) => classKnnScore(matrix.subarray(i * count, (i + 1) * count), labels, labels[i], k, i)));
  const scales = parts.map((_, p) => Array.from({ length: numClasses }, (_, c) => {
    const own = looScores[p].filter((score, i) => labels[i] === c && Number.isFinite(score));
    return own.length >= 2 ? median(own) : null;
  }));
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < count; i++) {
    const score = combinedScore(looScores.map((scores) => scores[i]), scales, labels[i]);
    if (Number.isFinite(score) && labels[i] >= 0 && labels[i] < numClasses) byClass[labels[i]].push(score);
  }
  return {
    classThresholds: byClass.map((scores) => (scores.length >= 2 ? robustThreshold(scores, coverage, madK, madFloorK) : null)),
    layers: { names: [...layers.names], dims: [...layers.dims], scales, headThresholds: classThresholdsOf(headDistances, labels, numClasses, k, coverage, madK, madFloorK) },
    layerFeatures: normalized,
  };
}

/**
 * The layered score with the head-input rule kept: the combined score, or the head-input distance rescaled to the combined
 * threshold when that is larger, so `score > classThreshold` whenever either rule says unfamiliar.
 */
function withHeadRule(combined: number, headScore: number, layers: OpenSetLayers, label: number, classThreshold: number): number {
  const headThreshold = layers.headThresholds?.[label];
  return typeof headThreshold === 'number' && headThreshold > 0 ? Math.max(combined, (headScore * classThreshold) / headThreshold) : combined;
}

function combine(knn: number, energy: number, scales: NonNullable<OpenSetHeader['scales']>): number {
  return (knn - scales.knn.mean) / scales.knn.std + (energy - scales.energy.mean) / scales.energy.std;
}

/**
 * The verdicts of `count` images from their raw pooled features (and the head's logits for combined
 * methods), each with its `nearest` closest stored training images.
 */
export function openSetVerdicts(
  data: OpenSetData,
  features: Float32Array,
  count: number,
  options: {
    nearest?: number;
    classNames: readonly string[];
    logits?: Float32Array;
    /** Each image's predicted class index: needed when the data is class-conditional (else the global rule applies). */
    predicted?: readonly number[];
    /** The images' pooled layer features (poolLayers over data.layers.names): needed when the data has `layers`. */
    layerFeatures?: Float32Array;
  },
): OpenSetVerdict[] {
  if (features.length !== count * data.dim) {
    throw new ImgclsError(`open-set data expects ${data.dim} features per image, got ${features.length / Math.max(count, 1)}`, 'CHECKPOINT_INCOMPATIBLE');
  }
  const stored = data.files.length;
  const distances = pairwiseDistances(normalizeRows(features, count, data.dim), count, data.features, stored, data.dim);
  const energy = data.method === 'knn+energy' ? energyScores(options.logits!, count, options.classNames.length) : undefined;
  const nearestCount = Math.max(options.nearest ?? 1, data.k);
  const layerParts = data.layers ? layerQueryDistances(data, options.layerFeatures, count) : undefined;
  const verdicts: OpenSetVerdict[] = [];
  for (let i = 0; i < count; i++) {
    const row = distances.subarray(i * stored, (i + 1) * stored);
    const order = smallestIndices(row, Math.min(nearestCount, stored));
    let knn = order.slice(0, data.k).reduce((sum, j) => sum + row[j], 0) / Math.min(data.k, order.length);
    let threshold = data.threshold;
    const predicted = options.predicted?.[i];
    const classThreshold = predicted === undefined ? undefined : classThresholdFor(data, predicted);
    if (classThreshold !== undefined && !energy) {
      knn = classKnnScore(row, data.labels, predicted!, data.k);
      if (layerParts) {
        const partScores = [knn, ...layerParts.map((part) => classKnnScore(part.subarray(i * stored, (i + 1) * stored), data.labels, predicted!, data.k))];
        knn = withHeadRule(combinedScore(partScores, data.layers!.scales, predicted!), partScores[0], data.layers!, predicted!, classThreshold);
      }
      threshold = classThreshold;
    }
    const score = energy ? combine(knn, energy[i], data.scales!) : knn;
    const nearest: NearestImage[] = order.slice(0, options.nearest ?? 1).map((j) => ({
      file: data.files[j], className: options.classNames[data.labels[j]] ?? String(data.labels[j]), distance: row[j],
    }));
    verdicts.push({ unfamiliar: score > threshold, score, threshold, nearest });
  }
  return verdicts;
}

/** Each layer part's distances [count × stored] from query images' pooled layer features to the stored ones. */
function layerQueryDistances(data: OpenSetData, layerFeatures: Float32Array | undefined, count: number): Float32Array[] {
  const { dims } = data.layers!;
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  const stored = data.files.length;
  if (!data.layerFeatures || data.layerFeatures.length !== stored * width) throw new ImgclsError('open-set data has layers but no stored layer features', 'INTERNAL');
  if (!layerFeatures || layerFeatures.length !== count * width) {
    throw new ImgclsError(`the open-set verdict compares ${data.layers!.names.join(', ')}: ${width} pooled values per image expected, got ${(layerFeatures?.length ?? 0) / Math.max(count, 1)}`, 'INTERNAL');
  }
  const queries = normalizeParts(layerFeatures, count, dims);
  const storedParts = normalizeParts(data.layerFeatures, stored, dims);
  return queries.map((part, p) => pairwiseDistances(part, count, storedParts[p], stored, dims[p]));
}

/** The threshold of images predicted as class `label` under class-conditional data, or undefined when the global rule applies. */
export function classThresholdFor(data: OpenSetHeader, label: number): number | undefined {
  if (data.conditioning !== 'class' || data.method !== 'knn' || !data.classThresholds) return undefined;
  const value = data.classThresholds[label];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Leave-one-out verdict scores of the stored training images under `predicted` classes (each image's class from a
 * model that did not see it, or the trained model's): the score and threshold that would apply to each, excluding
 * itself from its neighbours. For bench:openset and tests.
 */
export function leaveOneOutVerdictScores(data: OpenSetData, predicted: readonly number[]): { scores: Float64Array; thresholds: Float64Array } {
  const count = data.files.length;
  const distances = pairwiseDistances(data.features, count, data.features, count, data.dim);
  const layerParts = data.layers ? layerDistances(data.layerFeatures!, count, data.layers.dims).distances : [];
  const scores = new Float64Array(count);
  const thresholds = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const row = distances.subarray(i * count, (i + 1) * count);
    const classThreshold = classThresholdFor(data, predicted[i]);
    const partScores = () => [row, ...layerParts.map((part) => part.subarray(i * count, (i + 1) * count))]
      .map((part) => classKnnScore(part, data.labels, predicted[i], data.k, i));
    const layered = (parts: number[]) => withHeadRule(combinedScore(parts, data.layers!.scales, predicted[i]), parts[0], data.layers!, predicted[i], classThreshold!);
    scores[i] = classThreshold === undefined ? knnScore(row, Math.min(data.k, count - 1), i)
      : data.layers ? layered(partScores()) : classKnnScore(row, data.labels, predicted[i], data.k, i);
    thresholds[i] = classThreshold ?? data.threshold;
  }
  return { scores, thresholds };
}

/** The per-class thresholds of class-conditional data by class name, or undefined when one global threshold applies. */
export function classThresholdsByName(data: OpenSetHeader, classNames: readonly string[]): Record<string, number> | undefined {
  if (data.conditioning !== 'class' || data.method !== 'knn' || !data.classThresholds) return undefined;
  return Object.fromEntries(classNames.map((name, i) => [name, classThresholdFor(data, i) ?? data.threshold]));
}

/** "1.136" (global), or "logo 1.136, others 1.048 (per predicted class)" (class-conditional), `digits` decimals. */
export function formatOpenSetThresholds(summary: { threshold: number; classThresholds?: Record<string, number> }, digits = 3): string {
  if (!summary.classThresholds) return summary.threshold.toFixed(digits);
  return `${Object.entries(summary.classThresholds).map(([name, value]) => `${name} ${value.toFixed(digits)}`).join(', ')} (per predicted class)`;
}

/** The open-set data of a checkpoint, or undefined when it carries none (written before open-set scores existed). */
export function checkpointOpenSet(checkpoint: Pick<Checkpoint, 'openSet' | 'weights' | 'file'>): OpenSetData | undefined {
  const header = checkpoint.openSet;
  if (!header) return undefined;
  const tensor = checkpoint.weights[OPEN_SET_TENSOR];
  if (!tensor || tensor.shape[0] !== header.files.length || tensor.shape[1] !== header.dim || header.labels.length !== header.files.length) {
    throw new ImgclsError('its open-set data does not match its stored features', 'CHECKPOINT_INVALID', checkpoint.file,
      'Recalibrate it with imgcls calibrate <checkpoint> <dataset>.');
  }
  if (!header.layers) return { ...header, features: tensor.data };
  const layerTensor = checkpoint.weights[OPEN_SET_LAYERS_TENSOR];
  const width = header.layers.dims.reduce((sum, dim) => sum + dim, 0);
  if (!layerTensor || layerTensor.shape[0] !== header.files.length || layerTensor.shape[1] !== width) {
    throw new ImgclsError('its open-set layer data does not match its stored layer features', 'CHECKPOINT_INVALID', checkpoint.file,
      'Recalibrate it with imgcls calibrate <checkpoint> <dataset>.');
  }
  return { ...header, features: tensor.data, layerFeatures: layerTensor.data };
}

/** The header part and the feature tensors of open-set data (by checkpoint tensor name), as a checkpoint stores them. */
export function openSetForCheckpoint(data: OpenSetData): { header: OpenSetHeader; tensor: NamedTensor; tensors: Record<string, NamedTensor> } {
  const { features, layerFeatures, ...header } = data;
  const tensors: Record<string, NamedTensor> = { [OPEN_SET_TENSOR]: { shape: [data.files.length, data.dim], data: features } };
  if (data.layers && layerFeatures) {
    tensors[OPEN_SET_LAYERS_TENSOR] = { shape: [data.files.length, data.layers.dims.reduce((sum, dim) => sum + dim, 0)], data: layerFeatures };
  }
  return { header, tensor: tensors[OPEN_SET_TENSOR], tensors };
}

/** Area under the ROC curve of telling `outScores` (positives) from `inScores` by a higher score (ties count half). */
export function auroc(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  let wins = 0;
  for (let i = 0; i < outScores.length; i++) {
    for (let j = 0; j < inScores.length; j++) wins += outScores[i] > inScores[j] ? 1 : outScores[i] === inScores[j] ? 0.5 : 0;
  }
  return wins / Math.max(outScores.length * inScores.length, 1);
}

/** Share of `outScores` at or below the threshold that keeps `tpr` of `inScores` (FPR at 95% TPR). */
export function falsePositiveRateAt(inScores: ArrayLike<number>, outScores: ArrayLike<number>, tpr = 0.95): number {
  const threshold = quantile(inScores, tpr);
  let passed = 0;
  for (let i = 0; i < outScores.length; i++) if (outScores[i] <= threshold) passed++;
  return passed / Math.max(outScores.length, 1);
}
