import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { scanDataset } from '../../src/data/scan.js';
import { streamBatches } from '../../src/data/stream.js';
import { writeSampleDataset } from '../../src/data/sample.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { train } from '../../src/train/train.js';

// these cases pin TF.js: test/train/engines/libtorch.test.ts covers the libtorch engine
describe('train (top-k mode)', () => {
  let tmp: string;
  let data: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-topk-'));
    data = (await writeSampleDataset(path.join(tmp, 'data'), { imagesPerClass: 4 })).root;
  });
  after(async () => fs.rm(tmp, { recursive: true, force: true }));
  const config = (outDir: string, extra: object = {}) => ({ data, outDir: path.join(tmp, outDir), cacheDir: path.join(tmp, 'cache'), mode: 'top-k' as const, topK: 1, batchSize: 4, trainEngine: 'tfjs' as const, ...extra });

  it('trains the last block + head, and the reloaded checkpoint reproduces the validation loss', async () => {
    const result = await train(config('a', { epochs: 2 }));
    assert.equal(result.spec.mode, 'top-k');
    assert.equal(result.spec.topK, 1);
    const checkpoint = await loadCheckpoint(result.checkpoints.last);
    const topNames = Object.keys(checkpoint.weights).filter((name) => name.startsWith('top/'));
    assert.ok(topNames.some((name) => name.startsWith('top/block7a_')), 'block 16 weights are stored');
    assert.ok(topNames.some((name) => name.startsWith('top/top_conv/')), 'the top conv weights are stored');
    assert.ok(!topNames.some((name) => name.startsWith('top/block6')), 'frozen blocks are not stored');
    assert.ok(Object.keys(checkpoint.weights).some((name) => name.startsWith('optimizer/top/')), 'optimizer state of the top is stored');

    const before = tf.memory().numTensors;
    const classifier = await loadClassifier(result.checkpoints.last);
    try {
      const dataset = await scanDataset(data);
      let loss = 0;
      for await (const batch of streamBatches(dataset.valid, { batchSize: 8 })) {
        const probabilities = await classifier.predictBatch(batch);
        batch.labels.forEach((label, i) => (loss -= Math.log(probabilities[i * 2 + label])));
        const featureMap = await classifier.featureMap(batch);
        assert.equal(featureMap.length, batch.count * 7 * 7 * 1280);
      }
      loss /= dataset.valid.length;
      assert.ok(Math.abs(loss - result.final.val_loss!) < 1e-3, `reloaded val loss ${loss} vs trained ${result.final.val_loss}`);
    } finally {
      await classifier.dispose();
    }
    assert.ok(tf.memory().numTensors <= before + 2, `tensors leaked: ${tf.memory().numTensors - before}`);
  });

  it('resumes with the optimizer state to the same weights as an uninterrupted run', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const straight = await train(config('straight', { epochs: 2 }));
    assert.equal(tf.memory().numTensors, tensorsBefore, 'train() leaves no tensors behind');
    await train(config('resumed', { epochs: 1 }));
    const resumed = await train(config('resumed', { epochs: 2, resume: true }));
    assert.equal(resumed.resumedFromEpoch, 1);
    const a = await loadCheckpoint(straight.checkpoints.last);
    const b = await loadCheckpoint(resumed.checkpoints.last);
    for (const name of ['head/kernel', 'top/top_conv/0']) {
      const x = a.weights[name].data;
      const y = b.weights[name].data;
      let maxDiff = 0;
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
      assert.ok(maxDiff < 1e-6, `${name} differs by ${maxDiff}`);
    }
  });

  it("'full' mode trains every layer from cached images, and the reloaded checkpoint reproduces the validation loss", async () => {
    const small = (await writeSampleDataset(path.join(tmp, 'small'), { imagesPerClass: 2 })).root;
    const messages: string[] = [];
    const result = await train(
      { data: small, outDir: path.join(tmp, 'full'), cacheDir: path.join(tmp, 'cache'), mode: 'full', epochs: 1, trainEngine: 'tfjs', preprocessing: { inputSize: 64 } },
      { onProgress: (p) => p.message && messages.push(p.message) },
    );
    assert.equal(result.engine, null, 'full mode needs no backbone engine');
    assert.ok(messages.some((m) => /full ≈ .*head is the fastest/.test(m)), messages.join('\n'));
    const checkpoint = await loadCheckpoint(result.checkpoints.last);
    assert.equal(checkpoint.spec.mode, 'full');
    assert.ok(checkpoint.weights['top/stem_conv/0'], 'the stem is trained and stored too');
    const classifier = await loadClassifier(result.checkpoints.last);
    try {
      const dataset = await scanDataset(small);
      let loss = 0;
      for await (const batch of streamBatches(dataset.valid, { batchSize: 8, preprocessing: { inputSize: 64 } })) {
        const probabilities = await classifier.predictBatch(batch);
        batch.labels.forEach((label, i) => (loss -= Math.log(probabilities[i * 2 + label])));
      }
      loss /= dataset.valid.length;
      assert.ok(Math.abs(loss - result.final.val_loss!) < 1e-3, `reloaded val loss ${loss} vs trained ${result.final.val_loss}`);
    } finally {
      await classifier.dispose();
    }
  });
});
