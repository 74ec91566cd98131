// Benchmark: the open-set verdict. Trains `head` and `top-k` models with defaults on the lesson data
// (../shared/lesson-data), classifies open-set images that are neither logo posters nor cats (gathered
// on demand from Debian packages by scripts/gather-open-set.mjs into .cache/openset/, never committed)
// and prints, per model:
//   - logo recall, leave-one-out over the training images (the lesson's val/ is a copy of train/):
//     head mode retrains the head without each image; top-k uses the trained model's own class
//     (retraining top-k 19 times is too slow here) with the leave-one-out kNN score;
//   - the share of open-set images called `logo` on probability alone, and with each candidate verdict;
//   - the AUROC and FPR@95%TPR of each candidate score (in = training images, leave-one-out for kNN).
// Candidates: kNN distance (k=1, k=5) on L2-normalised features (Sun et al. 2022), class-conditional
// kNN (nearest training image of the predicted class), energy (Liu et al. 2020), 1 − max softmax, and
// kNN+energy z-scored on the training scores. No PyTorch peer: this measures quality, not speed.
//
//   npm run bench:openset
//   npm run bench:openset -- --modes head --skip-loo      # quick
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scanDataset } from '../src/data/scan.js';
import { streamBatches } from '../src/data/stream.js';
import { loadClassifier, rankPredictions } from '../src/model/classifier.js';
import { createBackboneEngine } from '../src/model/engine.js';
import {
  auroc, conformalThreshold, energyScores, falsePositiveRateAt, knnScore, leaveOneOutKnnScores, normalizeRows, pairwiseDistances, quantile,
} from '../src/model/open-set.js';
import { headLogits } from '../src/model/dense-head.js';
import type { Classifier } from '../src/model/types.js';
import { train } from '../src/train/train.js';
import type { TrainMode } from '../src/model/types.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Outputs {
  pooled: Float32Array;
  logits: Float32Array;
  probabilities: Float32Array;
  predicted: string[];
  files: string[];
}

async function outputsOf(classifier: Classifier, files: readonly string[]): Promise<Outputs> {
  const pooled: number[] = [];
  const done: string[] = [];
  for await (const batch of streamBatches(files, { batchSize: 8, preprocessing: classifier.spec.preprocessing })) {
    if (batch.count === 0) continue;
    pooled.push(...(await classifier.pooledFeatures!(batch)));
    done.push(...batch.files);
  }
  const count = done.length;
  const features = Float32Array.from(pooled);
  const logits = headLogits(classifier.head, features, count);
  const probabilities = new Float32Array(logits.length);
  const numClasses = classifier.head.numClasses;
  for (let i = 0; i < count; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    row.forEach((v, c) => (probabilities[i * numClasses + c] = Math.exp(v - max) / sum));
  }
  const predicted = done.map((_, i) => rankPredictions(probabilities.subarray(i * numClasses, (i + 1) * numClasses), classifier.spec, 1)[0].className);
  return { pooled: features, logits, probabilities, predicted, files: done };
}

function zScored(values: Float64Array, reference: Float64Array): Float64Array {
  const mean = reference.reduce((s, v) => s + v, 0) / reference.length;
  const std = Math.sqrt(reference.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(reference.length - 1, 1)) || 1;
  return values.map((v) => (v - mean) / std);
}

