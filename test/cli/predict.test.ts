import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainSampleRun, writeMixedFolder, type SampleRun } from '../predict/fixture.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repoRoot, 'bin', 'imgcls.js');

/** Runs the real CLI as a child process. */
function imgcls(args: string[], cwd = repoRoot): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let run: SampleRun;
let mixed: Awaited<ReturnType<typeof writeMixedFolder>>;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-predict-cli-'));
  run = await trainSampleRun(dir);
  mixed = await writeMixedFolder(dir, run.root);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('imgcls predict over a folder of good and bad files: one row per file, exit 0', async () => {
  const { code, stdout, stderr } = await imgcls(['predict', run.checkpoint, mixed.folder]);
  assert.equal(code, 0, stderr);
  const [header, ...rows] = stdout.trimEnd().split('\n');
  assert.match(header, /^predicted\s+prob\s+file$/);
  assert.equal(rows.length, mixed.files.length);
  mixed.files.forEach(({ file, good }, i) => {
    assert.ok(rows[i].includes(file), `row ${i} "${rows[i]}" names ${file}`);
    if (good) assert.match(rows[i], /^(logo|others)\s+[01]\.\d{3}\s+/);
    else assert.match(rows[i], /^ERROR\s+-\s+.*\(IMAGE_[A-Z]+: /);
  });
  assert.match(stderr, /2 classified, 3 could not be read/);
});

test('imgcls predict --json and --csv carry the same rows', async () => {
  const json = await imgcls(['predict', run.checkpoint, mixed.folder, '--json', '--batch-size', '2']);
  assert.equal(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as { file: string; predicted?: string; probabilities?: unknown[]; error?: string }[];
  assert.deepEqual(rows.map((r) => r.file), mixed.files.map((f) => f.file));
  assert.deepEqual(rows.map((r) => r.error === undefined), mixed.files.map((f) => f.good));
  assert.equal(rows[0].probabilities?.length, 2);
  const csv = await imgcls(['predict', run.checkpoint, mixed.folder, '--csv']);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split('\n');
  // the run's checkpoint carries open-set data (train calibrates it): the verdict columns follow the classes
  assert.equal(lines[0], 'file,predicted,probability,logo,others,unfamiliar,score,threshold,nearest,nearest_class,error');
  assert.equal(lines.length, 1 + mixed.files.length);
  assert.match(lines[1], /^.*a-logo\.jpg,(logo|others|unknown),[01]\.\d{6},[01]\.\d{6},[01]\.\d{6},(true|false),\d+\.\d{6},\d+\.\d{6},[^,]+,(logo|others),$/);
  assert.match(lines[2], /c-truncated\.jpg,,,,,,,,,,IMAGE_TRUNCATED/);
});

test('imgcls predict exits 1 only when nothing could be classified, still printing a row per file', async () => {
  const bad = mixed.files.filter((f) => !f.good).map((f) => f.file);
  const { code, stdout, stderr } = await imgcls(['predict', run.checkpoint, ...bad]);
  assert.equal(code, 1);
  assert.equal(stdout.trimEnd().split('\n').length, 1 + bad.length);
  assert.match(stderr, /no file could be classified/);
  // a path that does not exist is a mistyped argument: the whole command fails at once, naming it
  const missing = await imgcls(['predict', run.checkpoint, ...bad, path.join(dir, 'missing.jpg')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /no such file or folder: .*missing\.jpg/);
  // one good file among bad ones is enough for success
  const one = await imgcls(['predict', run.checkpoint, ...bad, mixed.files[0].file]);
  assert.equal(one.code, 0, one.stderr);
});

test('imgcls predict: bad usage exits 2, an unknown checkpoint exits 1 with its code', async () => {
  assert.equal((await imgcls(['predict', run.checkpoint])).code, 2);
  assert.equal((await imgcls(['predict', run.checkpoint, mixed.folder, '--bogus'])).code, 2);
  assert.equal((await imgcls(['predict', run.checkpoint, mixed.folder, '--batch-size', '0'])).code, 2);
  assert.equal((await imgcls(['predict', run.checkpoint, mixed.folder, '--json', '--csv'])).code, 2);
  const missing = await imgcls(['predict', path.join(dir, 'nope.imgcls'), mixed.folder]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /✖/);
  const help = await imgcls(['predict', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: imgcls predict/);
});
