import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ImgclsError } from '../errors.js';
import { contentHash } from '../data/hash.js';
import { scanDataset } from '../data/scan.js';
import type { Dataset, ImageItem, SkippedFile } from '../data/types.js';
import { createBackboneEngine } from '../model/engine.js';
import type { BackboneEngine, ModelSpec } from '../model/types.js';
import { linkFileAtomic, removeStaleTempFiles } from '../util/atomic.js';
import {
  CHECKPOINT_EXTENSION,
  checkpointHead,
  loadCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type CheckpointMetrics,
  type CheckpointTraining,
} from '../model/checkpoint.js';
import { resolveTrainConfig, type ResolvedTrainConfig, type TrainConfig } from './config.js';
import { computeFeatures, featureKey, IMAGE_OUTPUT, type FeatureJob, type FeatureSet } from './features.js';
import { computeClassWeights } from '../model/dense-head.js';
import type { ModeRunner } from './head-runner.js';
import { createModeRunner, resolveTrainEngine } from './engines/index.js';
import { appendHistory, truncateHistory, type EpochRecord, type StepRecord } from './history.js';
import { mapLimit } from '../util/limit.js';
import { randomStream, shuffledIndices } from '../util/random.js';
import { estimateTrainingMs } from './estimate.js';
import { formatDuration } from '../util/duration.js';
import { countLeaks, leakWarning } from '../data/leaks.js';
import { createDecisionRule } from '../eval/decision.js';
import { classificationMetrics } from '../eval/metrics.js';
import { crossEntropy } from '../eval/top-losses.js';
import { calibrateRunCheckpoints } from './open-set.js';

/** Where a training run is. */
export interface TrainProgress {
  phase: 'features' | 'train' | 'validate' | 'done';
  epoch: number;
  epochs: number;
  /** 'features': images computed so far; 'train': step within the epoch. */
  step: number;
  /** 'features': images to compute; 'train': steps in the epoch. */
  steps: number;
  loss?: number;
  accuracy?: number;
  /** Estimated time to the end of the phase ('features') or of the run ('train'). */
  etaMs?: number;
  imagesPerSec?: number;
  /** 'train': optimizer steps per second so far. */
  stepsPerSec?: number;
  /** A notice for the user (time estimate, collapse warning, resume); render it as a line of text. */
  message?: string;
  /** Since train() started. */
  elapsedMs: number;
}

/** Options of train(). */
export interface TrainOptions {
  /** Stops between steps with ImgclsError CANCELLED; checkpoints already written stay. */
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void;
}

/** What a finished run returns. */
export interface TrainResult {
  outDir: string;
  historyFile: string;
  /** Absolute paths: last.imgcls, best.imgcls and the epoch checkpoints written by this call that are kept (keepCheckpoints). */
  checkpoints: { last: string; best: string; saved: string[] };
  spec: ModelSpec;
  config: ResolvedTrainConfig;
  /** Epochs trained by this call (0 when a resumed run was already complete). */
  epochsRun: number;
  /** The epoch the run resumed after, or null for a fresh run. */
  resumedFromEpoch: number | null;
  bestEpoch: number;
  /** Metrics of the last epoch. */
  final: CheckpointMetrics;
  trainCount: number;
  validCount: number;
  layout: Dataset['layout'];
  /** Images that could not be decoded (never fatal). */
  skipped: SkippedFile[];
  /** Notices also sent through onProgress (estimates, warnings). */
  messages: string[];
  /** Engine name, or null when every feature came from the cache. */
  engine: string | null;
  /** The engine that trained ('js' for head mode, 'tfjs', 'libtorch <version>'). */
  trainEngine: string;
  cache: { dir: string; hits: number; computed: number };
  timings: { featuresMs: number; trainMs: number; totalMs: number };
}

interface Sample {
  label: number;
  /** Cache key of each view (index = view). */
  keys: string[];
}

const EPOCH_PAD = 3;
/** An epoch checkpoint's file name; group 1 is the epoch. */
const EPOCH_FILE = new RegExp(`^epoch-(\\d+)${CHECKPOINT_EXTENSION.replace('.', '\\.')}$`);
/** Files read at once while hashing (keeps far below the open-file limit on large datasets). */
const FILE_CONCURRENCY = 16;

