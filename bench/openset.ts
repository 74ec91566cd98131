// Benchmark: the open-set verdict. Trains `head` and `top-k` models with defaults on the lesson data
// (../shared/lesson-data), classifies open-set images that are neither logo posters nor cats (gathered
// on demand from Debian packages by scripts/gather-open-set.mjs into .cache/openset/, never committed)
// and prints, per model:
//   - logo recall, leave-one-out over the training images (the lesson's val/ is a copy of train/):
//     head mode retrains the head without each image; top-k uses the trained model's own class
//     (retraining top-k 19 times is too slow here) with the leave-one-out kNN score;
//   - the share of open-set images called `logo` on probability alone, and with each candidate verdict;
//   - the AUROC and FPR@95%TPR of each candidate score (in = training images, leave-one-out for kNN);
//   - the open-set counts on both halves of a split: the even-indexed evaluated images chose the rule and the layers
//     (the default adds two pooled stages, see OPEN_SET_LAYERS, for why these), the odd-indexed ones report.
// Candidates: kNN distance (k=1, k=5) on L2-normalised features (Sun et al. 2022), class-conditional
// kNN (nearest training image of the predicted class), energy (Liu et al. 2020), 1 − max softmax, and
// kNN+energy z-scored on the training scores. Then the verdict rules as imgcls stores them (global threshold vs per
// predicted class, with a median ± k·MAD cap or floor), each on the lesson data as is and with the set-aside tenth of
// the open-set images (as the lesson's open-set section) added to train/others; those are never evaluated.
// No PyTorch peer: this measures quality, not speed.
//
//   npm run bench:openset
//   npm run bench:openset -- --modes head --skip-loo --scenarios lesson     # quick
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listImageFiles, scanDataset } from '../src/data/scan.js';
import { streamBatches } from '../src/data/stream.js';
import { loadClassifier, rankPredictions } from '../src/model/classifier.js';
import { createBackboneEngine } from '../src/model/engine.js';
import {
  auroc, buildOpenSet, conformalThreshold, energyScores, falsePositiveRateAt, knnScore, leaveOneOutKnnScores, leaveOneOutVerdictScores, normalizeRows,
  layerChannels, OPEN_SET_LAYERS, openSetLayersFor, openSetVerdicts, pairwiseDistances, poolLayers, quantile, type BuildOpenSetOptions,
} from '../src/model/open-set.js';
import { headLogits } from '../src/model/dense-head.js';
import type { BackboneEngine, Classifier } from '../src/model/types.js';
import { train } from '../src/train/train.js';
import type { TrainMode } from '../src/model/types.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The intermediate stages compared as candidates (each global-average-pooled): stride 4, 8, 16, 16 and 32 outputs. */
const CANDIDATE_LAYERS = ['block2b_add', 'block3b_add', 'block4c_add', 'block5c_add', 'block6d_add'];

interface Outputs {
  pooled: Float32Array;
  /** CANDIDATE_LAYERS pooled, concatenated per image (poolLayers). */
  layers: Float32Array;
  logits: Float32Array;
  probabilities: Float32Array;
  predicted: string[];
  files: string[];
}

