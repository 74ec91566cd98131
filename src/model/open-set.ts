import { ImgclsError } from '../errors.js';
import { randomStream, shuffledIndices } from '../util/random.js';
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
  /** z-scoring of each part of a combined method. */
  scales?: { knn: ScoreScale; energy: ScoreScale };
  /** When and where the threshold was calibrated (train end, or imgcls calibrate). */
  calibratedAt: string;
}

/** The open-set data in memory: the header plus the normalised feature matrix. */
export interface OpenSetData extends OpenSetHeader {
  /** L2-normalised features, row-major [files.length × dim]. */
  features: Float32Array;
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
  // four stored rows per pass: each query value is loaded once for four products (~2× faster in V8 than one row at a time)
  for (; s + 3 < storedCount; s += 4) {
    const o0 = s * dim;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    for (let q = 0; q < queryCount; q++) {
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
  const knn = leaveOneOutKnnScores(normalized, count, dim, Math.min(k, count - 1));
  let scores: Float64Array = knn;
  let scales: OpenSetHeader['scales'];
  if (method === 'knn+energy') {
    if (!options.logits || !options.numClasses) throw new ImgclsError("method 'knn+energy' needs the head's logits", 'INTERNAL');
    const energy = energyScores(options.logits, count, options.numClasses);
    scales = { knn: scaleOf(knn), energy: scaleOf(energy) };
    scores = knn.map((value, i) => combine(value, energy[i], scales!));
  }
  return {
    method, k, percentile, dim,
    threshold: conformalThreshold(scores, percentile),
    trainCount: options.trainCount ?? count,
    files: [...files],
    labels: [...labels],
    ...(scales ? { scales } : {}),
    calibratedAt: new Date().toISOString(),
    features: normalized,
  };
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
  options: { nearest?: number; classNames: readonly string[]; logits?: Float32Array },
): OpenSetVerdict[] {
  if (features.length !== count * data.dim) {
    throw new ImgclsError(`open-set data expects ${data.dim} features per image, got ${features.length / Math.max(count, 1)}`, 'CHECKPOINT_INCOMPATIBLE');
  }
  const stored = data.files.length;
  const distances = pairwiseDistances(normalizeRows(features, count, data.dim), count, data.features, stored, data.dim);
  const energy = data.method === 'knn+energy' ? energyScores(options.logits!, count, options.classNames.length) : undefined;
  const nearestCount = Math.max(options.nearest ?? 1, data.k);
  const verdicts: OpenSetVerdict[] = [];
  for (let i = 0; i < count; i++) {
    const row = distances.subarray(i * stored, (i + 1) * stored);
    const order = smallestIndices(row, Math.min(nearestCount, stored));
    const knn = order.slice(0, data.k).reduce((sum, j) => sum + row[j], 0) / Math.min(data.k, order.length);
    const score = energy ? combine(knn, energy[i], data.scales!) : knn;
    const nearest: NearestImage[] = order.slice(0, options.nearest ?? 1).map((j) => ({
      file: data.files[j], className: options.classNames[data.labels[j]] ?? String(data.labels[j]), distance: row[j],
    }));
    verdicts.push({ unfamiliar: score > data.threshold, score, threshold: data.threshold, nearest });
  }
  return verdicts;
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
  return { ...header, features: tensor.data };
}

/** The header part and the feature tensor of open-set data, as a checkpoint stores them. */
export function openSetForCheckpoint(data: OpenSetData): { header: OpenSetHeader; tensor: NamedTensor } {
  const { features, ...header } = data;
  return { header, tensor: { shape: [data.files.length, data.dim], data: features } };
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
