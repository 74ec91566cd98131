// The streaming predict pipeline (batches, prefetch, worker, ORT settings) must give the same
// probabilities as the plain one-image path: loadImage + an in-thread ONNX Runtime session with
// ONNX Runtime's own defaults (spinning on), one image per run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_PREPROCESSING } from '../../src/data/types.js';
import { writeCheckpoint } from '../../src/model/checkpoint.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { createOnnxEngine } from '../../src/model/onnx/ort-engine.js';
import type { BackboneEngine, Classifier } from '../../src/model/types.js';
import { isFileError, predictAll } from '../../src/predict/index.js';

const CLASS_NAMES = ['a', 'b', 'c'];
let dir: string;
let checkpoint: string;
let pipelineClassifier: Classifier;
let referenceEngine: BackboneEngine;
let referenceClassifier: Classifier;

/** 640×480-ish RGB pixels with a gradient and a disc, different for each seed. */
function pixels(seed: number, width: number, height: number, channels: 3 | 4 = 3): Buffer {
  const out = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      const inside = (x - width / 2 - seed * 17) ** 2 + (y - height / 2) ** 2 < (height / (3 + seed)) ** 2;
      out[o] = inside ? 220 : (x * 255) / width;
      out[o + 1] = inside ? 30 + seed * 40 : (((y + seed * 31) * 255) / height) % 256;
      out[o + 2] = (((x ^ y) + seed * 13) & 0xff) >> 1;
      if (channels === 4) out[o + 3] = (x + y) % 256;
    }
  }
  return out;
}

/** The mixed folder, in the sorted order predict lists it; `good` says whether a file decodes. */
async function writeMixedFolder(folder: string): Promise<{ file: string; good: boolean }[]> {
  await fs.mkdir(folder, { recursive: true });
  const raw = (seed: number, width: number, height: number, channels: 3 | 4 = 3) =>
    sharp(pixels(seed, width, height, channels), { raw: { width, height, channels } });
  const entries: [string, Buffer, boolean][] = [
    ['01-photo.jpg', await raw(1, 640, 480).jpeg({ quality: 85 }).toBuffer(), true],
    ['02-large.jpg', await raw(2, 1600, 1200).jpeg({ quality: 85 }).toBuffer(), true], // big enough for shrink-on-load
    ['03-alpha.png', await raw(3, 300, 200, 4).png().toBuffer(), true],
    ['04-photo.webp', await raw(4, 640, 480).webp({ quality: 80 }).toBuffer(), true],
    ['05-corrupt.jpg', (await raw(5, 640, 480).jpeg().toBuffer()).subarray(0, 2000), false],
    ['06-portrait.jpg', await raw(6, 480, 640).jpeg({ quality: 90 }).toBuffer(), true],
    ['07-small.png', await raw(7, 100, 90).png().toBuffer(), true],
  ];
  for (const [name, bytes] of entries) await fs.writeFile(path.join(folder, name), bytes);
  return entries.map(([name, , good]) => ({ file: path.join(folder, name), good }));
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-parity-'));
  checkpoint = path.join(dir, 'fixed.imgcls');
  // a fixed 3-class head whose probabilities vary between images (no training needed)
  const kernel = Float32Array.from({ length: 1280 * 3 }, (_, i) => Math.sin(i * 0.7) * 0.3);
  await writeCheckpoint(checkpoint, {
    spec: { arch: 'efficientnet-b0', classNames: CLASS_NAMES, preprocessing: { ...DEFAULT_PREPROCESSING }, dropout: 0.2, mode: 'head' },
    training: { config: {}, epoch: 0, epochs: 0, datasetFingerprint: 'none', optimizerSteps: 0 },
    metrics: null,
    weights: { 'head/kernel': { shape: [1280, 3], data: kernel }, 'head/bias': { shape: [3], data: Float32Array.of(0.1, -0.2, 0.05) } },
  });
  pipelineClassifier = await loadClassifier(checkpoint, { engine: 'onnxruntime' });
  referenceEngine = await createOnnxEngine({ worker: false, spinning: true, maxRunBatch: 1 });
  referenceClassifier = await loadClassifier(checkpoint, { engine: referenceEngine });
});

after(async () => {
  await pipelineClassifier?.dispose();
  await referenceClassifier?.dispose();
  await referenceEngine?.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

test('predict over a mixed folder (JPEG, PNG, webp, a corrupt file) = the one-image path to 1e-6, rows in input order', async () => {
  const files = await writeMixedFolder(path.join(dir, 'mixed'));
  const reference = new Map<string, number[]>();
  for (const { file, good } of files) {
    if (!good) continue;
    const ranked = await referenceClassifier.classify(file);
    reference.set(file, CLASS_NAMES.map((name) => ranked.find((p) => p.className === name)!.probability));
  }
  // the spread shows the head tells the images apart, so equal probabilities mean equal features
  const firstClass = [...reference.values()].map((p) => p[0]);
  assert.ok(Math.max(...firstClass) - Math.min(...firstClass) > 0.01, `probabilities barely vary: ${firstClass.join(', ')}`);

  for (const batchSize of [1, 3, 16]) {
    const results = await predictAll(pipelineClassifier, path.join(dir, 'mixed'), { batchSize });
    assert.deepEqual(results.map((r) => r.file), files.map((f) => f.file), `batch ${batchSize}: rows in input order`);
    results.forEach((result, i) => {
      assert.equal(isFileError(result), !files[i].good, `batch ${batchSize}: ${result.file}`);
      if (isFileError(result)) {
        assert.match(result.error, /^IMAGE_TRUNCATED: /);
        return;
      }
      const expected = reference.get(result.file)!;
      CLASS_NAMES.forEach((name, c) => {
        const got = result.probabilities.find((p) => p.className === name)!.probability;
        assert.ok(Math.abs(got - expected[c]) <= 1e-6, `batch ${batchSize}: ${path.basename(result.file)} ${name}: ${got} vs ${expected[c]}`);
      });
    });
  }
});
