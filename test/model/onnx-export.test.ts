import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import {
  LAYER_CONVERTERS, ONNX_ACTIVATIONS, buildOnnxModel, decodeOnnxModel, encodeOnnxModel, exportClassifierOnnx, exportOnnx,
  samePads, selectOnnxOutputs,
} from '../../src/model/onnx/index.js';

await initBackend();

/** A seeded pseudo-random generator (mulberry32) so every weight and input is reproducible. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Overwrites every weight of the model with seeded values in [-scale, scale] (variances positive). */
function randomizeWeights(model: tf.LayersModel, seed: number, scale = 0.5): void {
  const random = seeded(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const fresh = weights.map((w, i) => {
      const positive = layer.getClassName() === 'BatchNormalization' && i === weights.length - 1;
      const values = Float32Array.from({ length: w.size }, () => (positive ? 0.5 + random() : (random() * 2 - 1) * scale));
      return tf.tensor(values, w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

/** Runs the exported model in ONNX Runtime and the layers model in TF.js on the same seeded input; returns ORT outputs. */
async function assertParity(model: tf.LayersModel, options: { outputs?: string[]; tolerance?: number; seed?: number } = {}): Promise<Record<string, Float32Array>> {
  const inputShape = model.inputs[0].shape.map((d) => d ?? 2) as number[];
  const random = seeded(options.seed ?? 7);
  const input = Float32Array.from({ length: inputShape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
  const bytes = encodeOnnxModel(buildOnnxModel(model, { outputs: options.outputs }));
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const results = await session.run({ image: new ort.Tensor('float32', input, inputShape) });
  const expectedNames = [...model.outputs.map((t) => t.sourceLayer.name), ...(options.outputs ?? [])];
  assert.deepEqual(session.outputNames, [...new Set(expectedNames)]);
  const x = tf.tensor(input, inputShape);
  const references = tf.tidy(() => {
    const targets = [...model.outputs, ...(options.outputs ?? []).map((name) => model.getLayer(name).output as tf.SymbolicTensor)];
    return tf.model({ inputs: model.inputs, outputs: targets }).predict(x) as tf.Tensor | tf.Tensor[];
  });
  const list = Array.isArray(references) ? references : [references];
  const out: Record<string, Float32Array> = {};
  try {
    for (const [i, name] of session.outputNames.entries()) {
      const actual = results[name].data as Float32Array;
      const expected = (await list[i].data()) as Float32Array;
      assert.deepEqual(results[name].dims, list[i].shape, `shape of ${name}`);
      let maxDiff = 0;
      for (let j = 0; j < expected.length; j++) maxDiff = Math.max(maxDiff, Math.abs(expected[j] - actual[j]));
      assert.ok(maxDiff <= (options.tolerance ?? 1e-5), `${name}: max |ORT − TF.js| = ${maxDiff}`);
      out[name] = actual;
    }
  } finally {
    tf.dispose([x, ...list]);
    await session.release();
  }
  return out;
}

function build(inputShape: number[], layers: (x: tf.SymbolicTensor) => tf.SymbolicTensor, seed = 1): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'in' });
  const model = tf.model({ inputs: input, outputs: layers(input) });
  randomizeWeights(model, seed);
  return model;
}

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

test('samePads reproduces TF "same" padding, odd pixel after', () => {
  assert.deepEqual(samePads([224, 224], [3, 3], [2, 2], [1, 1]), [0, 0, 1, 1]);
  assert.deepEqual(samePads([7, 7], [3, 3], [2, 2], [1, 1]), [1, 1, 1, 1]);
  assert.deepEqual(samePads([112, 112], [5, 5], [2, 2], [1, 1]), [1, 1, 2, 2]);
  assert.deepEqual(samePads([14, 14], [5, 5], [1, 1], [1, 1]), [2, 2, 2, 2]);
  assert.deepEqual(samePads([10, 9], [3, 3], [1, 1], [2, 2]), [2, 2, 2, 2]);
  assert.equal(samePads([null, 8], [3, 3], [1, 1], [1, 1]), undefined);
});

test('Conv2D: same padding at stride 2 on even and odd sizes, valid, dilation, no bias, fused activation', async () => {
  for (const [size, kernelSize, strides] of [[8, 3, 2], [7, 3, 2], [9, 5, 2], [6, 1, 1]] as const) {
    const model = build([size, size, 3], (x) => apply(tf.layers.conv2d({ filters: 4, kernelSize, strides, padding: 'same', activation: 'swish' }), x));
    await assertParity(model);
  }
  await assertParity(build([9, 7, 2], (x) => apply(tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: [2, 1], padding: 'valid', useBias: false, activation: 'relu6' }), x)));
  await assertParity(build([10, 10, 2], (x) => apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same' }), x)));
});

test('DepthwiseConv2D: kernel 3 and 5, stride 1 and 2, depth multiplier 2', async () => {
  for (const [kernelSize, strides, depthMultiplier] of [[3, 1, 1], [5, 2, 1], [3, 2, 2]] as const) {
    await assertParity(build([10, 10, 3], (x) => apply(tf.layers.depthwiseConv2d({ kernelSize, strides, depthMultiplier, padding: 'same', activation: 'sigmoid' }), x)));
  }
});

test('Activation: every mapped activation matches TF.js', async () => {
  for (const activation of Object.keys(ONNX_ACTIVATIONS)) {
    await assertParity(build([4, 4, 3], (x) => apply(tf.layers.activation({ activation: activation as never }), x)), { tolerance: 2e-6 });
  }
  await assertParity(build([4, 4, 3], (x) => apply(tf.layers.softmax({ axis: -1 }), apply(tf.layers.reLU({}), x))));
});

test('squeeze-and-excitation (GAP → Reshape → Conv → Multiply) + residual Add exports without a Flatten/Reshape round trip', async () => {
  const model = build([8, 8, 4], (x) => {
    let se = apply(tf.layers.globalAveragePooling2d({}), x);
    se = apply(tf.layers.reshape({ targetShape: [1, 1, 4] }), se);
    se = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'swish' }), se);
    se = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'sigmoid' }), se);
    const excited = apply(tf.layers.multiply({}), [x, se]);
    return apply(tf.layers.add({}), [excited, x]);
  });
  await assertParity(model);
  const ops = buildOnnxModel(model).graph.node.map((n) => n.opType);
  assert.ok(!ops.includes('Flatten') && !ops.includes('Reshape'), `ops: ${ops.join(' ')}`);
  assert.equal(ops.filter((op) => op === 'Transpose').length, 2, 'one Transpose in, one out');
});

