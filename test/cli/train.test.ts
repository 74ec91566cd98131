import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatProgress } from '../../src/cli/train.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(repoRoot, 'bin', 'imgcls.js');
const LESSON_DATA = path.resolve(repoRoot, '../shared/lesson-data');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });

describe('imgcls train (CLI)', () => {
  it('prints help with exit 0, and exits 2 on bad usage naming the problem', () => {
    const help = run('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: imgcls train <data>/);
    assert.match(help.stdout, /--resume/);
    const missing = run();
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing dataset folder/);
    const unknown = run('data', '--epoch', '3');
    assert.equal(unknown.status, 2);
    const badMode = run('data', '--mode', 'everything');
    assert.equal(badMode.status, 2);
    assert.match(badMode.stderr, /mode must be one of head, top-k, full\. Received: everything/);
    const badNumber = run('data', '--lr', 'fast');
    assert.equal(badNumber.status, 2);
    assert.match(help.stdout, /--keep-checkpoints <n>/);
    const badKeep = run('data', '--keep-checkpoints', 'some');
    assert.equal(badKeep.status, 2);
    assert.match(badKeep.stderr, /--keep-checkpoints must be an integer in \[0, ∞\]\. Received: some/);
  });

  it('exits 1 with the file and a hint when the dataset does not exist', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-cli-'));
    try {
      const result = run(path.join(tmp, 'nope'), '--out', path.join(tmp, 'run'));
      assert.equal(result.status, 1);
      assert.match(result.stderr, /dataset folder not found/);
      assert.match(result.stderr, /file: .*nope/);
      assert.match(result.stderr, /hint: /);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });

  it('shows the narrow-class check before training (NARROW others on the lesson data); --no-concepts skips it', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-cli-'));
    try {
      const common = ['--epochs', '1', '--cache-dir', path.join(tmp, 'cache'), '--json'];
      const checked = run(LESSON_DATA, '--out', path.join(tmp, 'run'), ...common);
      assert.equal(checked.status, 0, checked.stderr);
      assert.match(checked.stderr, /ImageNet concepts per class[\s\S]*others\s+10 images/);
      assert.match(checked.stderr, /! NARROW others: \d+\/10 images are ImageNet cat classes .*'cat vs\. not cat'/);
      assert.doesNotMatch(checked.stderr, /NARROW logo/);
      assert.ok(checked.stderr.indexOf('NARROW') < checked.stderr.indexOf('epoch 1/1'), 'the check comes before training');
      assert.equal(JSON.parse(checked.stdout).concepts.classes.find((c: { className: string }) => c.className === 'others').narrow, 'concept');
      const skipped = run(LESSON_DATA, '--out', path.join(tmp, 'run2'), '--no-concepts', ...common);
      assert.equal(skipped.status, 0, skipped.stderr);
      assert.doesNotMatch(skipped.stderr, /NARROW|ImageNet concepts/);
      assert.equal(JSON.parse(skipped.stdout).concepts, undefined);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });

  it('formats a progress line with bar, loss, steps/s and ETA', () => {
    const line = formatProgress({ phase: 'train', epoch: 3, epochs: 10, step: 1, steps: 2, loss: 0.4321, accuracy: 0.9, etaMs: 4200, imagesPerSec: 12.5, stepsPerSec: 1.25, elapsedMs: 1000 });
    assert.match(line, /^epoch 3\/10 \[#+-+\] step 1\/2  loss 0\.4321  acc 90\.0%  1\.25 steps\/s  ETA 4 s$/);
    const features = formatProgress({ phase: 'features', epoch: 0, epochs: 10, step: 5, steps: 19, imagesPerSec: 40, etaMs: 350, elapsedMs: 100 });
    assert.match(features, /^features \[#+-+\] 5\/19 images  40\.0 img\/s  ETA 350 ms$/);
  });
});
