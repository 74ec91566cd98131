// imgcls/infer classifies a head-mode checkpoint and draws its class activation map without loading TF.js.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ensureBackboneOnnx } from '../../src/index.js';
import { tempDir } from '../data/fixtures.js';
import { trainSampleRun, type SampleRun } from '../predict/fixture.js';

const INFER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/infer.js');

let dir: string;
let cleanup: () => Promise<void>;
let run: SampleRun;
let cache: string;
before(async () => {
  ({ dir, cleanup } = await tempDir('imgcls-infer-'));
  run = await trainSampleRun(dir);
  cache = path.join(dir, 'imgcls-cache');
  // the one step that needs TF.js (once per machine; the VS Code extension ships its export): into $IMGCLS_CACHE/models
  await ensureBackboneOnnx(path.join(cache, 'models'));
}, { timeout: 600_000 });
after(async () => cleanup());

test('imgcls/infer: classify + CAM overlay of a head checkpoint load no @tensorflow module', { timeout: 300_000 }, async () => {
  const image = path.join(run.root, 'val', 'logo', (await import('node:fs')).readdirSync(path.join(run.root, 'val', 'logo')).sort()[0]);
  const script = `
    import { createRequire } from 'node:module';
    const lib = await import(${JSON.stringify(INFER)});
    const classifier = await lib.loadClassifier(${JSON.stringify(run.checkpoint)}, { engine: 'onnxruntime' });
    const predictions = await classifier.classify(${JSON.stringify(image)});
    const png = await lib.renderOverlayPng(await lib.explain(classifier, ${JSON.stringify(image)}), { maxSize: 64 });
    await classifier.dispose();
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ predictions, pngBytes: png.length, tensorflow: loaded.filter((f) => f.includes('@tensorflow')), ort: loaded.some((f) => f.includes('onnxruntime-node')) }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, IMGCLS_CACHE: cache }, timeout: 240_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as { predictions: { className: string; probability: number }[]; pngBytes: number; tensorflow: string[]; ort: boolean };
  assert.deepEqual(out.predictions.map((p) => p.className).sort(), ['logo', 'others']);
  assert.ok(Math.abs(out.predictions.reduce((s, p) => s + p.probability, 0) - 1) < 1e-4);
  assert.ok(out.pngBytes > 100, 'an overlay PNG');
  assert.ok(out.ort, 'ONNX Runtime ran the backbone');
  assert.deepEqual(out.tensorflow, [], 'no TF.js module was loaded');
});

test('the main entry still loads TF.js (the check above can fail)', { timeout: 120_000 }, () => {
  const main = path.resolve(path.dirname(INFER), 'index.js');
  const script = `import { createRequire } from 'node:module'; await import(${JSON.stringify(main)});
    console.log(Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('@tensorflow')).length);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 100_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.ok(Number(child.stdout.trim()) > 0, 'imgcls (main) loads @tensorflow modules');
});