test('merges of two and three inputs: Add, Multiply, Maximum, Minimum', async () => {
  const merges = [tf.layers.add, tf.layers.multiply, tf.layers.maximum, tf.layers.minimum] as ((args: object) => tf.layers.Layer)[];
  for (const merge of merges) {
    await assertParity(build([4, 4, 3], (x) => {
      const a = apply(tf.layers.conv2d({ filters: 3, kernelSize: 1 }), x);
      const b = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), x);
      return apply(merge({}), [a, b, x]);
    }));
  }
});

test('Dense (Gemm, MatMul without bias) with softmax after global pooling; Dropout passes through', async () => {
  await assertParity(build([5, 5, 3], (x) => {
    let y = apply(tf.layers.globalAveragePooling2d({}), x);
    y = apply(tf.layers.dropout({ rate: 0.5 }), y);
    y = apply(tf.layers.dense({ units: 6, activation: 'relu' }), y);
    return apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: false }), y);
  }));
  await assertParity(build([6], (x) => apply(tf.layers.dense({ units: 2, activation: 'tanh' }), x)));
});

test('BatchNormalization, ZeroPadding2D, Rescaling, Concatenate, GlobalMaxPooling2D, Flatten and general Reshape', async () => {
  await assertParity(build([6, 6, 3], (x) => apply(tf.layers.batchNormalization({ epsilon: 1e-3 }), x)));
  await assertParity(build([6, 5, 2], (x) => {
    const padded = apply(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), x);
    return apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid' }), padded);
  }));
  await assertParity(build([4, 4, 3], (x) => apply(tf.layers.rescaling({ scale: 1 / 255, offset: -1 }), x)));
  await assertParity(build([4, 4, 3], (x) => {
    const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
    return apply(tf.layers.concatenate({ axis: -1 }), [a, x]);
  }));
  await assertParity(build([4, 4, 3], (x) => apply(tf.layers.globalMaxPooling2d({}), x)));
  await assertParity(build([3, 4, 2], (x) => apply(tf.layers.dense({ units: 3 }), apply(tf.layers.flatten({}), x))));
  await assertParity(build([3, 4, 2], (x) => apply(tf.layers.reshape({ targetShape: [2, 6, 2] }), x)));
  await assertParity(build([12], (x) => apply(tf.layers.reshape({ targetShape: [2, 3, 2] }), x)));
});

test('nested models are inlined and extra layer outputs come back NHWC', async () => {
  const innerInput = tf.input({ shape: [6, 6, 3] });
  const inner = tf.model({ inputs: innerInput, outputs: apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'inner_conv' }), innerInput) });
  const model = build([6, 6, 3], (x) => {
    const features = apply(tf.layers.activation({ activation: 'swish', name: 'mid' }), apply(inner as unknown as tf.layers.Layer, x));
    return apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), features);
  });
  const outputs = await assertParity(model, { outputs: ['mid'] });
  assert.equal(outputs.mid.length, 2 * 6 * 6 * 4);
});

test('unsupported layers and activations are ONNX_EXPORT errors naming the layer', () => {
  const pooled = build([4, 4, 3], (x) => apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'my_pool' }), x));
  assert.throws(() => buildOnnxModel(pooled), (err) => isImgclsError(err, 'ONNX_EXPORT') && err.message.includes('my_pool') && !!err.hint?.includes('Conv2D'));
  const hard = build([4, 4, 3], (x) => apply(tf.layers.activation({ activation: 'hardSigmoid' }), x));
  assert.throws(() => buildOnnxModel(hard), (err) => isImgclsError(err, 'ONNX_EXPORT'));
  const plain = build([4, 4, 3], (x) => apply(tf.layers.conv2d({ filters: 1, kernelSize: 1 }), x));
  assert.throws(() => buildOnnxModel(plain, { outputs: ['no_such_layer'] }), (err) => isImgclsError(err, 'ONNX_EXPORT'));
  assert.ok(Object.keys(LAYER_CONVERTERS).length >= 10);
});

