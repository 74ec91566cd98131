import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { trainSampleRun, type SampleRun } from '../predict/fixture.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repoRoot, 'bin', 'imgcls.js');

function imgcls(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let run: SampleRun;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-eval-cli-'));
  run = await trainSampleRun(dir);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('imgcls eval prints the classification report, the confusion matrix and the curves; --json is the evaluation', async () => {
  const text = await imgcls(['eval', run.checkpoint, run.root]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /\n {14}precision {4}recall {2}f1-score {3}support\n\n {8}logo /);
  assert.match(text.stdout, /Confusion matrix \(rows: actual, columns: predicted\)/);
  assert.match(text.stdout, /logo {4}ROC AUC \d\.\d{3}/);
  const json = await imgcls(['eval', run.checkpoint, run.root, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const evaluation = JSON.parse(json.stdout);
  assert.deepEqual(evaluation.classNames, ['logo', 'others']);
  assert.equal(evaluation.images.length, evaluation.metrics.support);
  assert.equal(evaluation.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), evaluation.metrics.support);
  const csv = await imgcls(['eval', run.checkpoint, run.root, '--csv']);
  assert.equal(csv.stdout.trimEnd().split('\n').length, 1 + evaluation.images.length);
});

test('imgcls eval --target-recall --class --save-threshold stores the threshold and predict applies it', async () => {
  const checkpoint = path.join(dir, 'thresholded.imgcls');
  await fs.copyFile(run.checkpoint, checkpoint);
  const result = await imgcls(['eval', checkpoint, run.root, '--target-recall', '1', '--class', 'logo', '--save-threshold', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const { thresholdChoice } = JSON.parse(result.stdout);
  assert.equal(thresholdChoice.recall, 1);
  assert.equal(thresholdChoice.saved, true);
  const { spec } = await loadCheckpoint(checkpoint);
  assert.deepEqual(spec.threshold, { className: 'logo', value: thresholdChoice.threshold, targetRecall: 1 });
  // every validation logo is now found
  const after = JSON.parse((await imgcls(['eval', checkpoint, run.root, '--json'])).stdout);
  assert.equal(after.metrics.perClass[0].recall, 1);
  assert.deepEqual(after.threshold, spec.threshold);
  // predict: "logo" exactly when p(logo) ≥ the stored threshold
  const predicted = JSON.parse((await imgcls(['predict', checkpoint, path.join(run.root, 'val'), '--json'])).stdout) as
    { predicted: string; probabilities: { className: string; probability: number }[] }[];
  assert.ok(predicted.length > 0);
  for (const row of predicted) {
    const pLogo = row.probabilities.find((p) => p.className === 'logo')!.probability;
    assert.equal(row.predicted, pLogo >= thresholdChoice.threshold ? 'logo' : 'others');
  }
});

test('imgcls eval usage errors exit 2', async () => {
  assert.equal((await imgcls(['eval', run.checkpoint])).code, 2);
  assert.equal((await imgcls(['eval', run.checkpoint, run.root, '--save-threshold'])).code, 2);
  assert.equal((await imgcls(['eval', run.checkpoint, run.root, '--target-recall', '0.9'])).code, 2);
  assert.equal((await imgcls(['eval', run.checkpoint, run.root, '--target-recall', '1.5', '--class', 'logo'])).code, 2);
  assert.equal((await imgcls(['eval', run.checkpoint, run.root, '--target-recall', '0.9', '--class', 'zebra'])).code, 2);
});

test('imgcls report writes one self-contained HTML page with the run history', async () => {
  const out = path.join(dir, 'out', 'report.html');
  const result = await imgcls(['report', run.checkpoint, run.root, '-o', out, '--split', 'all', '--explain']);
  assert.equal(result.code, 0, result.stderr);
  const html = await fs.readFile(out, 'utf8');
  const figures = JSON.parse(html.match(/<script type="application\/json" id="imgcls-figures">(.*?)<\/script>/s)![1]);
  const ids = figures.map((f: { id: string }) => f.id);
  for (const id of ['confusion', 'pr-0', 'roc-0', 'loss', 'accuracy']) assert.ok(ids.includes(id), `${id} in ${ids}`);
  assert.ok(!/<script[^>]*\ssrc=/i.test(html), 'no external script');
  assert.equal((await imgcls(['report', run.checkpoint, run.root])).code, 2); // -o is required
});
