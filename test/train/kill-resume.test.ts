import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { readHistory } from '../../src/train/history.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LESSON_DATA = path.resolve(repoRoot, '../shared/lesson-data');
const CLI = path.join(repoRoot, 'bin', 'imgcls.js');
const EPOCHS = 120;

/** Loads every .imgcls file in the folder; returns how many loaded (throws on the first unreadable one). */
async function verifyCheckpoints(dir: string): Promise<number> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.imgcls'));
  for (const name of names) {
    try {
      await loadCheckpoint(path.join(dir, name));
    } catch (err) {
      if ((err as { code?: string }).code === 'CHECKPOINT_NOT_FOUND') continue; // listed, then replaced by a rename: fine
      throw err;
    }
  }
  return names.length;
}

async function epochRecords(historyFile: string): Promise<number[]> {
  try {
    return (await readHistory(historyFile)).filter((r) => r.type === 'epoch').map((r) => r.epoch);
  } catch {
    return [];
  }
}

describe('a training process killed with SIGKILL', () => {
  let tmp: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-kill-'));
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  it('never leaves a truncated or unreadable checkpoint, and --resume finishes the run', async () => {
    const outDir = path.join(tmp, 'run');
    const checkpointDir = path.join(outDir, 'checkpoints');
    const historyFile = path.join(outDir, 'history.jsonl');
    const start = (resume: boolean): ChildProcess =>
      spawn(process.execPath, [CLI, 'train', LESSON_DATA, '--out', outDir, '--epochs', String(EPOCHS), '--save-interval', '10', '--keep-checkpoints', 'all',
        '--cache-dir', path.join(tmp, 'cache'), '--quiet', ...(resume ? ['--resume'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

    // run, kill at an arbitrary moment after `killAfter` epochs, checking every checkpoint meanwhile
    const runAndKill = async (resume: boolean, killAfter: number): Promise<number> => {
      const child = start(resume);
      const exit = exited(child);
      let running = true;
      void exit.then(() => (running = false));
      let verified = 0;
      while (running) {
        verified += await verifyCheckpoints(checkpointDir);
        const epochs = await epochRecords(historyFile);
        if (epochs.length > 0 && epochs[epochs.length - 1] >= killAfter) {
          child.kill('SIGKILL');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const { signal } = await exit;
      assert.equal(signal, 'SIGKILL', `the run finished before it could be killed (epoch ≥ ${killAfter})`);
      assert.ok(verified > 0);
      return verified;
    };

    await runAndKill(false, 15);
    await verifyCheckpoints(checkpointDir);
    const afterFirst = await loadCheckpoint(path.join(checkpointDir, 'last.imgcls'));
    assert.ok(afterFirst.training.epoch >= 14, `last.imgcls is at epoch ${afterFirst.training.epoch}: at most one epoch lost`);

    await runAndKill(true, afterFirst.training.epoch + 20);
    await verifyCheckpoints(checkpointDir);
    const afterSecond = await loadCheckpoint(path.join(checkpointDir, 'last.imgcls'));
    assert.ok(afterSecond.training.epoch > afterFirst.training.epoch);

    const final = start(true);
    let stderr = '';
    final.stderr?.on('data', (chunk) => (stderr += chunk));
    const { code } = await exited(final);
    assert.equal(code, 0, stderr);
    assert.equal(await verifyCheckpoints(checkpointDir) >= 3, true);
    const last = await loadCheckpoint(path.join(checkpointDir, 'last.imgcls'));
    assert.equal(last.training.epoch, EPOCHS);
    assert.equal(last.metrics?.accuracy, 1);
    // the history holds every epoch exactly once, each with its two steps, despite two kills
    const history = await readHistory(historyFile);
    assert.deepEqual(history.filter((r) => r.type === 'epoch').map((r) => r.epoch), Array.from({ length: EPOCHS }, (_, i) => i + 1));
    assert.equal(history.filter((r) => r.type === 'step').length, EPOCHS * 2);
    const saved = (await fs.readdir(checkpointDir)).filter((n) => n.startsWith('epoch-'));
    assert.deepEqual(saved.sort(), Array.from({ length: EPOCHS / 10 }, (_, i) => `epoch-${String((i + 1) * 10).padStart(3, '0')}.imgcls`));
  });
});