test('the protobuf uses onnx.proto field numbers, round-trips, and carries the preprocessing metadata', () => {
  const model = build([4, 4, 3], (x) => apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }), x));
  const bytes = encodeOnnxModel(buildOnnxModel(model, { metadata: { author: 'test' } }));
  // ModelProto field 1 (ir_version, varint) = 7 comes first: tag byte (1 << 3 | 0) = 0x08
  assert.deepEqual([...bytes.subarray(0, 2)], [0x08, 7]);
  const decoded = decodeOnnxModel(bytes);
  assert.equal(decoded.irVersion, 7);
  assert.deepEqual(decoded.opsetImport.map((o) => o.version), [13]);
  const props = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
  assert.equal(props.author, 'test');
  assert.deepEqual(JSON.parse(props['imgcls.preprocessing']), { inputSize: 224, resize: 'squash', normalization: 'zero-one' });
  assert.match(props['imgcls.input'], /NHWC/);
  const conv = decoded.graph.node.find((n) => n.opType === 'Conv');
  assert.deepEqual(conv?.attribute.find((a) => a.name === 'pads')?.ints, [1, 1, 1, 1]);
  assert.deepEqual(decoded.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 4 }, { dimValue: 4 }, { dimValue: 3 }]);
  const kernel = decoded.graph.initializer.find((t) => t.dims.length === 4);
  assert.equal(kernel?.rawData?.length, 2 * 3 * 3 * 3 * 4);
});

test('selectOnnxOutputs keeps only what the chosen outputs need', async () => {
  const model = build([6, 6, 3], (x) => {
    const a = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'a' }), x);
    const b = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'b' }), a);
    return apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), b);
  });
  const full = buildOnnxModel(model, { outputs: ['a'] });
  const pooledOnly = selectOnnxOutputs(full, ['pool']);
  const aOnly = selectOnnxOutputs(full, ['a']);
  assert.deepEqual(pooledOnly.graph.output.map((o) => o.name), ['pool']);
  assert.ok(aOnly.graph.node.length < full.graph.node.length);
  assert.equal(aOnly.graph.node.filter((n) => n.opType === 'Conv').length, 1);
  const session = await ort.InferenceSession.create(encodeOnnxModel(aOnly));
  assert.deepEqual(session.outputNames, ['a']);
  await session.release();
});

test('exportOnnx writes atomically (no temp files left), fails with ONNX_EXPORT on an unwritable path, leaks no tensors', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-onnx-'));
  try {
    const model = build([4, 4, 3], (x) => apply(tf.layers.dense({ units: 2, activation: 'softmax' }), apply(tf.layers.globalAveragePooling2d({}), x)));
    const before = tf.memory().numTensors;
    const file = path.join(dir, 'sub', 'model.onnx');
    await exportOnnx(model, file);
    await exportClassifierOnnx(model, { kernel: new Float32Array(4).fill(0.5), bias: new Float32Array([0, 1]), inputDim: 2, numClasses: 2 },
      path.join(dir, 'classifier.onnx'), { spec: { arch: 'efficientnet-b0', classNames: ['a', 'b'], preprocessing: { inputSize: 4, resize: 'squash', normalization: 'zero-one' }, dropout: 0.2, mode: 'head' } });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual((await fs.readdir(path.join(dir, 'sub'))), ['model.onnx']);
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.inputNames, ['image']);
    await session.release();
    const classifier = await ort.InferenceSession.create(path.join(dir, 'classifier.onnx'));
    const out = await classifier.run({ image: new ort.Tensor('float32', new Float32Array(48).fill(0.3), [1, 4, 4, 3]) });
    const probabilities = out.probabilities.data as Float32Array;
    assert.ok(Math.abs(probabilities[0] + probabilities[1] - 1) < 1e-6);
    await classifier.release();
    await fs.writeFile(path.join(dir, 'blocker'), 'a file, not a folder');
    await assert.rejects(exportOnnx(model, path.join(dir, 'blocker', 'x.onnx')), (err) => isImgclsError(err, 'ONNX_EXPORT'));
    await assert.rejects(
      exportClassifierOnnx(model, { kernel: new Float32Array(6), bias: new Float32Array(3), inputDim: 2, numClasses: 3 }, path.join(dir, 'c.onnx'),
        { spec: { arch: 'efficientnet-b0', classNames: ['a', 'b'], preprocessing: { inputSize: 4, resize: 'squash', normalization: 'zero-one' }, dropout: 0, mode: 'head' } }),
      (err) => isImgclsError(err, 'CLASS_COUNT_MISMATCH'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
