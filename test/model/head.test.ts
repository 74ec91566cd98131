import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import { EFFICIENTNET_B0_BLOCKS, buildEfficientNetB0, efficientNetB0Blocks } from '../../src/model/efficientnet.js';
import { loadPretrainedBackbone } from '../../src/model/pretrained.js';
import { layerOutput, splitBackbone, topKBoundary, withHead } from '../../src/model/head.js';

const INPUT_SIZE = 64; // pooling is global, so the weights run at any size; small keeps the test fast
let backbone: tf.LayersModel;
let images: tf.Tensor4D;

before(async () => {
  await initBackend();
  backbone = await loadPretrainedBackbone({ inputSize: INPUT_SIZE });
  images = tf.randomUniform([2, INPUT_SIZE, INPUT_SIZE, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
});

after(() => {
  backbone.dispose();
  images.dispose();
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

test('the block table gives 16 MBConv blocks and the top-k boundaries are block outputs', () => {
  const blocks = efficientNetB0Blocks();
  assert.equal(blocks.length, EFFICIENTNET_B0_BLOCKS.reduce((n, row) => n + row.repeats, 0));
  assert.equal(blocks.length, 16);
  assert.deepEqual(blocks.filter((b) => b.outputLayer.endsWith('_project_conv')).map((b) => b.prefix),
    ['block1a_', 'block2a_', 'block3a_', 'block4a_', 'block5a_', 'block6a_', 'block7a_']); // first block of each stage
  for (const block of blocks) assert.ok(backbone.getLayer(block.outputLayer), block.outputLayer);
  assert.equal(topKBoundary(1), 'block6d_add');
  assert.equal(topKBoundary(2), 'block6c_add');
  assert.equal(topKBoundary(7), 'block5a_project_conv'); // 80 → 112 channels: no residual
  assert.equal(topKBoundary(0), 'block7a_project_conv');
  assert.equal(topKBoundary(16), 'stem_activation');
  for (const bad of [-1, 17, 1.5]) {
    assert.throws(() => topKBoundary(bad), (err) => isImgclsError(err, 'USAGE'));
  }
});

test('withHead adds dropout + dense softmax head_dense on the pooled 1280-d features', () => {
  const model = withHead(backbone, 3, { dropout: 0.3 });
  const dense = model.getLayer('head_dense');
  assert.deepEqual(dense.getWeights()[0].shape, [1280, 3]);
  const probs = model.predict(images) as tf.Tensor;
  assert.deepEqual(probs.shape, [2, 3]);
  const sums = tf.tidy(() => tf.sum(probs, 1).arraySync() as number[]);
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
  // the head model shares the backbone's weights
  assert.equal(model.getLayer('top_conv'), backbone.getLayer('top_conv'));
  probs.dispose();
  for (const [classes, dropout] of [[1, 0.2], [2, 1], [2, -0.1]]) {
    assert.throws(() => withHead(backbone, classes, { dropout }), (err) => isImgclsError(err, 'USAGE'));
  }
  const withTop = buildEfficientNetB0({ includeTop: true, inputSize: 32 });
  assert.throws(() => withHead(withTop, 2), (err) => isImgclsError(err, 'USAGE'));
  withTop.dispose();
});

for (const k of [2, 16]) {
  test(`splitBackbone at topKBoundary(${k}): top(bottom(x)) equals the backbone, weights shared`, () => {
    const { bottom, top } = splitBackbone(backbone, topKBoundary(k));
    const whole = backbone.predict(images) as tf.Tensor;
    const boundary = bottom.predict(images) as tf.Tensor;
    const composed = top.predict(boundary) as tf.Tensor;
    assert.deepEqual(composed.shape, [2, 1280]);
    assert.ok(maxAbsDiff(whole, composed) < 1e-5);
    // top holds exactly the layers after the boundary: the last k blocks and the top conv
    const topLayers = new Set(top.trainableWeights.map((w) => w.originalName.split('/')[0]));
    assert.ok(topLayers.has('top_conv'));
    assert.equal(topLayers.has('stem_conv'), false);
    assert.equal(topLayers.has('block1a_dwconv'), k === 16);
    assert.equal(topLayers.has(k === 2 ? 'block6b_dwconv' : 'normalization'), false);
    if (k === 2) assert.ok(topLayers.has('block6c_dwconv') === false && topLayers.has('block6d_dwconv') && topLayers.has('block7a_dwconv'));
    assert.equal(top.getLayer('top_conv'), backbone.getLayer('top_conv'));
    tf.dispose([whole, boundary, composed]);
  });
}

test('splitBackbone refuses a cut inside a residual block and unknown layers', () => {
  assert.throws(() => splitBackbone(backbone, 'block6d_dwconv'), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => splitBackbone(backbone, 'no_such_layer'), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => layerOutput(backbone, 'no_such_layer'), (err) => isImgclsError(err, 'USAGE'));
});

test('splitBackbone keeps every output of a multi-output model (feature map + pooled)', () => {
  const source = tf.model({
    inputs: backbone.inputs,
    outputs: [layerOutput(backbone, 'top_activation'), backbone.outputs[0]],
  });
  const { bottom, top } = splitBackbone(source, topKBoundary(1));
  const [map, pooled] = top.predict(bottom.predict(images) as tf.Tensor) as tf.Tensor[];
  const size = INPUT_SIZE / 32;
  assert.deepEqual(map.shape, [2, size, size, 1280]);
  const whole = backbone.predict(images) as tf.Tensor;
  assert.ok(maxAbsDiff(whole, pooled) < 1e-5);
  assert.ok(tf.tidy(() => maxAbsDiff(tf.mean(map, [1, 2]), pooled)) < 1e-5);
  tf.dispose([map, pooled, whole]);
});
