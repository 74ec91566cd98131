import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { initBackend } from '../../../src/backend/backend.js';
import { isImgclsError } from '../../../src/errors.js';
import { loadImage } from '../../../src/data/preprocess.js';
import { scanDataset } from '../../../src/data/scan.js';
import { writeSampleDataset } from '../../../src/data/sample.js';
import { checkpointHead, loadCheckpoint } from '../../../src/model/checkpoint.js';
import { initHead } from '../../../src/model/dense-head.js';
import { buildTorchGraph, createTorchModel, loadTorchAddon } from '../../../src/model/libtorch/index.js';
import { toTfLayout } from '../../../src/model/libtorch/graph.js';
import { exportClassifierOnnx } from '../../../src/model/onnx/index.js';
import { loadPretrainedBackbone } from '../../../src/model/pretrained.js';
import { applyTopWeights, buildTopModel } from '../../../src/model/top-model.js';
import { dropoutMask } from '../../../src/train/engines/libtorch.js';
import { resolveTrainEngine } from '../../../src/train/engines/index.js';
import { train } from '../../../src/train/train.js';
import { randomStream } from '../../../src/util/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const status = loadTorchAddon();
const skip = status.addon ? false : `libtorch engine absent: ${status.reason}`;

function relativeDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let peak = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    peak = Math.max(peak, Math.abs(b[i]));
  }
  return diff / Math.max(peak, 1e-12);
}

/** One step's gradients on libtorch and on TF.js (the TF.js runner's loss), by checkpoint name in TF.js layout. */
async function gradientsBothWays(k: number | 'full', inputSize: number, count: number): Promise<{ torch: Map<string, Float32Array>; tfjs: Map<string, Float32Array> }> {
  const numClasses = 3;
  const graph = buildTorchGraph(k, numClasses, inputSize);
  const random = randomStream(7, 1);
  const inputs = Float32Array.from({ length: count * graph.inputShape.reduce((a, b) => a * b, 1) }, () => (k === 'full' ? random() : random() * 4 - 2));
  const labels = Array.from({ length: count }, (_, i) => i % numClasses);
  const head = initHead(1280, numClasses, randomStream(7, 0));
  const mask = dropoutMask(count, 1280, 0.2, randomStream(7, 2));
  const sampleWeights = new Float32Array(count).fill(1 / count);

  const model = await createTorchModel(graph, { head });
  const result = await model.step(inputs, [count, ...graph.inputShape], Int32Array.from(labels), sampleWeights, mask, { apply: false, grads: true });
  const torch = new Map<string, Float32Array>();
  graph.params.forEach((param, i) => {
    if (param.trainable) torch.set(param.name, toTfLayout(param, result.grads![i]!));
  });

  const top = await buildTopModel(k, { inputSize });
  const tfjs = new Map<string, Float32Array>();
  try {
    const kernel = tf.variable(tf.tensor2d(head.kernel, [1280, numClasses]), true, 'grad_test_kernel');
    const bias = tf.variable(tf.tensor1d(head.bias), true, 'grad_test_bias');
    const variables = [kernel, bias, ...[...top.variables.values()].map((v) => v.read() as tf.Variable)];
    const names = ['head/kernel', 'head/bias', ...top.variables.keys()];
    const grads = tf.tidy(() => {
      const x = tf.tensor(inputs, [count, ...graph.inputShape]);
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses);
      const { grads } = tf.variableGrads(() => {
        const features = top.model.apply(x, { training: true }) as tf.Tensor2D;
        const output = features.mul(tf.tensor2d(mask, [count, 1280])).matMul(kernel).add(bias);
        return tf.logSoftmax(output).mul(oneHot).sum(1).mul(tf.tensor1d(sampleWeights)).sum().neg() as tf.Scalar;
      }, variables);
      return variables.map((v) => grads[v.name]);
    });
    grads.forEach((g, i) => tfjs.set(names[i], g.dataSync() as Float32Array));
    tf.dispose([...grads, kernel, bias]);
  } finally {
    top.dispose();
  }
  return { torch, tfjs };
}