/** Every candidate score of the training images (leave-one-out where it applies) and of the open-set images. */
function candidateScores(train: Outputs, open: Outputs, classNames: readonly string[]): Record<string, { inScores: Float64Array; outScores: Float64Array }> {
  const n = train.files.length;
  const m = open.files.length;
  const dim = train.pooled.length / n;
  const numClasses = classNames.length;
  const trainNorm = normalizeRows(train.pooled, n, dim);
  const openNorm = normalizeRows(open.pooled, m, dim);
  const openDistances = pairwiseDistances(openNorm, m, trainNorm, n, dim);
  const trainDistances = pairwiseDistances(trainNorm, n, trainNorm, n, dim);
  const knnOut = (k: number) => Float64Array.from({ length: m }, (_, i) => knnScore(openDistances.subarray(i * n, (i + 1) * n), k));
  const trainLabels = train.predicted;
  const classKnn = (row: Float32Array, className: string, exclude: number) => {
    let best = Infinity;
    for (let j = 0; j < n; j++) if (j !== exclude && trainLabels[j] === className) best = Math.min(best, row[j]);
    return best;
  };
  const msp = (o: Outputs, count: number) => Float64Array.from({ length: count }, (_, i) => 1 - Math.max(...o.probabilities.subarray(i * numClasses, (i + 1) * numClasses)));
  const knn1In = leaveOneOutKnnScores(trainNorm, n, dim, 1);
  const knn1Out = knnOut(1);
  const energyIn = energyScores(train.logits, n, numClasses);
  const energyOut = energyScores(open.logits, m, numClasses);
  const combinedIn = zScored(knn1In, knn1In).map((v, i) => v + zScored(energyIn, energyIn)[i]);
  const combinedOut = zScored(knn1Out, knn1In).map((v, i) => v + zScored(energyOut, energyIn)[i]);
  return {
    'kNN k=1': { inScores: knn1In, outScores: knn1Out },
    'kNN k=5': { inScores: leaveOneOutKnnScores(trainNorm, n, dim, Math.min(5, n - 1)), outScores: knnOut(Math.min(5, n - 1)) },
    'class kNN k=1': {
      inScores: Float64Array.from({ length: n }, (_, i) => classKnn(trainDistances.subarray(i * n, (i + 1) * n), train.predicted[i], i)),
      outScores: Float64Array.from({ length: m }, (_, i) => classKnn(openDistances.subarray(i * n, (i + 1) * n), open.predicted[i], -1)),
    },
    energy: { inScores: energyIn, outScores: energyOut },
    '1 - max softmax': { inScores: msp(train, n), outScores: msp(open, m) },
    'kNN+energy (z)': { inScores: combinedIn, outScores: combinedOut },
  };
}

