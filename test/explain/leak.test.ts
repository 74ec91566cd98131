import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { explain } from '../../src/explain/index.js';
import { loadClassifier } from '../../src/model/classifier.js';
import type { Classifier, DenseHead } from '../../src/model/types.js';
import { seededRandom } from '../../src/data/scan.js';
import { writeHeadCheckpoint, writePatchImage } from './helpers.js';

const LESSON_IMAGE = path.resolve('..', 'shared', 'lesson-data', 'train', 'logo', '19.jpg');

describe('explain: memory', () => {
  let dir: string;
  let classifier: Classifier;
  const files: string[] = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-explain-leak-'));
    for (const [i, patch] of [{ left: 0, top: 0, size: 64 }, { left: 100, top: 60, size: 96 }, undefined].entries()) {
      files.push(path.join(dir, `image-${i}.png`));
      await writePatchImage(files[i], 224 + 40 * i, 224, patch);
    }
    if (existsSync(LESSON_IMAGE)) files.push(LESSON_IMAGE);
    const random = seededRandom(3);
    const head: DenseHead = {
      kernel: Float32Array.from({ length: 1280 * 2 }, () => random() - 0.5), bias: new Float32Array(2), inputDim: 1280, numClasses: 2,
    };
    // the real checkpoint loader on the TF.js engine, where tensors live
    const checkpoint = path.join(dir, 'random-head.imgcls');
    await writeHeadCheckpoint(checkpoint, head, ['a', 'b']);
    classifier = await loadClassifier(checkpoint, { engine: 'tfjs' });
  });

  after(async () => {
    await classifier?.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('explaining 100 images in a row leaks no tensors', async () => {
    for (const file of files) await explain(classifier, file); // warm-up: kernels and caches settle
    const before = tf.memory().numTensors;
    assert.ok(before > 100, `the TF.js engine holds its weights as tensors (${before} seen)`);
    const counts: number[] = [];
    for (let i = 0; i < 100; i++) {
      const explanation = await explain(classifier, files[i % files.length], { className: i % 2 ? 'a' : 'b' });
      assert.equal(explanation.map.length, 49);
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual([...new Set(counts)], [before], `tensor counts seen: ${[...new Set(counts)].join(', ')}`);
  });
});