describe('libtorch training engine', { skip }, () => {
  let tmp: string;
  let data: string;
  before(async () => {
    await initBackend();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-torch-train-'));
    data = (await writeSampleDataset(path.join(tmp, 'data'), { imagesPerClass: 4 })).root;
  });
  after(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });
  const config = (outDir: string, extra: object = {}) => ({
    data, outDir: path.join(tmp, outDir), cacheDir: path.join(tmp, 'cache'), mode: 'top-k' as const, topK: 1, batchSize: 4, trainEngine: 'libtorch' as const, ...extra,
  });

  for (const [k, inputSize, count] of [[1, 224, 3], ['full', 64, 2]] as const) {
    it(`one step's gradients match TF.js within 1e-3 relative (${k === 'full' ? 'full network, 64 px' : `top-${k}`}, batch ${count})`, async (t) => {
      const { torch, tfjs } = await gradientsBothWays(k, inputSize, count);
      assert.deepEqual([...torch.keys()].sort(), [...tfjs.keys()].sort());
      let worst = { name: '', diff: 0 };
      for (const [name, grad] of torch) {
        const diff = relativeDiff(grad, tfjs.get(name)!);
        if (diff > worst.diff) worst = { name, diff };
      }
      t.diagnostic(`${torch.size} gradients; largest relative difference ${worst.diff.toExponential(2)} (${worst.name})`);
      assert.ok(worst.diff < 1e-3, `${worst.name}: relative difference ${worst.diff}`);
    });
  }

  it('a full-mode run trained natively writes the usual checkpoint, and ONNX Runtime predicts identically from it', async (t) => {
    const result = await train(config('full', { mode: 'full', epochs: 1, batchSize: 10 }));
    assert.match(result.trainEngine, /^libtorch/);
    assert.equal(result.config.batchSize, 10, 'no wasm cap on libtorch');
    const checkpoint = await loadCheckpoint(result.checkpoints.last);
    assert.match(checkpoint.training.trainEngine ?? '', /^libtorch/);
    // same names and shapes as a TF.js full-mode run
    const top = await buildTopModel('full');
    try {
      for (const [name, variable] of top.variables) assert.deepEqual(checkpoint.weights[name]?.shape, variable.shape, name);
    } finally {
      top.dispose();
    }
    assert.ok(Object.keys(checkpoint.weights).some((name) => name.startsWith('optimizer/top/stem_conv/')), 'optimizer state stored');

    // export exactly as `imgcls export` does and run it on the validation images
    const backbone = await loadPretrainedBackbone();
    const onnxFile = path.join(tmp, 'full.onnx');
    try {
      applyTopWeights(backbone, checkpoint);
      await exportClassifierOnnx(backbone, checkpointHead(checkpoint), onnxFile, { spec: checkpoint.spec });
    } finally {
      backbone.dispose();
    }
    const dataset = await scanDataset(data);
    const images = await Promise.all(dataset.valid.map((item) => loadImage(item.file)));
    const input = new Float32Array(images.length * 224 * 224 * 3);
    images.forEach((image, i) => input.set(image, i * image.length));
    const session = await ort.InferenceSession.create(onnxFile);
    let viaOrt: Float32Array;
    try {
      const out = await session.run({ image: new ort.Tensor('float32', input, [images.length, 224, 224, 3]) });
      viaOrt = out.probabilities.data as Float32Array;
    } finally {
      await session.release();
    }
    const native = await createTorchModel(buildTorchGraph('full', 2), { weights: checkpoint.weights, head: checkpointHead(checkpoint) });
    const viaTorch = await native.predict(input, [images.length, 224, 224, 3]);
    let diff = 0;
    for (let i = 0; i < viaOrt.length; i++) diff = Math.max(diff, Math.abs(viaOrt[i] - viaTorch[i]));
    t.diagnostic(`max |ORT − libtorch| probability on ${images.length} validation images: ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-4, `probabilities differ by ${diff}`);
    // and the validation loss the run recorded is the exported model's
    let loss = 0;
    dataset.valid.forEach((item, i) => (loss -= Math.log(Math.max(viaOrt[i * 2 + item.label], 1e-12))));
    loss /= dataset.valid.length;
    assert.ok(Math.abs(loss - result.final.val_loss!) < 1e-4, `ORT val loss ${loss} vs recorded ${result.final.val_loss}`);
  });

  it('resumes across engines: libtorch epoch 1 + TF.js epoch 2 gives the weights of two libtorch epochs', async () => {
    const straight = await train(config('straight', { epochs: 2 }));
    await train(config('crossed', { epochs: 1 }));
    const crossed = await train(config('crossed', { epochs: 2, resume: true, trainEngine: 'tfjs' }));
    assert.equal(crossed.resumedFromEpoch, 1);
    assert.equal(crossed.trainEngine, 'tfjs');
    const a = await loadCheckpoint(straight.checkpoints.last);
    const b = await loadCheckpoint(crossed.checkpoints.last);
    const epoch1 = await loadCheckpoint(path.join(tmp, 'crossed', 'checkpoints', 'epoch-001.imgcls'));
    assert.deepEqual(Object.keys(a.weights).sort(), Object.keys(b.weights).sort());
    // compare epoch 2's updates (they depend on the momentum buffers carried across engines), not the weights
    const delta = (after: Float32Array, start: Float32Array) => after.map((v, i) => v - start[i]);
    for (const name of ['head/kernel', 'top/top_conv/0', 'top/block7a_dwconv/0', 'top/block7a_project_conv/1']) {
      const start = epoch1.weights[name].data;
      const diff = relativeDiff(delta(b.weights[name].data, start), delta(a.weights[name].data, start));
      assert.ok(diff < 1e-2, `${name}: epoch-2 update differs by ${diff} (relative)`);
    }
  });

  it('cancel stops at the next step and keeps the last checkpoint', async () => {
    const controller = new AbortController();
    const run = train(config('cancel', { epochs: 3 }), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'train' && p.epoch === 2 && p.step === 1) controller.abort();
      },
    });
    await assert.rejects(run, (err) => isImgclsError(err, 'CANCELLED'));
    const last = await loadCheckpoint(path.join(tmp, 'cancel', 'checkpoints', 'last.imgcls'));
    assert.equal(last.training.epoch, 1);
  });
});

describe('libtorch engine absent', () => {
  it('auto falls back to TF.js with the reason; asking for libtorch fails with TRAIN_ENGINE_FAILED; the libtorch suites skip and pass', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, IMGCLS_LIBTORCH: 'off', IMGCLS_TRAIN_ENGINE: '' };
    delete env.NODE_TEST_CONTEXT; // a nested runner would report to this one instead of printing TAP
    const script = `
      const { resolveTrainEngine } = await import(${JSON.stringify(path.resolve(here, '../../../src/train/engines/index.js'))});
      const auto = resolveTrainEngine('auto');
      let failed;
      try { resolveTrainEngine('libtorch'); } catch (err) { failed = { code: err.code, message: err.message, hint: err.hint }; }
      console.log(JSON.stringify({ auto, failed }));`;
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    const { auto, failed } = JSON.parse(probe.stdout.trim().split('\n').pop()!);
    assert.equal(auto.engine, 'tfjs');
    assert.match(auto.reason, /IMGCLS_LIBTORCH=off/);
    assert.equal(failed.code, 'TRAIN_ENGINE_FAILED');
    assert.match(failed.hint, /build:native|tfjs/);

    const suite = spawnSync(process.execPath, ['--test', '--test-reporter=tap', path.resolve(here, '../../model/libtorch.test.js')], { env, encoding: 'utf8' });
    assert.equal(suite.status, 0, suite.stdout + suite.stderr);
    assert.match(suite.stdout, /# SKIP libtorch engine absent: disabled by IMGCLS_LIBTORCH=off/);
    assert.match(suite.stdout, /# fail 0/);
  });

  it('resolveTrainEngine rejects an unknown IMGCLS_TRAIN_ENGINE', () => {
    const saved = process.env.IMGCLS_TRAIN_ENGINE;
    process.env.IMGCLS_TRAIN_ENGINE = 'pytorch';
    try {
      assert.throws(() => resolveTrainEngine('auto'), (err) => isImgclsError(err, 'USAGE') && /pytorch/.test((err as Error).message));
    } finally {
      if (saved === undefined) delete process.env.IMGCLS_TRAIN_ENGINE;
      else process.env.IMGCLS_TRAIN_ENGINE = saved;
    }
  });
});