/** Each training image's class from a head trained without it (head mode: cheap, the features are cached). */
async function leaveOneOutClasses(data: string, work: string, cacheDir: string, files: readonly string[]): Promise<string[]> {
  const dataset = await scanDataset(data);
  const engine = await createBackboneEngine('auto');
  const classes: string[] = [];
  try {
    for (const [i, heldOut] of files.entries()) {
      const root = path.join(work, `loo-${i}`);
      await fs.rm(root, { recursive: true, force: true });
      // the lesson's layout: train/ and val/ hold the same images (here without the held-out one)
      for (const split of ['train', 'val']) {
        for (const item of dataset.train) {
          if (item.file === heldOut) continue;
          const target = path.join(root, split, dataset.classNames[item.label], path.basename(item.file));
          await fs.mkdir(path.dirname(target), { recursive: true });
          await fs.copyFile(item.file, target);
        }
      }
      const result = await train({ data: root, outDir: path.join(root, 'run'), mode: 'head', cacheDir });
      const classifier = await loadClassifier(result.checkpoints.best, { engine });
      classes.push((await classifier.classify(heldOut, 1))[0].className);
      await classifier.dispose();
      process.stderr.write(`  leave-one-out ${i + 1}/${files.length}\r`);
    }
  } finally {
    await engine.dispose();
  }
  process.stderr.write('\n');
  return classes;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.resolve(REPO_ROOT, '../shared/lesson-data') },
      modes: { type: 'string', default: 'head,top-k' },
      positive: { type: 'string', default: 'logo' },
      'skip-loo': { type: 'boolean', default: false },
    },
  });
  const gather = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/gather-open-set.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (gather.status !== 0) throw new Error('could not gather the open-set images (see above)');
  process.stdout.write(gather.stdout);
  const openDir = path.join(REPO_ROOT, '.cache/openset/images');
  const manifest = JSON.parse(await fs.readFile(path.join(openDir, 'manifest.json'), 'utf8')) as { images: { file: string }[] };
  const openFiles = manifest.images.map((entry) => path.join(openDir, entry.file));
  const work = path.join(os.tmpdir(), 'imgcls-bench-openset');
  const cacheDir = path.join(work, 'cache');
  const data = path.resolve(values.data!);
  const dataset = await scanDataset(data);
  const trainFiles = dataset.train.map((item) => item.file);
  const positive = values.positive!;
  process.stdout.write(`data: ${data} (${trainFiles.length} training images); open set: ${openFiles.length} images\n`);

  for (const mode of values.modes!.split(',') as TrainMode[]) {
    const started = performance.now();
    const result = await train({ data, outDir: path.join(work, `run-${mode}`), mode, cacheDir });
    const trainSeconds = (performance.now() - started) / 1000;
    const checkpointBytes = (await fs.stat(result.checkpoints.best)).size;
    const classifier = await loadClassifier(result.checkpoints.best);
    const trainOut = await outputsOf(classifier, trainFiles);
    const openOut = await outputsOf(classifier, openFiles);
    const threshold = classifier.openSet?.threshold;
    await classifier.dispose();
    const classNames = classifier.spec.classNames;
    const scores = candidateScores(trainOut, openOut, classNames);
    const looClasses = mode === 'head' && !values['skip-loo']
      ? await leaveOneOutClasses(data, work, cacheDir, trainOut.files)
      : trainOut.predicted;
    const isPositive = trainOut.files.map((file) => dataset.classNames[dataset.train.find((item) => item.file === file)!.label] === positive);
    const positives = isPositive.filter(Boolean).length;
    const recallOf = (passes: (i: number) => boolean) => isPositive.filter((p, i) => p && looClasses[i] === positive && passes(i)).length / Math.max(positives, 1);
    const calledPositive = openOut.predicted.map((name) => name === positive);
    const share = (passes: (i: number) => boolean) => calledPositive.filter((c, i) => c && passes(i)).length / openOut.files.length;

    process.stdout.write(`\n== ${mode}: trained in ${trainSeconds.toFixed(0)} s (loaded), best checkpoint ${(checkpointBytes / 1024).toFixed(0)} KB, stored threshold ${threshold?.toFixed(4)}\n`);
    process.stdout.write(`${positive} recall (${mode === 'head' && !values['skip-loo'] ? 'leave-one-out head' : 'trained model\'s class'}), probability alone: ${pct(recallOf(() => true))}\n`);
    process.stdout.write(`open-set images called ${positive}, probability alone: ${pct(share(() => true))} (${calledPositive.filter(Boolean).length}/${openOut.files.length})\n`);
    process.stdout.write(`threshold rules: q95 = 95th percentile of the training scores; conformal = the ⌈(n+1)·0.95⌉-th smallest (what imgcls stores)\n`);
    process.stdout.write(`${'score'.padEnd(18)} ${'AUROC'.padStart(6)} ${'FPR@95'.padStart(7)} ${`recall q95`.padStart(11)} ${`open→${positive} q95`.padStart(14)} ${`recall conf.`.padStart(13)} ${`open→${positive} conf.`.padStart(16)}\n`);
    for (const [name, { inScores, outScores }] of Object.entries(scores)) {
      const cut = quantile(inScores, 0.95);
      const conformal = conformalThreshold(inScores, 0.95);
      process.stdout.write(`${name.padEnd(18)} ${auroc(inScores, outScores).toFixed(3).padStart(6)} ${pct(falsePositiveRateAt(inScores, outScores)).padStart(7)} ` +
        `${pct(recallOf((i) => inScores[i] <= cut)).padStart(11)} ${pct(share((i) => outScores[i] <= cut)).padStart(14)} ` +
        `${pct(recallOf((i) => inScores[i] <= conformal)).padStart(13)} ${pct(share((i) => outScores[i] <= conformal)).padStart(16)}\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`✖ ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
