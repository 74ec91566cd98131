import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint, writeCheckpoint, writeCheckpointOpenSet, type CheckpointContent } from '../../src/model/checkpoint.js';
import {
  auroc,
  buildOpenSet,
  checkpointOpenSet,
  conformalThreshold,
  energyScores,
  falsePositiveRateAt,
  leaveOneOutKnnScores,
  normalizeRows,
  OPEN_SET_MAX_IMAGES,
  OPEN_SET_TENSOR,
  openSetForCheckpoint,
  openSetSubsample,
  openSetVerdicts,
  pairwiseDistances,
  quantile,
} from '../../src/model/open-set.js';
import type { ModelSpec } from '../../src/model/types.js';
import { seededRandom } from '../../src/util/random.js';

const SPEC: ModelSpec = {
  arch: 'efficientnet-b0',
  classNames: ['a', 'b'],
  preprocessing: { inputSize: 224, resize: 'squash', normalization: 'zero-one' },
  dropout: 0.2,
  mode: 'head',
};

/** `count` rows of `dim` values around one of two centres (label = row % 2), seeded. */
function clusters(count: number, dim: number, seed = 1): { features: Float32Array; labels: number[] } {
  const random = seededRandom(seed);
  const features = new Float32Array(count * dim);
  const labels: number[] = [];
  for (let row = 0; row < count; row++) {
    const label = row % 2;
    labels.push(label);
    for (let d = 0; d < dim; d++) features[row * dim + d] = (d % 2 === label ? 1 : 0) + 0.1 * (random() - 0.5);
  }
  return { features, labels };
}

describe('open-set maths', () => {
  it('pairwiseDistances equals the Euclidean distance of normalised rows', () => {
    const random = seededRandom(3);
    const dim = 7;
    const a = normalizeRows(Float32Array.from({ length: 3 * dim }, () => random() - 0.5), 3, dim);
    const b = normalizeRows(Float32Array.from({ length: 4 * dim }, () => random() - 0.5), 4, dim);
    const distances = pairwiseDistances(a, 3, b, 4, dim);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        let sum = 0;
        for (let d = 0; d < dim; d++) sum += (a[i * dim + d] - b[j * dim + d]) ** 2;
        assert.ok(Math.abs(distances[i * 4 + j] - Math.sqrt(sum)) < 1e-5);
      }
    }
    const unit = normalizeRows(new Float32Array([3, 4, 0, 0]), 2, 2);
    assert.deepEqual([...unit], [0.6000000238418579, 0.800000011920929, 0, 0], 'a zero row stays zero');
  });

  it('leave-one-out never lets an image be its own neighbour', () => {
    const features = normalizeRows(new Float32Array([1, 0, 1, 0, 0, 1]), 3, 2);
    // rows 0 and 1 are identical: each one's nearest other is the other (distance 0); row 2 is √2 from both
    assert.deepEqual([...leaveOneOutKnnScores(features, 3, 2, 1)].map((v) => Number(v.toFixed(4))), [0, 0, 1.4142]);
  });

  it('quantile, conformal threshold, AUROC and FPR@95%TPR', () => {
    assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
    assert.equal(quantile([0, 10], 0.95), 9.5);
    const nineteen = Array.from({ length: 19 }, (_, i) => i + 1);
    assert.equal(conformalThreshold(nineteen, 0.95), 19, 'few images: the largest leave-one-out score');
    const many = Array.from({ length: 999 }, (_, i) => i + 1);
    assert.equal(conformalThreshold(many, 0.95), 950, '⌈1000 · 0.95⌉-th smallest');
    assert.equal(auroc([0, 1, 2], [3, 4]), 1);
    assert.equal(auroc([3, 4], [0, 1, 2]), 0);
    assert.equal(auroc([1], [1]), 0.5);
    assert.equal(falsePositiveRateAt([0, 1, 2, 3], [0.5, 10, 20, 30]), 0.25);
    const energy = energyScores(new Float32Array([0, 0, 10, -10]), 2, 2);
    assert.ok(Math.abs(energy[0] + Math.log(2)) < 1e-9);
    assert.ok(energy[1] < energy[0], 'a confident row has lower energy');
  });

  it('calibrates so that in-distribution rows pass and far rows are unfamiliar', () => {
    const dim = 16;
    const { features, labels } = clusters(40, dim);
    const files = labels.map((label, i) => `/data/train/${label ? 'b' : 'a'}/${i}.png`);
    const data = buildOpenSet(features, files, labels);
    const loo = leaveOneOutKnnScores(data.features, 40, dim, 1);
    // conformal: the ⌈41 · 0.95⌉ = 39th smallest leave-one-out score
    assert.equal([...loo].filter((score) => score <= data.threshold).length, 39);
    const fresh = clusters(6, dim, 99);
    const far = Float32Array.from({ length: 2 * dim }, (_, i) => (i < dim ? (i === 3 ? 5 : -1) : Math.cos(i)));
    const verdicts = openSetVerdicts(data, Float32Array.from([...fresh.features, ...far]), 8, { nearest: 2, classNames: ['a', 'b'] });
    assert.deepEqual(verdicts.map((v) => v.unfamiliar), [false, false, false, false, false, false, true, true]);
    assert.equal(verdicts[0].nearest.length, 2);
    assert.equal(verdicts[0].nearest[0].className, 'a', 'the nearest training image has the row\'s cluster');
    assert.ok(verdicts[0].nearest[0].distance <= verdicts[0].nearest[1].distance);
    assert.ok(verdicts[6].score > verdicts[6].threshold);
  });

  it('stores at most OPEN_SET_MAX_IMAGES images: a seeded subsample beyond', () => {
    assert.deepEqual(openSetSubsample(5), [0, 1, 2, 3, 4]);
    const picked = openSetSubsample(100_000, OPEN_SET_MAX_IMAGES, 7);
    assert.equal(picked.length, OPEN_SET_MAX_IMAGES);
    assert.deepEqual(picked, [...picked].sort((a, b) => a - b));
    assert.equal(new Set(picked).size, OPEN_SET_MAX_IMAGES);
    assert.deepEqual(openSetSubsample(100_000, OPEN_SET_MAX_IMAGES, 7), picked, 'same seed, same subsample');
  });
});

