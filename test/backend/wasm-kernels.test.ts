import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/backend.js';
import { WASM_GRADIENT_KERNELS, WASM_REPLACED_KERNELS } from '../../src/backend/wasm-kernels.js';
import { loadPretrainedBackbone } from '../../src/model/pretrained.js';
import { splitBackbone, topKBoundary, withHead } from '../../src/model/head.js';

/** Parameters of a small conv net that uses every replaced kernel: conv2d and depthwise, stride 1 and 2, 'same'. */
type Params = [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];

function makeParams(): { params: Params; readout: tf.Tensor4D } {
  const normal = (shape: [number, number, number, number], seed: number) =>
    tf.randomNormal(shape, 0, 0.5, 'float32', seed) as tf.Tensor4D;
  const params: Params = [
    normal([2, 9, 9, 3], 1), // x (its gradient flows through DepthwiseConv2dNativeBackpropInput)
    normal([3, 3, 3, 4], 2), // conv2d 3×3 stride 1
    normal([3, 3, 4, 1], 3), // depthwise 3×3 stride 2
    normal([5, 5, 4, 1], 4), // depthwise 5×5 stride 1
    normal([1, 1, 4, 6], 5), // conv2d 1×1 stride 1
    normal([3, 3, 6, 2], 6), // conv2d 3×3 stride 2
  ];
  return { params, readout: normal([2, 3, 3, 2], 7) };
}

/** Sum of the net's output times a fixed random readout: multilinear in the parameters, so central differences are exact up to rounding. */
function loss(readout: tf.Tensor4D, ...[x, w1, w2, w3, w4, w5]: tf.Tensor[]): tf.Scalar {
  let h = tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same');
  h = tf.depthwiseConv2d(h, w2 as tf.Tensor4D, 2, 'same');
  h = tf.depthwiseConv2d(h, w3 as tf.Tensor4D, 1, 'same');
  h = tf.conv2d(h, w4 as tf.Tensor4D, 1, 'same');
  h = tf.conv2d(h, w5 as tf.Tensor4D, 2, 'same');
  return tf.sum(tf.mul(h, readout));
}

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

test('the gradient kernels wasm lacks are registered on wasm', () => {
  assert.equal(tf.getBackend(), 'wasm');
  for (const kernelName of [...WASM_GRADIENT_KERNELS, ...WASM_REPLACED_KERNELS]) {
    assert.ok(tf.getKernel(kernelName, 'wasm'), kernelName);
  }
});

test('gradient check on wasm: conv2d (3×3 and 1×1) + depthwise (stride 1 and 2, same) against central finite differences', () => {
  const { params, readout } = makeParams();
  const grads = tf.grads((...p: tf.Tensor[]) => loss(readout, ...p))(params);
  const epsilon = 1e-2;
  let checked = 0;
  params.forEach((param, which) => {
    const values = param.dataSync().slice();
    const analytic = grads[which].dataSync();
    assert.deepEqual(grads[which].shape, param.shape);
    // every tap of the small kernels, a spread of positions for x
    const step = Math.max(1, Math.floor(values.length / 40));
    for (let i = 0; i < values.length; i += step) {
      const at = (delta: number) => tf.tidy(() => {
        const shifted = values.slice();
        shifted[i] += delta;
        const p = params.map((t, j) => (j === which ? tf.tensor(shifted, t.shape) : t));
        return loss(readout, ...p).dataSync()[0];
      });
      const numeric = (at(epsilon) - at(-epsilon)) / (2 * epsilon);
      const tolerance = 2e-3 * Math.max(1, Math.abs(numeric));
      assert.ok(Math.abs(analytic[i] - numeric) <= tolerance,
        `param ${which} index ${i}: analytic ${analytic[i]} vs finite difference ${numeric}`);
      checked++;
    }
  });
  assert.ok(checked > 150);
  tf.dispose([...params, readout, ...grads]);
});

test('wasm gradients equal the cpu backend reference kernels to float precision', async () => {
  const run = () => tf.tidy(() => {
    const { params, readout } = makeParams();
    return tf.grads((...p: tf.Tensor[]) => loss(readout, ...p))(params).map((g) => Array.from(g.dataSync()));
  });
  const onWasm = run();
  await tf.setBackend('cpu');
  try {
    const onCpu = run();
    onCpu.forEach((reference, which) => {
      const scale = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const diff = reference.reduce((m, v, i) => Math.max(m, Math.abs(v - onWasm[which][i])), 0);
      assert.ok(diff <= 1e-5 * scale, `param ${which}: max diff ${diff} (scale ${scale})`);
    });
  } finally {
    await tf.setBackend('wasm');
  }
});

test('depthwise filter gradient with a channel multiplier matches the cpu backend', async () => {
  const run = () => tf.tidy(() => {
    const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const filter = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 12) as tf.Tensor4D;
    const readout = tf.randomNormal([2, 4, 4, 6], 0, 1, 'float32', 13);
    const grad = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(x, f as tf.Tensor4D, 2, 'same'), readout)));
    return Array.from(grad(filter).dataSync());
  });
  const onWasm = run();
  await tf.setBackend('cpu');
  try {
    const onCpu = run();
    const scale = onCpu.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(onCpu.every((v, i) => Math.abs(v - onWasm[i]) <= 1e-5 * scale));
  } finally {
    await tf.setBackend('wasm');
  }
});

test('the gradient kernels do not leak tensors', () => {
  const { params, readout } = makeParams();
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    tf.grads((...p: tf.Tensor[]) => loss(readout, ...p))(params);
  });
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([...params, readout]);
});

test('top-k training step on wasm: gradients reach the depthwise kernels of the last blocks', async () => {
  const backbone = await loadPretrainedBackbone({ inputSize: 64 });
  try {
    const { top } = splitBackbone(backbone, topKBoundary(2));
    const model = withHead(top, 2);
    const boundary = tf.randomNormal([2, ...(top.inputs[0].shape.slice(1) as number[])], 0, 1, 'float32', 3);
    const labels = tf.oneHot([0, 1], 2);
    const { value, grads } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(boundary, { training: true }) as tf.Tensor) as tf.Scalar);
    const names = Object.keys(grads);
    const dw = names.find((name) => name.includes('block7a_dwconv') && name.includes('kernel'));
    assert.ok(dw, `no block7a_dwconv kernel among ${names.length} gradients`);
    const norm = tf.tidy(() => tf.norm(grads[dw!]).dataSync()[0]);
    assert.ok(Number.isFinite(norm) && norm > 0, `gradient norm ${norm}`);
    assert.ok(!names.some((name) => name.includes('block6b_')), 'frozen blocks must not get gradients');
    tf.dispose([boundary, labels, value, ...Object.values(grads)]);
  } finally {
    backbone.dispose();
  }
});
