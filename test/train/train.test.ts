import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scanDataset } from '../../src/data/scan.js';
import { streamBatches } from '../../src/data/stream.js';
import { writeSampleDataset } from '../../src/data/sample.js';
import { isImgclsError } from '../../src/errors.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import type { BackboneEngine } from '../../src/model/types.js';
import { loadCheckpoint, updateCheckpointSpec } from '../../src/model/checkpoint.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { readHistory, type EpochRecord, type StepRecord } from '../../src/train/history.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { evaluationFromProbabilities } from '../../src/eval/evaluate.js';
import { train, validationMetrics, type TrainProgress } from '../../src/train/train.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LESSON_DATA = path.resolve(repoRoot, '../shared/lesson-data');

describe('train (head mode) on the lesson data', () => {
  let tmp: string;
  let engine: BackboneEngine;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-train-'));
    engine = await createBackboneEngine('auto');
  });
  after(async () => {
    await engine.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('reaches 100% train accuracy with the defaults, writes history and checkpoints, and a reloaded checkpoint predicts identically', async () => {
    const outDir = path.join(tmp, 'lesson');
    const progress: TrainProgress[] = [];
    const result = await train({ data: LESSON_DATA, outDir, cacheDir: path.join(tmp, 'cache') }, { onProgress: (p) => progress.push(p) });
    assert.equal(result.layout, 'train-val');
    assert.equal(result.trainCount, 19);
    assert.equal(result.epochsRun, 10);
    assert.equal(result.final.accuracy, 1, `last epoch's training accuracy ${result.final.accuracy}`);
    assert.equal(result.final.val_accuracy, 1);

    // history: 2 steps + 1 epoch record per epoch, in order
    const history = await readHistory(result.historyFile);
    const epochs = history.filter((r): r is EpochRecord => r.type === 'epoch');
    const steps = history.filter((r): r is StepRecord => r.type === 'step');
    assert.deepEqual(epochs.map((r) => r.epoch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(steps.length, 20);
    assert.ok(epochs[9].loss < epochs[0].loss, 'training loss decreases');
    for (const record of history) assert.ok(Number.isFinite(record.loss) && record.lr === 0.001);
    assert.ok(progress.some((p) => p.phase === 'features') && progress.at(-1)?.phase === 'done');
    assert.ok(progress.some((p) => p.phase === 'train' && p.etaMs !== undefined && p.imagesPerSec !== undefined));

    // checkpoints: the newest 3 epochs (the default keepCheckpoints) + best + last, all self-describing
    const names = (await fs.readdir(path.join(outDir, 'checkpoints'))).sort();
    assert.deepEqual(names, ['best.imgcls', 'epoch-008.imgcls', 'epoch-009.imgcls', 'epoch-010.imgcls', 'last.imgcls']);
    assert.deepEqual(result.checkpoints.saved, [8, 9, 10].map((e) => path.join(outDir, 'checkpoints', `epoch-0${String(e).padStart(2, '0')}.imgcls`)));
    const last = await loadCheckpoint(result.checkpoints.last);
    assert.equal(last.training.epoch, 10);
    assert.deepEqual(last.spec.classNames, ['logo', 'others']);
    assert.deepEqual(last.spec.preprocessing, { inputSize: 224, resize: 'squash', normalization: 'zero-one' });
    assert.equal(last.training.config.learningRate, 0.001);
    assert.match(last.training.datasetFingerprint, /^[0-9a-f]{64}$/);
    assert.ok(last.versions.imgcls && last.versions['@tensorflow/tfjs']);
    assert.ok(last.weights['optimizer/head/kernel/momentum'], 'optimizer state is saved');
    // best/last are second names of the epoch file; updating one must leave the others alone
    await updateCheckpointSpec(result.checkpoints.best, { threshold: { className: 'logo', value: 0.4 } });
    assert.deepEqual((await loadCheckpoint(result.checkpoints.best)).spec.threshold, { className: 'logo', value: 0.4 });
    assert.equal((await loadCheckpoint(path.join(outDir, 'checkpoints', 'epoch-010.imgcls'))).spec.threshold, undefined);
    assert.equal((await loadCheckpoint(result.checkpoints.last)).spec.threshold, undefined);

    // reload twice (a fresh engine and a shared one): identical probabilities, every training image right
    const dataset = await scanDataset(LESSON_DATA);
    const fresh = await loadClassifier(result.checkpoints.last);
    const shared = await loadClassifier(result.checkpoints.last, { engine });
    try {
      let correct = 0;
      for await (const batch of streamBatches(dataset.train, { batchSize: 10 })) {
        const a = await fresh.predictBatch(batch);
        const b = await shared.predictBatch(batch);
        assert.equal(a.length, batch.count * 2);
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `probability ${i}: ${a[i]} vs ${b[i]}`);
        batch.labels.forEach((label, i) => {
          if ((a[i * 2 + label] > 0.5) === true) correct++;
        });
      }
      assert.equal(correct, 19, 'the reloaded classifier gets every training image right');
      const top = await shared.classify(dataset.train[0].file, 1);
      assert.equal(top.length, 1);
      assert.equal(top[0].className, 'logo');
    } finally {
      await fresh.dispose();
      await shared.dispose();
    }

    // a second run reads every feature from the cache
    const again = await train({ data: LESSON_DATA, outDir, cacheDir: path.join(tmp, 'cache'), epochs: 1, overwrite: true });
    assert.equal(again.cache.computed, 0);
    assert.equal(again.engine, null);
  });

  it('also reaches 100% train accuracy on the auto-split of lesson-data/train', async () => {
    const result = await train({ data: path.join(LESSON_DATA, 'train'), outDir: path.join(tmp, 'auto'), cacheDir: path.join(tmp, 'cache') });
    assert.equal(result.layout, 'auto-split');
    assert.equal(result.trainCount + result.validCount, 19);
    assert.ok(result.validCount >= 2);
    assert.equal(result.final.accuracy, 1);
    // the held-out images are evaluated too (recall per class present)
    assert.equal(result.final.val_recall?.length, 2);
  });
});

describe('train: repeatability, resume, cancel, cache invalidation', () => {
  let tmp: string;
  let data: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-train2-'));
    data = (await writeSampleDataset(path.join(tmp, 'data'), { imagesPerClass: 6 })).root;
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));
  const config = (outDir: string, extra: object = {}) => ({ data, outDir: path.join(tmp, outDir), cacheDir: path.join(tmp, 'cache'), batchSize: 4, augmentViews: 2, ...extra });

  it('gives bit-identical weights for the same seed, and a resumed run equals an uninterrupted one', async () => {
    const straight = await train(config('straight', { epochs: 4 }));
    const again = await train(config('again', { epochs: 4 }));
    const half = await train(config('resumed', { epochs: 2 }));
    assert.equal(half.epochsRun, 2);
    const resumed = await train(config('resumed', { epochs: 4, resume: true }));
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.equal(resumed.epochsRun, 2);
    const a = await loadCheckpoint(straight.checkpoints.last);
    const b = await loadCheckpoint(again.checkpoints.last);
    const c = await loadCheckpoint(resumed.checkpoints.last);
    assert.deepEqual(b.weights['head/kernel'].data, a.weights['head/kernel'].data);
    assert.deepEqual(c.weights['head/kernel'].data, a.weights['head/kernel'].data);
    assert.deepEqual(c.weights['head/bias'].data, a.weights['head/bias'].data);
    const other = await train(config('other-seed', { epochs: 4, seed: 7 }));
    const d = await loadCheckpoint(other.checkpoints.last);
    assert.notDeepEqual(d.weights['head/kernel'].data, a.weights['head/kernel'].data);
    // the resumed history has each epoch exactly once
    const epochs = (await readHistory(resumed.historyFile)).filter((r) => r.type === 'epoch').map((r) => r.epoch);
    assert.deepEqual(epochs, [1, 2, 3, 4]);
  });

  it('stops between steps when cancelled, keeps the saved checkpoints, and resumes from them', async () => {
    const abort = new AbortController();
    await assert.rejects(
      train(config('cancel', { epochs: 5 }), {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.phase === 'train' && p.epoch === 3 && p.step === 1) abort.abort();
        },
      }),
      (err) => isImgclsError(err, 'CANCELLED'),
    );
    // an already-aborted signal stops before anything is trained, also while features are computed
    await assert.rejects(train(config('cancel-early', { epochs: 1, augmentViews: 5 }), { signal: AbortSignal.abort() }), (err) => isImgclsError(err, 'CANCELLED'));
    const last = await loadCheckpoint(path.join(tmp, 'cancel', 'checkpoints', 'last.imgcls'));
    assert.equal(last.training.epoch, 2);
    const resumed = await train(config('cancel', { epochs: 5, resume: true }));
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.equal((await loadCheckpoint(resumed.checkpoints.last)).training.epoch, 5);
  });

  it('refuses to resume with another mode or optimizer, and reports a dataset with no decodable image', async () => {
    await train(config('mismatch', { epochs: 1 }));
    await assert.rejects(train(config('mismatch', { epochs: 2, resume: true, optimizer: 'adam' })), (err) => isImgclsError(err, 'CHECKPOINT_INCOMPATIBLE'));
    await assert.rejects(train(config('mismatch', { epochs: 2, resume: true, mode: 'top-k' })), (err) => isImgclsError(err, 'CHECKPOINT_INCOMPATIBLE'));
    const broken = path.join(tmp, 'broken');
    for (const name of ['a', 'b']) {
      await fs.mkdir(path.join(broken, name), { recursive: true });
      for (const i of [1, 2]) await fs.writeFile(path.join(broken, name, `${i}.jpg`), `not an image ${name}${i}`);
    }
    await assert.rejects(train({ data: broken, outDir: path.join(tmp, 'broken-run'), cacheDir: path.join(tmp, 'cache'), validPct: 0 }), (err) => isImgclsError(err, 'NO_IMAGES'));
  });

  it('keeps the newest keepCheckpoints epoch checkpoints (also across a resume), all of them, or only best and last', async () => {
    const names = async (outDir: string) => (await fs.readdir(path.join(tmp, outDir, 'checkpoints'))).sort();
    await train(config('keep-2', { epochs: 3, keepCheckpoints: 2 }));
    assert.deepEqual(await names('keep-2'), ['best.imgcls', 'epoch-002.imgcls', 'epoch-003.imgcls', 'last.imgcls']);
    const resumed = await train(config('keep-2', { epochs: 5, keepCheckpoints: 2, resume: true }));
    assert.deepEqual(await names('keep-2'), ['best.imgcls', 'epoch-004.imgcls', 'epoch-005.imgcls', 'last.imgcls']);
    assert.deepEqual(resumed.checkpoints.saved.map((f) => path.basename(f)), ['epoch-004.imgcls', 'epoch-005.imgcls']);
    // best stays loadable although its epoch file is gone (another name of the same bytes)
    assert.ok((await loadCheckpoint(resumed.checkpoints.best)).training.epoch >= 1);
    await train(config('keep-all', { epochs: 4, keepCheckpoints: 'all' }));
    assert.deepEqual(await names('keep-all'), ['best.imgcls', 'epoch-001.imgcls', 'epoch-002.imgcls', 'epoch-003.imgcls', 'epoch-004.imgcls', 'last.imgcls']);
    const none = await train(config('keep-0', { epochs: 2, keepCheckpoints: 0 }));
    assert.deepEqual(await names('keep-0'), ['best.imgcls', 'last.imgcls']);
    assert.deepEqual(none.checkpoints.saved, []);
    assert.throws(() => resolveTrainConfig({ data: 'd', outDir: 'o', keepCheckpoints: -1 }), (err) => isImgclsError(err, 'USAGE'));
    assert.throws(() => resolveTrainConfig({ data: 'd', outDir: 'o', keepCheckpoints: 1.5 }), (err) => isImgclsError(err, 'USAGE'));
  });

  it('recomputes only the features of a changed file', async () => {
    const first = await train(config('cache-a', { epochs: 1, augmentViews: 0 }));
    assert.ok(first.cache.hits > 0, 'features of earlier tests are reused');
    const victim = (await scanDataset(data)).train[0].file;
    const bytes = await fs.readFile(victim);
    await fs.writeFile(victim, Buffer.concat([bytes, Buffer.from('changed')])); // same pixels, new content hash
    const second = await train(config('cache-b', { epochs: 1, augmentViews: 0 }));
    assert.equal(second.cache.computed, 1);
    const third = await train(config('cache-c', { epochs: 1, augmentViews: 0, preprocessing: { resize: 'center-crop' } }));
    assert.equal(third.cache.hits, 0, 'a preprocessing change invalidates every entry');
  });
});

