import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(repoRoot, 'bin', 'imgcls.js');
const LESSON_DATA = path.resolve(repoRoot, '../shared/lesson-data');

/** Every file under dir (relative path → bytes). */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full), await fs.readFile(full));
  }
  return files;
}

describe('imgcls train into a folder that holds a run', () => {
  let tmp: string;
  let out: string;
  const train = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', LESSON_DATA, '--out', out, '--cache-dir', path.join(tmp, 'cache'), '--quiet', '--no-concepts', ...args], { encoding: 'utf8' });

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-run-exists-'));
    out = path.join(tmp, 'run');
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  it('refuses (exit 1, naming --resume and --overwrite) and leaves every file of the first run byte-identical', async () => {
    // a fresh IMGCLS_CACHE: the first run on a machine exports the backbone through TF.js, which must not print its banner
    const first = spawnSync(process.execPath, [CLI, 'train', LESSON_DATA, '--out', out, '--cache-dir', path.join(tmp, 'cache'), '--quiet', '--no-concepts', '--epochs', '2'],
      { encoding: 'utf8', env: { ...process.env, IMGCLS_CACHE: path.join(tmp, 'fresh-cache') } });
    assert.equal(first.status, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /running TensorFlow\.js in Node\.js/);
    const before = await snapshot(out);
    assert.ok(before.has(path.join('checkpoints', 'best.imgcls')) && before.has('history.jsonl'));

    const second = train('--epochs', '1', '--seed', '7');
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /already holds a training run/);
    assert.match(second.stderr, /--resume/);
    assert.match(second.stderr, /--overwrite/);
    assert.match(second.stderr, new RegExp(`file: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const afterRefusal = await snapshot(out);
    assert.deepEqual([...afterRefusal.keys()].sort(), [...before.keys()].sort());
    for (const [name, bytes] of before) assert.ok(bytes.equals(afterRefusal.get(name)!), `${name} changed`);

    const replaced = train('--epochs', '1', '--overwrite');
    assert.equal(replaced.status, 0, replaced.stderr);
    const afterOverwrite = await snapshot(out);
    assert.ok(!afterOverwrite.has(path.join('checkpoints', 'epoch-002.imgcls')), 'the old run was replaced');
    assert.ok(afterOverwrite.has(path.join('checkpoints', 'epoch-001.imgcls')));
  });

  it('a train that fails before its first checkpoint leaves no empty run folder', async () => {
    const empty = path.join(tmp, 'not-a-dataset');
    await fs.mkdir(empty);
    const failedOut = path.join(tmp, 'runs', 'failed');
    const failed = spawnSync(process.execPath, [CLI, 'train', empty, '--out', failedOut, '--quiet'], { encoding: 'utf8' });
    assert.equal(failed.status, 1, failed.stderr);
    await assert.rejects(fs.stat(path.join(tmp, 'runs')), { code: 'ENOENT' });
  });
});