describe('open-set data in checkpoints', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-openset-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const content = (): CheckpointContent => ({
    spec: SPEC,
    training: { config: {}, epoch: 1, epochs: 1, datasetFingerprint: 'f'.repeat(64), optimizerSteps: 1 },
    metrics: null,
    weights: {
      'head/kernel': { shape: [1280, 2], data: Float32Array.from({ length: 2560 }, (_, i) => Math.sin(i)) },
      'head/bias': { shape: [2], data: new Float32Array([0.1, -0.1]) },
    },
  });

  it('an old checkpoint has none; writing it keeps the weights and round-trips the features', async () => {
    const file = path.join(dir, 'model.imgcls');
    await writeCheckpoint(file, content());
    const old = await loadCheckpoint(file);
    assert.equal(checkpointOpenSet(old), undefined, 'written before open-set data: no verdict, no error');
    const { features, labels } = clusters(100, 1280);
    const data = buildOpenSet(features, labels.map((_, i) => `/data/${i}.png`), labels);
    const { header, tensor } = openSetForCheckpoint(data);
    const before = (await fs.stat(file)).size;
    await writeCheckpointOpenSet(file, header, { [OPEN_SET_TENSOR]: tensor });
    const grown = (await fs.stat(file)).size - before;
    // 100 × 1280 float32 = 512,000 bytes plus the file names in the header
    assert.ok(grown > 512_000 && grown < 530_000, `grew by ${grown} bytes`);
    const loaded = await loadCheckpoint(file);
    assert.deepEqual(loaded.weights['head/kernel'].data, old.weights['head/kernel'].data);
    assert.equal(loaded.createdAt, old.createdAt);
    const stored = checkpointOpenSet(loaded)!;
    assert.equal(stored.threshold, data.threshold);
    assert.deepEqual(stored.files, data.files);
    assert.deepEqual(stored.features, data.features);
    // recalibrating replaces the data instead of adding a second copy
    await writeCheckpointOpenSet(file, { ...header, threshold: 0.5 }, { [OPEN_SET_TENSOR]: tensor });
    assert.ok(Math.abs((await fs.stat(file)).size - before - grown) < 64, "one copy of the data");
    assert.equal(checkpointOpenSet(await loadCheckpoint(file))!.threshold, 0.5);
  });
});