describe('train: configuration and validation metrics', () => {
  it('rejects bad options with USAGE errors naming the value', () => {
    for (const bad of [{ epochs: 0 }, { mode: 'all' }, { batchSize: 2.5 }, { learningRate: -1 }, { optimizer: 'rmsprop' }, { validPct: 1 }, { mode: 'full', batchSize: 10, trainEngine: 'tfjs' }, { trainEngine: 'pytorch' }]) {
      assert.throws(() => resolveTrainConfig({ data: 'd', outDir: 'o', ...(bad as object) }), (err) => isImgclsError(err, 'USAGE') && /Received|too large/.test((err as Error).message));
    }
    const resolved = resolveTrainConfig({ data: 'd', outDir: 'o' });
    assert.equal(resolved.mode, 'head');
    assert.equal(resolved.epochs, 10);
    assert.equal(resolved.batchSize, 10);
    assert.equal(resolved.momentum, 0.9);
    assert.equal(resolved.weightDecay, 1e-4);
    assert.equal(resolved.seed, 42);
  });

  it('computes recall per class and warns when every prediction falls on one class', () => {
    const collapsed = validationMetrics(new Float32Array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3]), [0, 1, 1], ['a', 'b']);
    assert.match(collapsed.warning ?? '', /collapsed onto one class/);
    assert.deepEqual(collapsed.recall, [1, 0]);
    assert.ok(Math.abs(collapsed.accuracy - 1 / 3) < 1e-9);
    assert.ok(Math.abs(collapsed.loss - -(Math.log(0.9) + Math.log(0.2) + Math.log(0.3)) / 3) < 1e-6);
    const healthy = validationMetrics(new Float32Array([0.9, 0.1, 0.2, 0.8]), [0, 1], ['a', 'b']);
    assert.equal(healthy.warning, undefined);
    assert.equal(healthy.accuracy, 1);
  });

  it("validates with eval/'s decision rule, metrics and loss clamp (val_loss = the evaluation's mean loss)", () => {
    // three classes, a tie (first class wins in both), and a confident mistake: p(true) = 0 exactly
    const classNames = ['a', 'b', 'c'];
    const probabilities = new Float32Array([0.5, 0.5, 0, 0, 1, 0, 0.2, 0.3, 0.5, 0.1, 0.6, 0.3]);
    const labels = [1, 0, 2, 1];
    const validation = validationMetrics(probabilities, labels, classNames);
    const evaluation = evaluationFromProbabilities({ classNames, files: labels.map((_, i) => `f${i}`), labels, probabilities });
    const meanLoss = evaluation.images.reduce((sum, image) => sum + image.loss, 0) / labels.length;
    assert.ok(Number.isFinite(validation.loss));
    assert.ok(Math.abs(validation.loss - meanLoss) < 1e-9, `val_loss ${validation.loss} vs eval ${meanLoss}`);
    assert.equal(validation.accuracy, evaluation.metrics.accuracy);
    assert.deepEqual(validation.recall, evaluation.metrics.perClass.map((row) => row.recall));
    assert.deepEqual(validation.predictedCounts, [1, 2, 1]);
    // a class absent from the labels has no recall (NaN), where eval reports 0 with a note
    assert.ok(Number.isNaN(validationMetrics(new Float32Array([0.9, 0.1]), [0], ['a', 'b']).recall[1]));
  });
});
