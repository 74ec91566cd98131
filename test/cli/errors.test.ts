// Every error path of the command line a new user meets: the exit code, and a message that names the
// flag or file and says what to do next. One row per case; add a row for each new error path.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(repoRoot, 'bin', 'imgcls.js');
const LESSON_DATA = path.resolve(repoRoot, '../shared/lesson-data');
const POSTER = path.join(LESSON_DATA, 'train', 'logo');

interface Case {
  name: string;
  /** Arguments; {run}, {ckpt}, {tmp} and {data} are replaced. */
  args: string[];
  exit: number;
  /** What went wrong. */
  says: RegExp;
  /** The flag or file the message names. */
  names: RegExp;
  /** The next step it suggests. */
  next: RegExp;
}

const CASES: Case[] = [
  { name: 'negative number', args: ['train', '{data}', '--epochs', '-1'], exit: 2, says: /must be a positive integer\. Received: -1/, names: /--epochs/, next: /imgcls train --help/ },
  { name: 'misspelt option', args: ['train', '{data}', '--epoch', '3'], exit: 2, says: /unknown option --epoch\b/, names: /--epoch/, next: /Did you mean --epochs\?/ },
  { name: 'zero batch size', args: ['train', '{data}', '--batch-size', '0'], exit: 2, says: /must be a positive integer\. Received: 0/, names: /--batch-size/, next: /imgcls train --help/ },
  { name: 'dropout out of range (checked by the library, named as the flag)', args: ['train', '{data}', '--dropout', '2'], exit: 2, says: /must be a number in \[0, 1\)/, names: /--dropout/, next: /imgcls train --help/ },
  { name: 'option without its value', args: ['train', '{data}', '--out'], exit: 2, says: /needs a value/, names: /--out/, next: /--out=<value>/ },
  { name: 'not a number', args: ['train', '{data}', '--lr', 'fast'], exit: 2, says: /must be a number\. Received: fast/, names: /--lr/, next: /imgcls train --help/ },
  { name: 'unknown command', args: ['trian'], exit: 2, says: /unknown command "trian"/, names: /trian/, next: /imgcls <command> --help/ },
  { name: 'missing dataset', args: ['train', '{tmp}/no-such-data', '--out', '{tmp}/x'], exit: 1, says: /dataset folder not found/, names: /no-such-data/, next: /hint: Check the path/ },
  { name: 'train into a finished run', args: ['train', '{data}', '--out', '{run}', '--quiet'], exit: 1, says: /already holds a training run/, names: /file: .*run/, next: /--resume.*--overwrite/ },
  { name: 'run folder as checkpoint', args: ['predict', '{run}', '{poster}'], exit: 1, says: /this is a folder, not a checkpoint/, names: /file: .*run/, next: /Did you mean .*run\/checkpoints\/best\.imgcls\?/ },
  { name: 'dataset as checkpoint', args: ['predict', '{data}', '{poster}'], exit: 1, says: /this is a folder, not a checkpoint/, names: /lesson-data/, next: /checkpoints\/best\.imgcls/ },
  { name: 'ONNX file as checkpoint', args: ['predict', '{tmp}/model.onnx', '{poster}'], exit: 1, says: /model\.onnx is an ONNX model/, names: /model\.onnx/, next: /\.imgcls checkpoint the ONNX file was exported from/ },
  { name: 'missing checkpoint', args: ['eval', '{tmp}/best.imgcls', '{data}'], exit: 1, says: /checkpoint not found/, names: /best\.imgcls/, next: /checkpoints\/best\.imgcls/ },
  { name: 'missing image', args: ['predict', '{ckpt}', '{tmp}/poster.jpg'], exit: 1, says: /no such file or folder/, names: /poster\.jpg/, next: /Check the path/ },
  { name: 'glob matching nothing', args: ['predict', '{ckpt}', '{tmp}/nothing/**/*.png'], exit: 1, says: /matches no image file/, names: /nothing\/\*\*\/\*\.png/, next: /quote it/ },
  { name: 'SVG with an XML prologue', args: ['predict', '{ckpt}', '{tmp}/drawing.svg'], exit: 1, says: /SVG images are not supported/, names: /drawing\.svg/, next: /Convert it to JPEG or PNG/ },
  { name: 'target recall without a class', args: ['eval', '{ckpt}', '{data}', '--target-recall', '0.95'], exit: 2, says: /go together/, names: /--class/, next: /--target-recall 0\.95 --class logo/ },
  { name: 'unknown class', args: ['eval', '{ckpt}', '{data}', '--target-recall', '0.95', '--class', 'logos'], exit: 2, says: /unknown class "logos"/, names: /logos/, next: /Classes: logo, others/ },
];

describe('CLI error paths: exit code, and a message naming the flag or file and the next step', () => {
  let tmp: string;
  let run: string;
  const fill = (arg: string) => arg.replaceAll('{tmp}', tmp).replaceAll('{run}', run).replaceAll('{ckpt}', path.join(run, 'checkpoints', 'best.imgcls'))
    .replaceAll('{data}', LESSON_DATA).replaceAll('{poster}', POSTER);

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-errors-'));
    run = path.join(tmp, 'run');
    const trained = spawnSync(process.execPath, [CLI, 'train', LESSON_DATA, '--out', run, '--epochs', '1', '--cache-dir', path.join(tmp, 'cache'), '--quiet', '--no-concepts'], { encoding: 'utf8' });
    assert.equal(trained.status, 0, trained.stderr);
    await fs.writeFile(path.join(tmp, 'model.onnx'), Buffer.from([0x08, 0x07, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68, 0x1a]));
    // what Inkscape writes: a prologue and a comment longer than 256 characters before <svg
    await fs.writeFile(path.join(tmp, 'drawing.svg'),
      `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<!-- ${'Created with a vector editor. '.repeat(12)}-->\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n`);
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  for (const c of CASES) {
    it(c.name, () => {
      const result = spawnSync(process.execPath, [CLI, ...c.args.map(fill)], { encoding: 'utf8', cwd: tmp });
      const text = result.stderr + result.stdout;
      assert.equal(result.status, c.exit, `exit code of imgcls ${c.args.join(' ')}\n${text}`);
      assert.match(text, c.says);
      assert.match(text, c.names);
      assert.match(text, c.next);
      assert.doesNotMatch(text, /unexpected error|at .*\.js:\d+/, 'no stack trace or internal wording');
    });
  }

  it('Ctrl-C during training exits 130, keeps the checkpoints and prints the --resume command', async () => {
    const out = path.join(tmp, 'interrupted');
    const child = spawn(process.execPath, [CLI, 'train', LESSON_DATA, '--out', out, '--epochs', '500', '--cache-dir', path.join(tmp, 'cache'), '--no-concepts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/epoch 2\/500/.test(stderr)) resolve();
    }));
    child.kill('SIGINT');
    assert.equal(await exit, 130, stderr);
    assert.match(stderr, /training cancelled; checkpoints up to epoch \d+ are kept/);
    assert.match(stderr, /Continue with: imgcls train .*lesson-data --out .*interrupted .*--resume/);
    assert.doesNotMatch(stderr, /resume: true/);
    await fs.access(path.join(out, 'checkpoints', 'last.imgcls'));
  });
});
