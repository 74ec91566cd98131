// Setup never changes a user-wide kernel registration silently: register-kernel leaves a registration of
// another checkout alone (exit 3, naming it and --force), and doctor says where the registered kernel points.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const REGISTER = path.join(repoRoot, 'scripts', 'register-kernel.sh');
const CLI = path.join(repoRoot, 'bin', 'imgcls.js');
const OUR_TSLAB = path.join(repoRoot, 'node_modules', 'tslab', 'bin', 'tslab');
const OTHER_TSLAB = '/srv/other-checkout/node_modules/tslab/bin/tslab';

describe('tslab kernel registration', () => {
  let tmp: string;
  let kernelJson: string;
  const register = (...args: string[]) => spawnSync('bash', [REGISTER, ...args, tmp], { encoding: 'utf8' });
  const doctorKernel = () => {
    const result = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, JUPYTER_PATH: tmp } });
    return (JSON.parse(result.stdout) as { checks: { name: string; ok: boolean; detail: string; notes: string[] }[] }).checks.find((c) => c.name === 'kernel')!;
  };

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-kernel-'));
    kernelJson = path.join(tmp, 'kernels', 'tslab', 'kernel.json');
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));

  it('registers this checkout, and doctor says the kernel runs this checkout\'s tslab', async () => {
    const result = register();
    assert.equal(result.status, 0, result.stderr);
    assert.equal((JSON.parse(await fs.readFile(kernelJson, 'utf8')) as { argv: string[] }).argv[1], OUR_TSLAB);
    const kernel = doctorKernel();
    assert.equal(kernel.ok, true, kernel.detail);
    assert.match(kernel.detail, new RegExp(kernelJson.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.deepEqual(kernel.notes, [`runs ${OUR_TSLAB}`]);
  });

  it('leaves a registration of another checkout unchanged (exit 3, naming it and --force); --force replaces it', async () => {
    const other = `${JSON.stringify({ argv: ['node', OTHER_TSLAB, 'kernel', '--config-path', '{connection_file}'], display_name: 'TypeScript', language: 'typescript' })}\n`;
    await fs.writeFile(kernelJson, other);
    const refused = register();
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stderr, /already points at another checkout/);
    assert.match(refused.stderr, /\/srv\/other-checkout/);
    assert.match(refused.stderr, /--force/);
    assert.equal(await fs.readFile(kernelJson, 'utf8'), other, 'kernel.json unchanged');
    const kernel = doctorKernel();
    assert.equal(kernel.ok, false);
    assert.match(kernel.detail, /runs another checkout: \/srv\/other-checkout\. To use this one: bash scripts\/register-kernel\.sh --force/);

    const forced = register('--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal((JSON.parse(await fs.readFile(kernelJson, 'utf8')) as { argv: string[] }).argv[1], OUR_TSLAB);
  });
});