/** The file name of the checkpoint written after `epoch`. */
export function epochCheckpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(EPOCH_PAD, '0')}${CHECKPOINT_EXTENSION}`;
}

/** sha256 over the class names and every (split, label, content hash): changes when any image or label does. */
export function datasetFingerprint(classNames: readonly string[], splits: { train: readonly (ImageItem & { hash: string })[]; valid: readonly (ImageItem & { hash: string })[] }): string {
  const hash = createHash('sha256').update(JSON.stringify(classNames));
  for (const [name, items] of Object.entries(splits)) for (const item of items) hash.update(`${name}\t${item.label}\t${item.hash}\n`);
  return hash.digest('hex');
}

async function hashAll(items: readonly ImageItem[], skipped: SkippedFile[]): Promise<(ImageItem & { hash: string })[]> {
  const hashed: (ImageItem & { hash: string })[] = [];
  const results = await mapLimit(items, FILE_CONCURRENCY, async (item) => {
    try {
      return { ...item, hash: await contentHash(item.file) };
    } catch (err) {
      skipped.push({ file: item.file, reason: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  });
  for (const result of results) if (result) hashed.push(result);
  return hashed;
}

function cancelled(signal: AbortSignal | undefined, lastEpoch: number, outDir: string): void {
  if (!signal?.aborted) return;
  throw new ImgclsError(
    lastEpoch > 0 ? `training cancelled; checkpoints up to epoch ${lastEpoch} are kept` : 'training cancelled before the first checkpoint',
    'CANCELLED', outDir, lastEpoch > 0 ? 'Run again with --resume (resume: true) to continue.' : undefined, { cause: signal.reason });
}

function isBetter(monitor: ResolvedTrainConfig['monitor'], candidate: { accuracy: number; loss: number }, best: { accuracy: number; loss: number } | undefined): boolean {
  if (!best) return true;
  if (monitor === 'val_loss') return candidate.loss < best.loss;
  return candidate.accuracy > best.accuracy || (candidate.accuracy === best.accuracy && candidate.loss < best.loss);
}

/** Validation figures of one epoch. */
export interface ValidationMetrics {
  /** Mean cross-entropy (unweighted). */
  loss: number;
  accuracy: number;
  /** Recall of each class (NaN for a class absent from the labels). */
  recall: number[];
  /** Images predicted as each class. */
  predictedCounts: number[];
  /** Set when every prediction fell on one class although the labels hold several. */
  warning?: string;
}

/**
 * Loss, accuracy, per-class recall and a collapse warning from softmax rows and their true labels,
 * computed by eval/ (its decision rule, metrics and loss clamp), so val_loss and val_accuracy are
 * what `imgcls eval` reports on the same images.
 */
export function validationMetrics(probabilities: Float32Array, labels: readonly number[], classNames: readonly string[]): ValidationMetrics {
  const numClasses = classNames.length;
  const decide = createDecisionRule(classNames);
  const predicted = labels.map((_, row) => decide(probabilities, row * numClasses));
  const metrics = classificationMetrics(labels, predicted, classNames);
  let loss = 0;
  labels.forEach((label, row) => (loss += crossEntropy(probabilities[row * numClasses + label])));
  const predictedCounts = new Array<number>(numClasses).fill(0);
  for (const c of predicted) predictedCounts[c]++;
  const present = metrics.perClass.filter((row) => row.support > 0).length;
  const collapsed = predictedCounts.findIndex((n) => n === labels.length);
  const warning = present > 1 && collapsed >= 0
    ? `every validation image was predicted "${classNames[collapsed]}": the model has collapsed onto one class (check class balance, learning rate, labels)`
    : undefined;
  return {
    loss: loss / Math.max(labels.length, 1),
    accuracy: metrics.accuracy,
    recall: metrics.perClass.map((row) => (row.support === 0 ? NaN : row.recall)),
    predictedCounts,
    ...(warning ? { warning } : {}),
  };
}

/** A run in progress: its resolved config and how it reports (step 1 of train()). */
interface Run {
  config: ResolvedTrainConfig;
  /** What the cache stores per image: 'pooled' (head), the frozen boundary's activation (top-k) or the preprocessed image (full). */
  output: string;
  signal: AbortSignal | undefined;
  /** Notices, in the order they were sent. */
  messages: string[];
  /** Milliseconds since train() started. */
  elapsed(): number;
  notify(progress: Omit<TrainProgress, 'elapsedMs'>): void;
  /** Records a notice and sends it through onProgress. */
  say(message: string, epoch?: number): void;
}

/** Where a run keeps its files. */
interface RunFolder {
  outDir: string;
  checkpointDir: string;
  historyFile: string;
  lastFile: string;
  bestFile: string;
}

/** The scanned and hashed dataset of a run. */
interface RunData {
  dataset: Dataset;
  trainItems: (ImageItem & { hash: string })[];
  validItems: (ImageItem & { hash: string })[];
  fingerprint: string;
  /** Files that could not be read (hashing, then decoding). */
  skipped: SkippedFile[];
}

/** Every training view and validation image as cached backbone outputs. */
interface RunFeatures {
  featureSet: FeatureSet;
  /** Engine name, or null when every feature came from the cache. */
  engineName: string | null;
  featuresMs: number;
  trainSamples: Sample[];
  validSamples: Sample[];
  /** Views per training image (1 + augmented views). */
  views: number;
  inputDim: number;
  /** Rows of `samples` at `indices`, each in the view `pickView` picks, as one input matrix. */
  gather(samples: readonly Sample[], indices: readonly number[], pickView: (index: number) => number): Float32Array;
}

/** The best epoch so far by the monitored metric. */
interface Best { epoch: number; accuracy: number; loss: number }

/** What the epoch loop leaves behind. */
interface EpochsOutcome {
  best: Best | undefined;
  final: CheckpointMetrics | null;
  /** Epoch checkpoints written (not last/best). */
  saved: string[];
  trainMs: number;
}

/**
 * Trains a classifier on a folder-per-class dataset and returns where its history and checkpoints
 * are. 'head' mode caches each image's backbone features on disk and trains only the dense head.
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const run = await resolveRun(config, options);
  await refuseExistingRun(run.config);
  const data = await readDataset(run);
  warnAboutData(run, data);
  // folders made by this call are removed again when it fails before its first checkpoint
  const createdDir = await firstMissingDir(path.join(run.config.outDir, 'checkpoints'));
  const folder = await openRunFolder(run);
  try {
    const resumeFrom = await resumeOrReset(run, folder, data);
    const startEpoch = resumeFrom ? resumeFrom.training.epoch : 0;
    if (startEpoch === 0) await announceEstimates(run, data);
    const features = await prepareFeatures(run, data, startEpoch);
    const spec = modelSpec(run.config, data.dataset.classNames);
    const runner = await buildRunner(run, features, spec.classNames.length, resumeFrom);
    const outcome = await runEpochs(run, folder, data, features, spec, runner, resumeFrom);
    await calibrateOpenSet(run, folder, data, features);
    return { ...finish(run, folder, data, features, spec, startEpoch, resumeFrom, outcome), trainEngine: runner.engine ?? 'js' };
  } catch (err) {
    if (createdDir && !(await hasCheckpoint(folder.checkpointDir))) await fs.rm(createdDir, { recursive: true, force: true });
    throw err;
  }
}

/** A run already in the folder is never replaced unless asked (overwrite) or continued (resume): RUN_EXISTS, nothing touched. */
export async function refuseExistingRun(resolved: { outDir: string; resume?: boolean; overwrite?: boolean }): Promise<void> {
  if (resolved.resume || resolved.overwrite) return;
  const existing = await existingRun(resolved.outDir);
  if (!existing) return;
  throw new ImgclsError(`${resolved.outDir} already holds a training run (${existing}); nothing was changed`, 'RUN_EXISTS', resolved.outDir,
    'Continue it with --resume (resume: true), replace it with --overwrite (overwrite: true), or choose another --out folder.');
}

/** What makes a folder a training run: a checkpoint or a non-empty history.jsonl; described for the message, else undefined. */
export async function existingRun(outDir: string): Promise<string | undefined> {
  const checkpoints = (await fs.readdir(path.join(outDir, 'checkpoints')).catch(() => [] as string[])).filter((name) => name.endsWith(CHECKPOINT_EXTENSION));
  if (checkpoints.length) return `${checkpoints.length} checkpoint(s) in checkpoints/`;
  const history = await fs.stat(path.join(outDir, 'history.jsonl')).catch(() => undefined);
  return history && history.size > 0 ? 'a history.jsonl' : undefined;
}

async function hasCheckpoint(checkpointDir: string): Promise<boolean> {
  return (await fs.readdir(checkpointDir).catch(() => [] as string[])).some((name) => name.endsWith(CHECKPOINT_EXTENSION));
}

/** The outermost folder of `dir` that does not exist yet (what mkdir -p would create), or undefined. */
async function firstMissingDir(dir: string): Promise<string | undefined> {
  let missing: string | undefined;
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (await fs.stat(current).then(() => true, () => false)) return missing;
    missing = current;
    if (path.dirname(current) === current) return missing;
  }
}

/** Notices about the data before any work: images outside the class folders, validation images that are copies of training images. */
function warnAboutData(run: Run, data: RunData): void {
  const { dataset } = data;
  const loose = dataset.loose ?? [];
  if (loose.length) {
    run.say(`${loose.length} image(s) lie outside every class folder and are not used (${loose.slice(0, 3).map((f) => path.relative(dataset.root, f)).join(', ')}${loose.length > 3 ? ', …' : ''}); move each into its class folder`);
  }
  const leaks = countLeaks(data.trainItems, data.validItems);
  if (leaks > 0) run.say(leakWarning(leaks, data.validItems.length, dataset.layout));
}

/** Step 1: the resolved config, the cached output it needs, and the progress/notice channel. */
async function resolveRun(config: TrainConfig, options: TrainOptions): Promise<Run> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const resolved = resolveTrainConfig(config);
  const messages: string[] = [];
  const notify = (progress: Omit<TrainProgress, 'elapsedMs'>) => options.onProgress?.({ ...progress, elapsedMs: elapsed() });
  const say = (message: string, epoch = 0) => {
    messages.push(message);
    notify({ phase: 'train', epoch, epochs: resolved.epochs, step: 0, steps: 0, message });
  };
  // head mode caches pooled features, top-k the activations at the frozen boundary, full the preprocessed images
  // (model/head.js loads TF.js: imported only when top-k needs it)
  const output = resolved.mode === 'top-k' ? (await import('../model/head.js')).topKBoundary(resolved.topK) : resolved.mode === 'full' ? IMAGE_OUTPUT : 'pooled';
  return { config: resolved, output, signal: options.signal, messages, elapsed, notify, say };
}

/** Step 2: the run folder exists and holds no temp file of an interrupted write. */
async function openRunFolder(run: Run): Promise<RunFolder> {
  const outDir = run.config.outDir;
  const checkpointDir = path.join(outDir, 'checkpoints');
  await fs.mkdir(checkpointDir, { recursive: true });
  await removeStaleTempFiles(checkpointDir);
  await removeStaleTempFiles(outDir);
  return {
    outDir,
    checkpointDir,
    historyFile: path.join(outDir, 'history.jsonl'),
    lastFile: path.join(checkpointDir, `last${CHECKPOINT_EXTENSION}`),
    bestFile: path.join(checkpointDir, `best${CHECKPOINT_EXTENSION}`),
  };
}

/** Step 3: scan the dataset and hash every file (a changed file changes its cache key and the fingerprint). */
async function readDataset(run: Run): Promise<RunData> {
  const dataset = await scanDataset(run.config.data, { validPct: run.config.validPct, seed: run.config.seed });
  const skipped: SkippedFile[] = [];
  const [trainItems, validItems] = await Promise.all([hashAll(dataset.train, skipped), hashAll(dataset.valid, skipped)]);
  const fingerprint = datasetFingerprint(dataset.classNames, { train: trainItems, valid: validItems });
  return { dataset, trainItems, validItems, fingerprint, skipped };
}

/**
 * Step 4: with resume, the last checkpoint (checked against the dataset and config) and the history
 * cut back to it; otherwise the run folder's history and checkpoints are cleared.
 */
async function resumeOrReset(run: Run, folder: RunFolder, data: RunData): Promise<Checkpoint | undefined> {
  const { config: resolved, say } = run;
  const { lastFile, historyFile, checkpointDir } = folder;
  const { classNames } = data.dataset;
  let resumeFrom: Checkpoint | undefined;
  if (resolved.resume) {
    resumeFrom = await loadCheckpoint(lastFile).catch((err: unknown) => {
      if (err instanceof ImgclsError && err.code === 'CHECKPOINT_NOT_FOUND') return undefined;
      throw err;
    });
    if (!resumeFrom) say(`resume: no ${path.relative(resolved.outDir, lastFile)} yet, starting a new run`);
  }
  if (resumeFrom) {
    const previous = resumeFrom.training.config as Partial<ResolvedTrainConfig>;
    if (JSON.stringify(resumeFrom.spec.classNames) !== JSON.stringify(classNames)) {
      throw new ImgclsError(`the checkpoint's classes (${resumeFrom.spec.classNames.join(', ')}) differ from the dataset's (${classNames.join(', ')})`,
        'CLASS_COUNT_MISMATCH', lastFile, 'Resume with the same dataset, or start a new run without --resume.');
    }
    if (resumeFrom.spec.mode !== resolved.mode || previous.optimizer !== resolved.optimizer || (resolved.mode === 'top-k' && resumeFrom.spec.topK !== resolved.topK)) {
      throw new ImgclsError(`the run was trained with mode ${resumeFrom.spec.mode} and optimizer ${String(previous.optimizer)}; asked for ${resolved.mode} and ${resolved.optimizer}`,
        'CHECKPOINT_INCOMPATIBLE', lastFile, 'Resume with the same mode and optimizer, or start a new run in another --out folder.');
    }
    if (resumeFrom.training.datasetFingerprint !== data.fingerprint) say('resume: the dataset changed since the checkpoint (files or labels differ); continuing on the current files');
    await truncateHistory(historyFile, resumeFrom.training.epoch);
    say(`resume: continuing after epoch ${resumeFrom.training.epoch} from ${path.relative(resolved.outDir, lastFile)}`, resumeFrom.training.epoch);
  } else {
    // a fresh run replaces the run folder's history and checkpoints
    await fs.writeFile(historyFile, '');
    for (const name of await fs.readdir(checkpointDir)) if (name.endsWith(CHECKPOINT_EXTENSION)) await fs.rm(path.join(checkpointDir, name), { force: true });
  }
  return resumeFrom;
}

/** A fresh run says how long each mode would take on this machine. */
async function announceEstimates(run: Run, data: RunData): Promise<void> {
  const resolved = run.config;
  const { trainItems, validItems } = data;
  // features are computed once (cached); full mode would train the whole network on every image every epoch
  // top-k and full train on libtorch or TF.js: their estimate depends on which (head mode does not load either for this)
  const onTorch = resolved.mode !== 'head' && resolveTrainEngine(resolved.trainEngine).engine === 'libtorch';
  const backend = resolved.mode === 'head' ? 'wasm' : onTorch ? 'libtorch' : await (await import('../backend/backend.js')).initBackend();
  const work = { images: trainItems.length * (1 + resolved.augmentViews) + validItems.length, epochs: resolved.epochs, engine: resolved.engine, inputSize: resolved.preprocessing.inputSize, backend };
  const estimates = { head: estimateTrainingMs('head', work), 'top-k': estimateTrainingMs('top-k', { ...work, trainImages: trainItems.length, validImages: validItems.length }), full: estimateTrainingMs('full', { ...work, images: trainItems.length, validImages: validItems.length }) };
  const fastest = (Object.keys(estimates) as (keyof typeof estimates)[]).sort((a, b) => estimates[a] - estimates[b])[0];
  run.say(`estimated time on this machine: head ≈ ${formatDuration(estimates.head)}, top-k ≈ ${formatDuration(estimates['top-k'])}, full ≈ ${formatDuration(estimates.full)} (${backend === 'libtorch' ? 'top-k/full on libtorch' : `TF.js ${backend}`}); ` +
    `${fastest} is the fastest, ${resolved.mode} is running`);
}

/** Step 5: every train view and every validation image, from the cache or the engine. */
async function prepareFeatures(run: Run, data: RunData, startEpoch: number): Promise<RunFeatures> {
  const { config: resolved, output, notify, say } = run;
  const featureStarted = performance.now();
  let engine: BackboneEngine | undefined;
  let enginePromise: Promise<BackboneEngine> | undefined;
  const getEngine = () => (enginePromise ??= createBackboneEngine(resolved.engine).then((selected) => {
    engine = selected;
    if (selected.fallbackReason) say(`features on ${selected.name}: ${selected.fallbackReason}`);
    return selected;
  }));
  const views = resolved.augmentViews + 1;
  const jobs: FeatureJob[] = [
    ...data.trainItems.flatMap((item) => Array.from({ length: views }, (_, view) => ({ file: item.file, hash: item.hash, view }))),
    ...data.validItems.map((item) => ({ file: item.file, hash: item.hash, view: 0 })),
  ];
  let featureSet: FeatureSet;
  try {
    featureSet = await computeFeatures(jobs, {
      cacheDir: resolved.cacheDir,
      preprocessing: resolved.preprocessing,
      output,
      getEngine,
      signal: run.signal,
      onProgress: (done, total, imagesPerSec) =>
        notify({ phase: 'features', epoch: startEpoch, epochs: resolved.epochs, step: done, steps: total, imagesPerSec, etaMs: ((total - done) / Math.max(imagesPerSec, 1e-9)) * 1000 }),
    });
  } finally {
    // also when cancelled while the engine was still loading
    await enginePromise?.then((loaded) => loaded.dispose(), () => undefined);
  }
  const engineName = (engine as BackboneEngine | undefined)?.name ?? null;
  data.skipped.push(...featureSet.skipped);
  const featuresMs = performance.now() - featureStarted;
  const toSample = (item: ImageItem & { hash: string }, count: number): Sample | undefined => {
    const keys = Array.from({ length: count }, (_, view) => featureKey({ hash: item.hash, view }, resolved.preprocessing, output));
    return keys.every((key) => featureSet.byKey.has(key)) ? { label: item.label, keys } : undefined;
  };
  const trainSamples = data.trainItems.map((item) => toSample(item, views)).filter((s): s is Sample => s !== undefined);
  const validSamples = data.validItems.map((item) => toSample(item, 1)).filter((s): s is Sample => s !== undefined);
  if (trainSamples.length === 0) {
    throw new ImgclsError('no training image could be decoded', 'NO_IMAGES', resolved.data, 'See the skipped files and their reasons with imgcls data report.');
  }
  const inputDim = featureSet.byKey.get(trainSamples[0].keys[0])!.length;
  const gather = (samples: readonly Sample[], indices: readonly number[], pickView: (index: number) => number): Float32Array => {
    const out = new Float32Array(indices.length * inputDim);
    indices.forEach((sampleIndex, row) => out.set(featureSet.byKey.get(samples[sampleIndex].keys[pickView(sampleIndex)])!, row * inputDim));
    return out;
  };
  return { featureSet, engineName, featuresMs, trainSamples, validSamples, views, inputDim, gather };
}

/** What a checkpoint of this run says about its model. */
function modelSpec(resolved: ResolvedTrainConfig, classNames: string[]): ModelSpec {
  return {
    arch: 'efficientnet-b0',
    classNames,
    preprocessing: resolved.preprocessing,
    dropout: resolved.dropout,
    mode: resolved.mode,
    ...(resolved.mode === 'top-k' ? { topK: resolved.topK } : {}),
  };
}

/** Step 6: class weights (with an imbalance notice) and the mode's trainable part, restored when resuming. */
async function buildRunner(run: Run, features: RunFeatures, numClasses: number, resumeFrom: Checkpoint | undefined): Promise<ModeRunner> {
  const resolved = run.config;
  const trainLabels = features.trainSamples.map((s) => s.label);
  const classWeights = computeClassWeights(trainLabels, numClasses, resolved.classWeights);
  const counts = computeClassWeights(trainLabels, numClasses, 'none').map((_, c) => trainLabels.filter((l) => l === c).length);
  if (Math.max(...counts) > 1.5 * Math.min(...counts) && resolved.classWeights === 'none') {
    run.say(`classes are imbalanced (${counts.join(' / ')} training images); consider classWeights 'balanced'`);
  }
  const restored = resumeFrom ? { head: checkpointHead(resumeFrom), weights: resumeFrom.weights, steps: resumeFrom.training.optimizerSteps } : undefined;
  const runner = await createModeRunner(resolved, { inputDim: features.inputDim, numClasses, classWeights, resumeFrom: restored });
  if (runner.engineNote) run.say(`${resolved.mode} trains on TF.js: ${runner.engineNote}`);
  return runner;
}

/** Step 7: the epochs after the start epoch; each one trains, validates, writes history and checkpoints. Disposes the runner. */
async function runEpochs(run: Run, folder: RunFolder, data: RunData, features: RunFeatures, spec: ModelSpec, runner: ModeRunner, resumeFrom: Checkpoint | undefined): Promise<EpochsOutcome> {
  const { config: resolved, signal, notify } = run;
  const { trainSamples } = features;
  const startEpoch = resumeFrom ? resumeFrom.training.epoch : 0;
  const trainStarted = performance.now();
  const stepsPerEpoch = Math.ceil(trainSamples.length / resolved.batchSize);
  let saved: string[] = [];
  let best: Best | undefined = resumeFrom?.training.best
    ? { epoch: resumeFrom.training.best.epoch, accuracy: resumeFrom.training.best.val_accuracy ?? 0, loss: resumeFrom.training.best.val_loss ?? Infinity }
    : undefined;
  let final: CheckpointMetrics | null = resumeFrom?.metrics ?? null;
  let lastSavedEpoch = startEpoch;
  const pace = { stepsDone: 0, totalSteps: (resolved.epochs - startEpoch) * stepsPerEpoch, trainStarted, stepsPerEpoch };
  try {
    for (let epoch = startEpoch + 1; epoch <= resolved.epochs; epoch++) {
      const epochStarted = performance.now();
      const trained = await trainEpoch(run, folder, features, runner, epoch, lastSavedEpoch, pace);
      cancelled(signal, lastSavedEpoch, resolved.outDir);
      notify({ phase: 'validate', epoch, epochs: resolved.epochs, step: stepsPerEpoch, steps: stepsPerEpoch });
      const validation = await validateEpoch(features, runner, data.dataset.classNames);
      const metrics: CheckpointMetrics = {
        loss: trained.lossSum / trainSamples.length,
        accuracy: trained.correctSum / trainSamples.length,
        val_loss: validation?.loss ?? null,
        val_accuracy: validation?.accuracy ?? null,
        val_recall: validation?.recall ?? null,
      };
      final = metrics;
      if (validation?.warning) run.say(`epoch ${epoch}: ${validation.warning}`, epoch);
      const monitored = validation ? { accuracy: validation.accuracy, loss: validation.loss } : { accuracy: metrics.accuracy, loss: metrics.loss };
      const improved = isBetter(resolved.monitor, monitored, best);
      if (improved) best = { epoch, ...monitored };
      saved.push(...await saveEpoch(run, folder, data, features, spec, runner, resumeFrom, { epoch, epochStarted, metrics, validation, improved, best }));
      const removed = await pruneEpochCheckpoints(folder, resolved.keepCheckpoints);
      saved = saved.filter((file) => !removed.includes(file));
      lastSavedEpoch = epoch;
      notify({ phase: 'validate', epoch, epochs: resolved.epochs, step: stepsPerEpoch, steps: stepsPerEpoch, loss: metrics.val_loss ?? metrics.loss, accuracy: metrics.val_accuracy ?? metrics.accuracy });
    }
  } finally {
    runner.dispose();
  }
  return { best, final, saved, trainMs: performance.now() - trainStarted };
}

/** One epoch of optimizer steps over the shuffled training samples, each step recorded in the history. */
async function trainEpoch(
  run: Run, folder: RunFolder, features: RunFeatures, runner: ModeRunner, epoch: number, lastSavedEpoch: number,
  pace: { stepsDone: number; totalSteps: number; trainStarted: number; stepsPerEpoch: number },
): Promise<{ lossSum: number; correctSum: number }> {
  const { config: resolved, signal, notify } = run;
  const { trainSamples, views, gather } = features;
  const { stepsPerEpoch } = pace;
  // every random choice of an epoch comes from (seed, epoch): a resumed run repeats an uninterrupted one
  const random = randomStream(resolved.seed, 1, epoch);
  const order = shuffledIndices(trainSamples.length, random);
  const viewOf = trainSamples.map(() => (views > 1 ? Math.floor(random() * views) : 0));
  let lossSum = 0;
  let correctSum = 0;
  for (let step = 1; step <= stepsPerEpoch; step++) {
    cancelled(signal, lastSavedEpoch, resolved.outDir);
    const stepStarted = performance.now();
    const indices = order.slice((step - 1) * resolved.batchSize, step * resolved.batchSize);
    const labels = indices.map((i) => trainSamples[i].label);
    const { loss, correct } = await runner.step(gather(trainSamples, indices, (i) => viewOf[i]), labels, randomStream(resolved.seed, 2, epoch, step));
    lossSum += loss * indices.length;
    correctSum += correct;
    pace.stepsDone++;
    const timeMs = performance.now() - stepStarted;
    const record: StepRecord = { type: 'step', epoch, step, steps: stepsPerEpoch, loss, accuracy: correct / indices.length, lr: resolved.learningRate, timeMs };
    await appendHistory(folder.historyFile, record);
    const trainElapsed = performance.now() - pace.trainStarted;
    notify({
      phase: 'train', epoch, epochs: resolved.epochs, step, steps: stepsPerEpoch, loss, accuracy: record.accuracy,
      etaMs: (trainElapsed / pace.stepsDone) * (pace.totalSteps - pace.stepsDone),
      stepsPerSec: (pace.stepsDone * 1000) / Math.max(trainElapsed, 1e-3),
      imagesPerSec: ((pace.stepsDone * trainSamples.length) / stepsPerEpoch / Math.max(trainElapsed, 1e-3)) * 1000,
    });
  }
  return { lossSum, correctSum };
}

/** Validation of one epoch: loss, accuracy, per-class recall, collapse onto one class (null without validation images). */
async function validateEpoch(features: RunFeatures, runner: ModeRunner, classNames: readonly string[]): Promise<ValidationMetrics | null> {
  const { validSamples, gather } = features;
  if (validSamples.length === 0) return null;
  const indices = validSamples.map((_, i) => i);
  const probabilities = await runner.predict(gather(validSamples, indices, () => 0), indices.length);
  return validationMetrics(probabilities, validSamples.map((s) => s.label), classNames);
}

/** Deletes epoch checkpoints older than the newest `keep` (best and last are names of their own); returns the deleted paths. */
async function pruneEpochCheckpoints(folder: RunFolder, keep: number | 'all'): Promise<string[]> {
  if (keep === 'all') return [];
  const epochFiles = (await fs.readdir(folder.checkpointDir))
    .map((name) => ({ name, epoch: EPOCH_FILE.exec(name)?.[1] }))
    .filter((entry): entry is { name: string; epoch: string } => entry.epoch !== undefined)
    .sort((a, b) => Number(b.epoch) - Number(a.epoch));
  const removed = epochFiles.slice(keep).map((entry) => path.join(folder.checkpointDir, entry.name));
  for (const file of removed) await fs.rm(file, { force: true });
  return removed;
}

/** Writes an epoch's history record and checkpoints; returns the epoch checkpoints written (not last/best). */
async function saveEpoch(
  run: Run, folder: RunFolder, data: RunData, features: RunFeatures, spec: ModelSpec, runner: ModeRunner, resumeFrom: Checkpoint | undefined,
  epochResult: { epoch: number; epochStarted: number; metrics: CheckpointMetrics; validation: ValidationMetrics | null; improved: boolean; best: Best | undefined },
): Promise<string[]> {
  const resolved = run.config;
  const { epoch, metrics, validation, improved, best } = epochResult;
  const names = [
    ...((epoch % resolved.saveInterval === 0 || epoch === resolved.epochs) && resolved.keepCheckpoints !== 0 ? [epochCheckpointName(epoch)] : []),
    ...(improved ? [`best${CHECKPOINT_EXTENSION}`] : []),
    `last${CHECKPOINT_EXTENSION}`,
  ];
  // the epoch record goes first: after a kill between the two, resume truncates it with the unsaved epoch
  const epochRecord: EpochRecord = {
    type: 'epoch', epoch, epochs: resolved.epochs, ...metrics, lr: resolved.learningRate, timeMs: performance.now() - epochResult.epochStarted,
    ...(validation?.warning ? { warning: validation.warning } : {}),
    checkpoints: names.map((name) => `checkpoints/${name}`),
  };
  await appendHistory(folder.historyFile, epochRecord);
  const training: CheckpointTraining = {
    config: { ...resolved },
    epoch,
    epochs: resolved.epochs,
    datasetFingerprint: data.fingerprint,
    best: best && { epoch: best.epoch, val_accuracy: best.accuracy, val_loss: best.loss },
    optimizerSteps: runner.optimizerSteps,
    engine: features.engineName ?? resumeFrom?.training.engine,
    trainEngine: runner.engine,
  };
  const weights = runner.weights();
  // last.imgcls is written last: it is what --resume reads, so everything it claims already exists
  // the bytes are written (and fsynced) once; the other names are hard links renamed into place
  const files = names.map((name) => path.join(folder.checkpointDir, name));
  await writeCheckpoint(files[0], { spec, training, metrics, weights });
  for (const file of files.slice(1)) await linkFileAtomic(files[0], file);
  return files.filter((file) => file !== folder.lastFile && file !== folder.bestFile);
}

/** Step 8: the open-set data (training images' features and the verdict's threshold) into best and last. */
async function calibrateOpenSet(run: Run, folder: RunFolder, data: RunData, features: RunFeatures): Promise<void> {
  const files = [folder.bestFile, folder.lastFile];
  const exist = await Promise.all(files.map((file) => fs.stat(file).then(() => true, () => false)));
  if (!exist.every(Boolean)) return;
  const resolved = run.config;
  run.say(await calibrateRunCheckpoints({
    files, trainItems: data.trainItems, featureSet: features.featureSet, preprocessing: resolved.preprocessing, output: run.output, seed: resolved.seed,
    cacheDir: resolved.cacheDir, engine: resolved.engine, signal: run.signal,
  }), resolved.epochs);
}

/** Step 9: the run is done; what it wrote and measured. */
function finish(
  run: Run, folder: RunFolder, data: RunData, features: RunFeatures, spec: ModelSpec, startEpoch: number, resumeFrom: Checkpoint | undefined, outcome: EpochsOutcome,
): Omit<TrainResult, 'trainEngine'> {
  const resolved = run.config;
  run.notify({ phase: 'done', epoch: resolved.epochs, epochs: resolved.epochs, step: 0, steps: 0 });
  return {
    outDir: resolved.outDir,
    historyFile: folder.historyFile,
    checkpoints: { last: folder.lastFile, best: folder.bestFile, saved: outcome.saved },
    spec,
    config: resolved,
    epochsRun: Math.max(0, resolved.epochs - startEpoch),
    resumedFromEpoch: resumeFrom ? startEpoch : null,
    bestEpoch: outcome.best?.epoch ?? startEpoch,
    final: outcome.final ?? { loss: NaN, accuracy: NaN, val_loss: null, val_accuracy: null, val_recall: null },
    trainCount: features.trainSamples.length,
    validCount: features.validSamples.length,
    layout: data.dataset.layout,
    skipped: data.skipped,
    messages: run.messages,
    engine: features.engineName,
    cache: { dir: resolved.cacheDir, hits: features.featureSet.cacheHits, computed: features.featureSet.computed },
    timings: { featuresMs: features.featuresMs, trainMs: outcome.trainMs, totalMs: run.elapsed() },
  };
}
