import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandInputs, isFileError, predict, predictAll, type FilePrediction } from '../../src/predict/index.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { updateCheckpointSpec } from '../../src/model/checkpoint.js';
import type { Classifier } from '../../src/model/types.js';
import { isImgclsError } from '../../src/errors.js';
import { trainSampleRun, writeMixedFolder, type SampleRun } from './fixture.js';

let dir: string;
let run: SampleRun;
let classifier: Classifier;
let mixed: Awaited<ReturnType<typeof writeMixedFolder>>;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-predict-'));
  run = await trainSampleRun(dir);
  classifier = await loadClassifier(run.checkpoint);
  mixed = await writeMixedFolder(dir, run.root);
});

after(async () => {
  await classifier?.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

test('expandInputs: folders recursively (images only, sorted), globs, explicit and missing files kept', async () => {
  assert.deepEqual(await expandInputs(mixed.folder), mixed.files.map((f) => f.file));
  assert.deepEqual(await expandInputs(path.join(mixed.folder, '**/*-*.jpg')), [
    path.join(mixed.folder, 'a-logo.jpg'), path.join(mixed.folder, 'c-truncated.jpg'), path.join(mixed.folder, 'd-text.jpg'),
    path.join(mixed.folder, 'sub', 'b-others.jpg'),
  ]);
  const notes = path.join(mixed.folder, 'notes.txt');
  const missing = path.join(dir, 'missing.jpg');
  assert.deepEqual(await expandInputs([notes, missing]), [notes, missing]);
  // a folder plus an overlapping glob lists each file once; strict turns a missing path or an empty glob into an error
  assert.deepEqual(await expandInputs([mixed.folder, path.join(mixed.folder, '**/*.jpg')]), mixed.files.map((f) => f.file));
  await assert.rejects(expandInputs([missing], { strict: true }), (err) => isImgclsError(err, 'PATH_NOT_FOUND'));
  await assert.rejects(expandInputs([path.join(dir, 'none', '**/*.png')], { strict: true }), (err) => isImgclsError(err, 'NO_IMAGES'));
  await fs.writeFile(path.join(mixed.folder, '.hidden.jpg'), 'x');
  assert.ok(!(await expandInputs(mixed.folder)).some((file) => file.endsWith('.hidden.jpg')));
  await fs.rm(path.join(mixed.folder, '.hidden.jpg'));
});

test('predict over a mixed folder: one result per file in order, softmax probabilities or an error', async () => {
  const results = await predictAll(classifier, mixed.folder, { batchSize: 2 });
  assert.deepEqual(results.map((r) => r.file), mixed.files.map((f) => f.file));
  results.forEach((result, i) => {
    assert.equal(isFileError(result), !mixed.files[i].good, result.file);
    if (isFileError(result)) {
      assert.match(result.error, /^IMAGE_(TRUNCATED|UNREADABLE|EMPTY): /);
      return;
    }
    const total = result.probabilities.reduce((sum, p) => sum + p.probability, 0);
    assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
    assert.ok(result.probabilities.every((p) => p.probability >= 0 && p.probability <= 1));
    assert.deepEqual(result.probabilities.map((p) => p.className).sort(), ['logo', 'others']);
    assert.equal(result.predicted, result.probabilities[0].className);
    assert.equal(result.probability, result.probabilities[0].probability);
  });
  assert.equal((results[0] as FilePrediction).predicted, 'logo');
  assert.equal((results[4] as FilePrediction).predicted, 'others');
});

test('predict agrees with classify and does not depend on the batch size', async () => {
  const files = mixed.files.filter((f) => f.good).map((f) => f.file);
  const one = await predictAll(classifier, files, { batchSize: 1 });
  const many = await predictAll(classifier, files, { batchSize: 32, topK: 1 });
  for (let i = 0; i < files.length; i++) {
    const single = one[i] as FilePrediction;
    const batched = many[i] as FilePrediction;
    const classified = await classifier.classify(files[i]);
    assert.equal(single.predicted, classified[0].className);
    assert.ok(Math.abs(single.probability - classified[0].probability) < 1e-5);
    assert.equal(batched.predicted, single.predicted);
    assert.ok(Math.abs(batched.probability - single.probability) < 1e-4);
    assert.equal(batched.probabilities.length, 1);
  }
});

test('a missing path yields an error entry, the rest goes on; no file at all is NO_IMAGES', async () => {
  const missing = path.join(dir, 'missing.jpg');
  const results = await predictAll(classifier, [missing, mixed.files[0].file]);
  assert.equal(results.length, 2);
  assert.ok(isFileError(results[0]) && /not found/.test(results[0].error));
  assert.ok(!isFileError(results[1]));
  const empty = path.join(dir, 'empty-folder');
  await fs.mkdir(empty);
  await assert.rejects(predictAll(classifier, empty), (err) => isImgclsError(err, 'NO_IMAGES'));
});

test('prediction applies the threshold stored in the checkpoint', async () => {
  const files = mixed.files.filter((f) => f.good).map((f) => f.file);
  for (const [value, expected] of [[0, 'others'], [1, 'logo']] as const) {
    const copy = path.join(dir, `threshold-${value}.imgcls`);
    await fs.copyFile(run.checkpoint, copy);
    await updateCheckpointSpec(copy, { threshold: { className: 'others', value } });
    const thresholded = await loadClassifier(copy);
    try {
      const results = (await predictAll(thresholded, files)) as FilePrediction[];
      // value 0: "others" always reaches it; value 1: never (its probability is below 1)
      assert.deepEqual(results.map((r) => r.predicted), files.map(() => expected));
      assert.equal(results[0].probabilities[0].className, expected);
    } finally {
      await thresholded.dispose();
    }
  }
});

test('stopping early ends the stream cleanly', async () => {
  const seen: string[] = [];
  for await (const result of predict(classifier, path.join(run.root, 'train'), { batchSize: 2 })) {
    seen.push(result.file);
    if (seen.length === 3) break;
  }
  assert.equal(seen.length, 3);
});

test('aborting mid-stream stops predict with CANCELLED', async () => {
  const controller = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const result of predict(classifier, path.join(run.root, 'train'), { batchSize: 2, signal: controller.signal })) {
        seen.push(result.file);
        controller.abort();
      }
    })(),
    (err) => isImgclsError(err, 'CANCELLED'),
  );
  assert.ok(seen.length >= 1 && seen.length <= 2, `stopped after the first batch, saw ${seen.length}`);
});
