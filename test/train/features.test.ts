import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { contentHash } from '../../src/data/hash.js';
import { DEFAULT_PREPROCESSING } from '../../src/data/types.js';
import { createOnnxEngine } from '../../src/model/onnx/ort-engine.js';
import type { BackboneEngine } from '../../src/model/types.js';
import { computeFeatures, featureKey, type FeatureJob } from '../../src/train/features.js';

let dir: string;
let engine: BackboneEngine;
let jobs: FeatureJob[];

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-features-'));
  engine = await createOnnxEngine();
  jobs = [];
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, `img-${i}.jpg`);
    await sharp({ create: { width: 320 + i * 40, height: 240, channels: 3, background: { r: 40 * i, g: 200 - 30 * i, b: 90 } } })
      .composite([{ input: { create: { width: 60, height: 60, channels: 3, background: { r: 250, g: 250, b: 10 * i } } }, left: 20 * i, top: 30 }])
      .jpeg().toFile(file);
    jobs.push({ file, hash: await contentHash(file), view: 0 });
  }
});

after(async () => {
  await engine?.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

test('computeFeatures: plain batches (no copy) and batches with augmented views give the same view-0 features; every entry is cached', async () => {
  const options = (cacheDir: string, batchSize: number) => ({
    cacheDir: path.join(dir, cacheDir), preprocessing: DEFAULT_PREPROCESSING, output: 'pooled', getEngine: async () => engine, batchSize,
  });
  const plain = await computeFeatures(jobs, options('plain', 2));
  const withViews = await computeFeatures([...jobs, ...jobs.slice(0, 3).map((job) => ({ ...job, view: 1 }))], options('views', 2));
  assert.equal(plain.computed, 5);
  assert.equal(withViews.computed, 8);
  for (const job of jobs) {
    const key = featureKey(job, DEFAULT_PREPROCESSING, 'pooled');
    const a = plain.byKey.get(key)!;
    const b = withViews.byKey.get(key)!;
    assert.equal(a.length, 1280);
    assert.ok(a.every((value, i) => Math.abs(value - b[i]) <= 1e-5), `${path.basename(job.file)}: features differ`);
  }
  const again = await computeFeatures(jobs, options('plain', 2));
  assert.equal(again.computed, 0);
  assert.equal(again.cacheHits, 5);
  const key = featureKey(jobs[3], DEFAULT_PREPROCESSING, 'pooled');
  assert.deepEqual(again.byKey.get(key), plain.byKey.get(key));
});
