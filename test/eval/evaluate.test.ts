import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanDataset } from '../../src/data/scan.js';
import { evaluate, type EvaluateProgress } from '../../src/eval/index.js';
import { predictAll, type FilePrediction } from '../../src/predict/index.js';
import { loadClassifier } from '../../src/model/classifier.js';
import type { Classifier } from '../../src/model/types.js';
import { isImgclsError } from '../../src/errors.js';
import { trainSampleRun, type SampleRun } from '../predict/fixture.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lessonData = path.resolve(repoRoot, '../shared/lesson-data');

let dir: string;
let run: SampleRun;
let classifier: Classifier;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-eval-'));
  run = await trainSampleRun(dir);
  classifier = await loadClassifier(run.checkpoint);
});

after(async () => {
  await classifier?.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

test('evaluate on the validation split: counts, metrics and predictions agree with predict', async () => {
  const dataset = await scanDataset(run.root);
  const progress: EvaluateProgress[] = [];
  const evaluation = await evaluate(classifier, dataset, { batchSize: 4, onProgress: (p) => progress.push(p) });
  assert.equal(evaluation.images.length, dataset.valid.length);
  assert.deepEqual(evaluation.classNames, ['logo', 'others']);
  assert.equal(evaluation.confusionMatrix.flat().reduce((a, b) => a + b, 0), dataset.valid.length);
  const right = evaluation.images.filter((image) => image.actual === image.predicted).length;
  assert.equal(evaluation.metrics.accuracy, right / dataset.valid.length);
  assert.deepEqual(progress.at(-1), { done: dataset.valid.length, total: dataset.valid.length });
  const predictions = (await predictAll(classifier, evaluation.images.map((image) => image.file))) as FilePrediction[];
  evaluation.images.forEach((image, i) => {
    assert.equal(image.predictedClass, predictions[i].predicted);
    assert.ok(Math.abs(image.probability - predictions[i].probability) < 1e-4);
    assert.equal(image.actualClass, path.basename(path.dirname(image.file)));
  });
  assert.ok(evaluation.curves.every((curves) => curves.rocAuc !== undefined && curves.precisionRecall));
  assert.match(evaluation.report, /^ {14}precision {4}recall {2}f1-score {3}support\n\n/);
  JSON.stringify(evaluation);
});

test('an unreadable file in the data is skipped with its reason; the rest is evaluated', async () => {
  const copy = path.join(dir, 'with-bad');
  await fs.cp(run.root, copy, { recursive: true });
  await fs.writeFile(path.join(copy, 'val', 'logo', 'zz-broken.jpg'), 'not a jpeg');
  const dataset = await scanDataset(copy);
  const evaluation = await evaluate(classifier, dataset);
  assert.equal(evaluation.skipped.length, 1);
  assert.equal(evaluation.skipped[0].file, path.join(copy, 'val', 'logo', 'zz-broken.jpg'));
  assert.match(evaluation.skipped[0].reason, /^IMAGE_UNREADABLE/);
  assert.equal(evaluation.images.length, dataset.valid.length - 1);
});

test('lesson data, logos only: the absent class gets zero-division notes and no curve', async () => {
  const dataset = await scanDataset(lessonData);
  assert.deepEqual(dataset.classNames, classifier.spec.classNames);
  const logos = dataset.valid.filter((item) => item.label === 0);
  const evaluation = await evaluate(classifier, logos);
  const others = evaluation.metrics.perClass[1];
  assert.equal(others.support, 0);
  assert.equal(others.recall, 0);
  assert.ok(evaluation.metrics.notes.some((note) => note.startsWith('recall of "others"')));
  assert.equal(evaluation.curves[1].precisionRecall, undefined);
  assert.equal(evaluation.curves[0].roc, undefined); // only positives: no ROC for "logo" either
  assert.equal(evaluation.metrics.perClass[0].support + evaluation.skipped.length, logos.length);
  const all = await evaluate(classifier, dataset, { split: 'all' });
  assert.equal(all.images.length + all.skipped.length, dataset.train.length + dataset.valid.length);
});

test('data with a class the checkpoint does not know is CLASS_COUNT_MISMATCH; bad labels are USAGE', async () => {
  const extra = path.join(dir, 'extra-class');
  await fs.cp(run.root, extra, { recursive: true });
  for (const split of ['train', 'val']) {
    await fs.cp(path.join(extra, split, 'logo'), path.join(extra, split, 'zebra'), { recursive: true });
  }
  await assert.rejects(evaluate(classifier, await scanDataset(extra)), (err) => isImgclsError(err, 'CLASS_COUNT_MISMATCH'));
  await assert.rejects(evaluate(classifier, [{ file: 'x.jpg', label: 5 }]), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(evaluate(classifier, [{ file: path.join(dir, 'missing.jpg'), label: 0 }]), (err) => isImgclsError(err, 'NO_IMAGES'));
});

test('an aborted signal stops the evaluation with CANCELLED', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(evaluate(classifier, await scanDataset(run.root), { signal: controller.signal }), (err) => isImgclsError(err, 'CANCELLED'));
});