async function outputsOf(classifier: Classifier, engine: BackboneEngine, files: readonly string[]): Promise<Outputs> {
  const pooled: number[] = [];
  const layers: number[] = [];
  const done: string[] = [];
  for await (const batch of streamBatches(files, { batchSize: 8, preprocessing: classifier.spec.preprocessing })) {
    if (batch.count === 0) continue;
    pooled.push(...(await classifier.pooledFeatures!(batch)));
    // the frozen backbone's stages (the same for head and top-k with k = 2: the trained blocks come after them)
    layers.push(...poolLayers((await engine.run(batch, { layers: CANDIDATE_LAYERS })).layers!, CANDIDATE_LAYERS, layerChannels(CANDIDATE_LAYERS), batch.count));
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
  return { pooled: features, layers: Float32Array.from(layers), logits, probabilities, predicted, files: done };
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
async function leaveOneOutClasses(data: string, work: string, cacheDir: string, files: readonly string[], fallback: readonly string[], needed: readonly boolean[]): Promise<string[]> {
  const dataset = await scanDataset(data);
  const engine = await createBackboneEngine('auto');
  const classes: string[] = [];
  try {
    for (const [i, heldOut] of files.entries()) {
      if (!needed[i]) {
        classes.push(fallback[i]);
        continue;
      }
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

/** The verdict rules compared: global (one threshold), class-conditional with the plain conformal quantile, capped at / floored at median + k·MAD. */
const RULES: { name: string; options: BuildOpenSetOptions; layers?: readonly string[] }[] = [
  { name: 'global (conformal)', options: { conditioning: 'global' } },
  { name: 'class (conformal)', options: { conditioning: 'class', madK: null, madFloorK: null } },
  { name: 'class, ≤ med+2·MAD', options: { conditioning: 'class', madK: 2, madFloorK: null } },
  { name: 'class, ≥ med+2·MAD', options: { conditioning: 'class', madK: null, madFloorK: 2 } },
  { name: 'class, ≥ med+3·MAD', options: { conditioning: 'class', madK: null, madFloorK: 3 } },
  // the default: the head input plus two pooled stages (OPEN_SET_LAYERS), each distance over its class's median, the largest counts
  { name: `class+${OPEN_SET_LAYERS.map((layer) => layer.replace('_add', '')).join('+')} ≥2MAD`, options: { conditioning: 'class', madK: null, madFloorK: 2 }, layers: OPEN_SET_LAYERS },
  { name: `class+${OPEN_SET_LAYERS.map((layer) => layer.replace('_add', '')).join('+')} ≥3MAD`, options: { conditioning: 'class', madK: null, madFloorK: 3 }, layers: OPEN_SET_LAYERS },
  { name: `class+${OPEN_SET_LAYERS.map((layer) => layer.replace('_add', '')).join('+')} ≥4MAD`, options: { conditioning: 'class', madK: null, madFloorK: 4 }, layers: OPEN_SET_LAYERS },
];

/** The layer-candidate sets compared on the lesson data: the head input alone, plus one stage, plus two stages. */
const LAYER_SETS: string[][] = [[], ...CANDIDATE_LAYERS.map((layer) => [layer]),
  ...CANDIDATE_LAYERS.flatMap((first, i) => CANDIDATE_LAYERS.slice(i + 1).map((second) => [first, second]))];

/** The columns of `names` (a subset of CANDIDATE_LAYERS, in that order) of pooled candidate-layer rows. */
function selectLayers(rows: Float32Array, count: number, names: readonly string[]): { names: string[]; dims: number[]; features: Float32Array } {
  const dims = layerChannels(CANDIDATE_LAYERS);
  const width = dims.reduce((sum, dim) => sum + dim, 0);
  const picked = CANDIDATE_LAYERS.filter((layer) => names.includes(layer));
  const pickedDims = layerChannels(picked);
  const out = new Float32Array(count * pickedDims.reduce((sum, dim) => sum + dim, 0));
  let target = 0;
  for (let i = 0; i < count; i++) {
    let offset = 0;
    CANDIDATE_LAYERS.forEach((layer, l) => {
      if (picked.includes(layer)) {
        out.set(rows.subarray(i * width + offset, i * width + offset + dims[l]), target);
        target += dims[l];
      }
      offset += dims[l];
    });
  }
  return { names: picked, dims: pickedDims, features: out };
}

/** A copy of the lesson data (train/ and val/ as they are) with `negatives` added to train/<className>. */
async function widerCopy(data: string, target: string, className: string, negatives: readonly string[]): Promise<string> {
  await fs.rm(target, { recursive: true, force: true });
  await fs.cp(data, target, { recursive: true });
  const layout = (await scanDataset(target)).layout;
  const dir = path.join(target, layout === 'train-val' ? 'train' : '', className);
  for (const file of negatives) await fs.copyFile(file, path.join(dir, `negative-${path.basename(file)}`));
  return target;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.resolve(REPO_ROOT, '../shared/lesson-data') },
      modes: { type: 'string', default: 'head,top-k' },
      positive: { type: 'string', default: 'logo' },
      negative: { type: 'string', default: 'others' },
      scenarios: { type: 'string', default: 'lesson,wider' },
      'skip-loo': { type: 'boolean', default: false },
    },
  });
  const gather = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/gather-open-set.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (gather.status !== 0) throw new Error('could not gather the open-set images (see above)');
  process.stdout.write(gather.stdout);
  const openDir = path.join(REPO_ROOT, '.cache/openset/images');
  // as the lesson's open-set section: every tenth image is set aside as a varied negative, the rest are evaluated (in every scenario)
  const allOpen = (await listImageFiles(openDir)).images;
  const setAside = allOpen.filter((_, i) => i % 10 === 5);
  const openFiles = allOpen.filter((_, i) => i % 10 !== 5);
  const work = path.join(os.tmpdir(), 'imgcls-bench-openset');
  const cacheDir = path.join(work, 'cache');
  const lessonData = path.resolve(values.data!);
  const positive = values.positive!;
  process.stdout.write(`data: ${lessonData}; open set: ${allOpen.length} images, ${openFiles.length} evaluated, ${setAside.length} set aside as varied negatives\n`);
  const summary: string[] = [];
  const engine = await createBackboneEngine('auto');

  for (const scenario of values.scenarios!.split(',')) {
    const data = scenario === 'wider' ? await widerCopy(lessonData, path.join(work, 'data-wider'), values.negative!, setAside) : lessonData;
    const dataset = await scanDataset(data);
    const trainFiles = dataset.train.map((item) => item.file);
    const labelOf = new Map(dataset.train.map((item) => [item.file, item.label]));
    const scenarioName = scenario === 'wider' ? `${values.negative} + ${setAside.length} varied negatives` : 'lesson data as is';
    process.stdout.write(`\n#### scenario: ${scenarioName} (${trainFiles.length} training images)\n`);
    for (const mode of values.modes!.split(',') as TrainMode[]) {
      const started = performance.now();
      const result = await train({ data, outDir: path.join(work, `run-${scenario}-${mode}`), mode, cacheDir, overwrite: true }); // the bench's own folder: a run from an earlier bench is replaced
      const trainSeconds = (performance.now() - started) / 1000;
      const checkpointBytes = (await fs.stat(result.checkpoints.best)).size;
      const classifier = await loadClassifier(result.checkpoints.best);
      const trainOut = await outputsOf(classifier, engine, trainFiles);
      const openOut = await outputsOf(classifier, engine, openFiles);
      const stored = classifier.openSet;
      // the verdict as the front ends get it (predict, eval, classifyWithVerdict, the extension): the checkpoint train() wrote
      let storedCalled = 0;
      for await (const batch of streamBatches(openFiles, { batchSize: 8, preprocessing: classifier.spec.preprocessing })) {
        if (batch.count === 0) continue;
        const { probabilities, verdicts } = await classifier.predictBatchWithVerdict!(batch);
        const numClasses = classifier.spec.classNames.length;
        verdicts?.forEach((v, i) => {
          if (!v.unfamiliar && rankPredictions(probabilities.subarray(i * numClasses, (i + 1) * numClasses), classifier.spec, 1)[0].className === values.positive) storedCalled++;
        });
      }
      await classifier.dispose();
      const classNames = classifier.spec.classNames;
      const isPositive = trainOut.files.map((file) => dataset.classNames[labelOf.get(file)!] === positive);
      const leaveOneOut = mode === 'head' && !values['skip-loo'];
      const looClasses = leaveOneOut
        ? await leaveOneOutClasses(data, work, cacheDir, trainOut.files, trainOut.predicted, isPositive)
        : trainOut.predicted;
      const positives = isPositive.filter(Boolean).length;
      const recallOf = (passes: (i: number) => boolean) => isPositive.filter((p, i) => p && looClasses[i] === positive && passes(i)).length / Math.max(positives, 1);
      const calledPositive = openOut.predicted.map((name) => name === positive);
      const share = (passes: (i: number) => boolean) => calledPositive.filter((c, i) => c && passes(i)).length / openOut.files.length;
      const count = (passes: (i: number) => boolean) => calledPositive.filter((c, i) => c && passes(i)).length;
      // the split: rules and layers were chosen on the even-indexed evaluated images; the odd-indexed ones report
      const halves = (passes: (i: number) => boolean) => `${count((i) => i % 2 === 0 && passes(i))}/${Math.ceil(openOut.files.length / 2)}, ${count((i) => i % 2 === 1 && passes(i))}/${Math.floor(openOut.files.length / 2)}`;

      process.stdout.write(`\n== ${mode} (${scenarioName}): trained in ${trainSeconds.toFixed(0)} s (loaded), best checkpoint ${(checkpointBytes / 1024).toFixed(0)} KB, ` +
        `stored: ${stored?.method} threshold ${stored?.threshold.toFixed(4)}\n`);
      process.stdout.write(`the stored checkpoint's verdict (predictBatchWithVerdict; ${stored?.classThresholds ? 'per class' : 'global'}, ` +
        `${openSetLayersFor(classifier.spec).length ? `head input + ${OPEN_SET_LAYERS.join(' + ')}` : 'head input alone'}): ` +
        `open-set images called ${positive} ${storedCalled}/${openFiles.length}\n`);
      process.stdout.write(`${positive} recall (${leaveOneOut ? 'leave-one-out head' : 'trained model\'s class'}), probability alone: ${pct(recallOf(() => true))}\n`);
      process.stdout.write(`open-set images called ${positive}, probability alone: ${pct(share(() => true))} (${count(() => true)}/${openOut.files.length})\n`);

      // the verdict rules, each calibrated exactly as imgcls stores it (true labels of the training images, leave-one-out)
      const trainLabels = trainOut.files.map((file) => labelOf.get(file)!);
      const looIndex = looClasses.map((name) => classNames.indexOf(name));
      const openIndex = openOut.predicted.map((name) => classNames.indexOf(name));
      /** One verdict rule calibrated as imgcls stores it: leave-one-out recall, and which open-set images it lets through. */
      const measure = (options: BuildOpenSetOptions, layers: readonly string[] = []) => {
        const trainLayers = layers.length ? selectLayers(trainOut.layers, trainOut.files.length, layers) : undefined;
        const openSet = buildOpenSet(trainOut.pooled, trainOut.files, trainLabels, { ...options, numClasses: classNames.length, ...(trainLayers ? { layers: trainLayers } : {}) });
        const loo = leaveOneOutVerdictScores(openSet, looIndex);
        const verdicts = openSetVerdicts(openSet, openOut.pooled, openOut.files.length, {
          classNames, predicted: openIndex, ...(trainLayers ? { layerFeatures: selectLayers(openOut.layers, openOut.files.length, layers).features } : {}),
        });
        return { openSet, recall: recallOf((i) => loo.scores[i] <= loo.thresholds[i]), familiar: (i: number) => !verdicts[i].unfamiliar, unfamiliar: verdicts.filter((v) => v.unfamiliar).length };
      };
      process.stdout.write(`${'verdict rule'.padEnd(28)} ${`${positive} thr.`.padStart(9)} ${`${values.negative} thr.`.padStart(11)} ${'global thr.'.padStart(11)} ` +
        `${`${positive} recall`.padStart(12)} ${`open→${positive}`.padStart(16)} ${'even (chose), odd'.padStart(19)} ${'unfamiliar'.padStart(10)}\n`);
      for (const rule of RULES) {
        const { openSet, recall, familiar, unfamiliar } = measure(rule.options, rule.layers);
        const classThreshold = (name: string) => openSet.classThresholds?.[classNames.indexOf(name)] ?? openSet.threshold;
        const row = `${rule.name.padEnd(28)} ${classThreshold(positive).toFixed(3).padStart(9)} ${classThreshold(values.negative!).toFixed(3).padStart(11)} ` +
          `${openSet.threshold.toFixed(3).padStart(11)} ${pct(recall).padStart(12)} ` +
          `${`${pct(share(familiar))} (${count(familiar)}/${openOut.files.length})`.padStart(16)} ${halves(familiar).padStart(19)} ${String(unfamiliar).padStart(10)}\n`;
        process.stdout.write(row);
        summary.push(`| ${mode} | ${scenarioName} | ${rule.name} | ${pct(recallOf(() => true))} | ${pct(recall)} | ${pct(share(() => true))} | ${pct(share(familiar))} (${count(familiar)}/${openOut.files.length}) | ${halves(familiar)} |`);
      }
      if (scenario === 'lesson') {
        // which stages: each candidate set under the default rule (class-conditional, floor med+2·MAD), chosen on the even half
        process.stdout.write(`layer candidates (pooled means; head input + stages, largest distance over its class median; the default is ${OPEN_SET_LAYERS.join('+')}` +
          `${openSetLayersFor(classifier.spec).length ? '' : ', not used by this model'}):\n`);
        for (const layers of LAYER_SETS) {
          const { recall, familiar } = measure({ conditioning: 'class', madK: null, madFloorK: 2 }, layers);
          process.stdout.write(`  ${(layers.length ? `head input + ${layers.join(' + ')}` : 'head input alone').padEnd(46)} ${`${positive} recall ${pct(recall)}`.padStart(19)} ` +
            `open→${positive} ${`${count(familiar)}/${openOut.files.length}`.padStart(5)}, even (chose), odd ${halves(familiar)}\n`);
        }
      }

      if (scenario === 'lesson') {
        const scores = candidateScores(trainOut, openOut, classNames);
        process.stdout.write(`candidate scores — threshold rules: q95 = 95th percentile of the training scores; conformal = the ⌈(n+1)·0.95⌉-th smallest\n`);
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
  }
  await engine.dispose();
  process.stdout.write(`\n| model | data | verdict rule | ${positive} recall, probability | ${positive} recall, verdict | open→${positive}, probability | open→${positive}, verdict | even (chose), odd |\n|---|---|---|---|---|---|---|---|\n${summary.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`✖ ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
