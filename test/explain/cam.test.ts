import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import { classActivationMap, headProbabilities, upsampleMap } from '../../src/explain/cam.js';
import { colormapTable, JET_STOPS, plotlyColorscale } from '../../src/explain/colormap.js';
import { inputRegion } from '../../src/explain/explain.js';
import type { DenseHead } from '../../src/model/types.js';
import { seededRandom } from '../../src/data/scan.js';
import { applyHead } from './helpers.js';

function randomHead(inputDim: number, numClasses: number, seed: number): DenseHead {
  const random = seededRandom(seed);
  return {
    kernel: Float32Array.from({ length: inputDim * numClasses }, () => random() * 2 - 1),
    bias: Float32Array.from({ length: numClasses }, () => random() - 0.5),
    inputDim,
    numClasses,
  };
}

describe('classActivationMap', () => {
  before(() => initBackend());

  it('weights each NHWC channel by the class column, applies ReLU and scales the maximum to 1', () => {
    // 2 × 2 map, 3 channels, 2 classes; class 1 weights the channels (1, -1, 0.5)
    const head: DenseHead = { kernel: new Float32Array([0, 1, 0, -1, 0, 0.5]), bias: new Float32Array(2), inputDim: 3, numClasses: 2 };
    const featureMap = new Float32Array([
      4, 0, 0, // top-left: 4
      0, 1, 0, // top-right: -1 → 0
      1, 0, 2, // bottom-left: 2
      0, 0, 0, // bottom-right: 0
    ]);
    assert.deepEqual(Array.from(classActivationMap(featureMap, 2, 3, head, 1)), [1, 0, 0.5, 0]);
    // class 0's column is zero: no evidence anywhere, no division by zero
    assert.deepEqual(Array.from(classActivationMap(featureMap, 2, 3, head, 0)), [0, 0, 0, 0]);
  });

  it('equals Grad-CAM computed with TF.js gradients through global pooling and the dense head', () => {
    const mapSize = 7;
    const channels = 24;
    const head = randomHead(channels, 3, 7);
    const random = seededRandom(11);
    const featureMap = Float32Array.from({ length: mapSize * mapSize * channels }, () => random() * 2 - 0.6);
    const before = tf.memory().numTensors;
    for (let classIndex = 0; classIndex < 3; classIndex++) {
      const gradCam = tf.tidy(() => {
        const activations = tf.tensor4d(featureMap, [1, mapSize, mapSize, channels]);
        const kernel = tf.tensor2d(head.kernel, [channels, 3]);
        const logit = (a: tf.Tensor) => tf.matMul(tf.mean(a, [1, 2]) as tf.Tensor2D, kernel).add(tf.tensor1d(head.bias)).slice([0, classIndex], [1, 1]).sum();
        const gradients = tf.grad(logit)(activations);
        const channelWeights = tf.mean(gradients, [1, 2], true); // Grad-CAM's alpha: gradients averaged over the map
        const cam = tf.relu(tf.sum(tf.mul(activations, channelWeights), -1)).reshape([mapSize * mapSize]);
        return tf.div(cam, tf.max(cam));
      });
      const expected = gradCam.dataSync();
      gradCam.dispose();
      const actual = classActivationMap(featureMap, mapSize, channels, head, classIndex);
      actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-5, `class ${classIndex} cell ${i}: ${value} vs ${expected[i]}`));
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects a feature map that does not fit the head or the size, and a bad class index', () => {
    const head = randomHead(4, 2, 1);
    assert.throws(() => classActivationMap(new Float32Array(2 * 2 * 4), 2, 3, head, 0), (err) => isImgclsError(err, 'USAGE'));
    assert.throws(() => classActivationMap(new Float32Array(2 * 2 * 3), 2, 3, head, 0), (err) => isImgclsError(err, 'CHECKPOINT_INCOMPATIBLE'));
    assert.throws(() => classActivationMap(new Float32Array(2 * 2 * 4), 2, 4, head, 2), (err) => isImgclsError(err, 'USAGE'));
  });
});

describe('explain helpers', () => {
  it('headProbabilities pools the map and applies the head like the classifier does', () => {
    const head = randomHead(5, 3, 3);
    const random = seededRandom(5);
    const featureMap = Float32Array.from({ length: 3 * 3 * 5 }, () => random());
    const pooled = new Float32Array(5);
    for (let cell = 0; cell < 9; cell++) for (let c = 0; c < 5; c++) pooled[c] += featureMap[cell * 5 + c] / 9;
    const expected = applyHead(pooled, head);
    const actual = headProbabilities(featureMap, 3, 5, head);
    actual.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-6));
  });

  it('upsampleMap is bilinear between cell centres and clamps at the edges', () => {
    const map = new Float32Array([0, 1, 0, 1]); // 2 × 2: columns 0 and 1
    const wide = upsampleMap(map, 2, 4, 1);
    // pixel centres 0.5..3.5 → source x -0.25, 0.25, 0.75, 1.25 → clamped 0, 0.25, 0.75, 1
    assert.deepEqual(Array.from(wide), [0, 0.25, 0.75, 1]);
    assert.deepEqual(Array.from(upsampleMap(new Float32Array([0.5]), 1, 3, 2)), new Array(6).fill(0.5));
  });

  it('inputRegion: whole image for squash, centred square for center-crop', () => {
    assert.deepEqual(inputRegion(300, 200, { resize: 'squash' }), { left: 0, top: 0, width: 300, height: 200 });
    assert.deepEqual(inputRegion(300, 200, { resize: 'center-crop' }), { left: 50, top: 0, width: 200, height: 200 });
    assert.deepEqual(inputRegion(200, 301, { resize: 'center-crop' }), { left: 0, top: 50, width: 200, height: 200 });
  });

  it('the overlay colour table and the plotly colorscale come from the same stops', () => {
    const table = colormapTable();
    assert.equal(table.length, 768);
    assert.deepEqual(Array.from(table.subarray(0, 3)), [0, 0, 128]);
    assert.deepEqual(Array.from(table.subarray(765, 768)), [128, 0, 0]);
    const scale = plotlyColorscale();
    assert.equal(scale.length, JET_STOPS.length);
    assert.deepEqual(scale[0], [0, 'rgb(0,0,128)']);
    assert.deepEqual(scale.at(-1), [1, 'rgb(128,0,0)']);
  });
});
