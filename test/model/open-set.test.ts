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
  classKnnScore,
  conformalThreshold,
  energyScores,
  falsePositiveRateAt,
  leaveOneOutKnnScores,
  layerChannels,
  leaveOneOutVerdictScores,
  normalizeRows,
  OPEN_SET_LAYERS,
  OPEN_SET_LAYERS_TENSOR,
  openSetLayersFor,
  poolLayers,
  OPEN_SET_MAX_IMAGES,
  OPEN_SET_TENSOR,
  openSetForCheckpoint,
  openSetSubsample,
  openSetVerdicts,
  pairwiseDistances,
  quantile,
  robustThreshold,
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
    // every blocking path (pairs of queries and a last odd one; blocks of four stored rows and the rest) gives, to the
    // bit, the one-pair-at-a-time dot product
    for (const [queries, stored] of [[5, 6], [2, 4], [1, 3], [16, 9]] as const) {
      const q = normalizeRows(Float32Array.from({ length: queries * dim }, () => random() - 0.5), queries, dim);
      const s = normalizeRows(Float32Array.from({ length: stored * dim }, () => random() - 0.5), stored, dim);
      const blocked = pairwiseDistances(q, queries, s, stored, dim);
      const reference = new Float32Array(queries * stored);
      for (let i = 0; i < queries; i++) {
        for (let j = 0; j < stored; j++) {
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += q[i * dim + d] * s[j * dim + d];
          reference[i * stored + j] = Math.sqrt(Math.max(0, 2 - 2 * dot));
        }
      }
      assert.deepEqual(blocked, reference, `${queries} queries × ${stored} stored`);
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

  it('robust threshold: the conformal quantile, capped at median + k·MAD', () => {
    const scores = [1, 1.1, 0.9, 1.05, 0.95, 1, 5];
    assert.equal(robustThreshold(scores, 0.95), 5, 'no cap: the largest of 7');
    const capped = robustThreshold(scores, 0.95, 3);
    assert.ok(capped > 1.1 && capped < 1.5, `one far-out score does not set it alone: ${capped}`);
    assert.equal(robustThreshold([1, 2, 3], 0.95, 100), 3, 'never above the conformal quantile');
    // a floor: a dozen tight scores (their largest is a poor estimate of the 95% quantile) get median + k·MAD at least
    const tight = [0.1, 0.12, 0.14, 0.1, 0.12, 0.14, 0.1, 0.12, 0.14, 0.1, 0.12, 0.13];
    assert.equal(robustThreshold(tight, 0.95), 0.14);
    const floored = robustThreshold(tight, 0.95, undefined, 3);
    assert.ok(Math.abs(floored - (0.12 + 3 * 1.4826 * 0.02)) < 1e-9, `floored at ${floored}`);
    assert.equal(robustThreshold(scores, 0.95, undefined, 3), 5, 'the floor never lowers the conformal quantile');
    assert.equal(classKnnScore([0.5, 0.1, 0.3, 0.2], [0, 1, 0, 1], 0, 1), 0.3);
    assert.equal(classKnnScore([0.5, 0.1, 0.3, 0.2], [0, 1, 0, 1], 0, 1, 2), 0.5, 'leave-one-out: not itself');
    assert.equal(classKnnScore([0.5], [1], 0, 1), Infinity, 'no image of that class');
  });

  it('class-conditional: scored against the predicted class, with that class\'s own threshold', () => {
    const dim = 16;
    const { features, labels } = clusters(40, dim);
    const files = labels.map((label, i) => `/data/train/${label ? 'b' : 'a'}/${i}.png`);
    const data = buildOpenSet(features, files, labels, { conditioning: 'class' });
    assert.equal(data.conditioning, 'class');
    assert.equal(data.classThresholds!.length, 2);
    const fresh = clusters(4, dim, 99);
    const right = openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels });
    assert.deepEqual(right.map((v) => v.unfamiliar), [false, false, false, false]);
    assert.deepEqual(right.map((v) => v.threshold), fresh.labels.map((label) => data.classThresholds![label]));
    // the same images reported as the other class are far from that class's training images
    const wrong = openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels.map((label) => 1 - label) });
    assert.deepEqual(wrong.map((v) => v.unfamiliar), [true, true, true, true]);
    assert.equal(wrong[0].nearest[0].className, 'a', 'nearest images stay the nearest of any class');
    // without the predicted classes (or in a checkpoint written before per-class thresholds) the global rule applies
    const noClass = openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'] });
    assert.ok(noClass.every((v) => v.threshold === data.threshold));
    const { conditioning: _c, classThresholds: _t, madK: _m, madFloorK: _f, ...old } = data;
    const oldVerdicts = openSetVerdicts(old, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels.map((label) => 1 - label) });
    assert.ok(oldVerdicts.every((v) => v.threshold === data.threshold && !v.unfamiliar), 'an old single-threshold header reads as before');
    // leave-one-out on the stored images: at least ~95% of each class passes its own threshold (20 per class: all, conformally)
    const loo = leaveOneOutVerdictScores(data, labels);
    const passed = [...loo.scores].filter((score, i) => score <= loo.thresholds[i]).length;
    assert.ok(passed >= 36, `${passed} of 40 pass`);
    const reported = leaveOneOutVerdictScores(data, labels.map((label) => 1 - label));
    assert.equal([...reported.scores].filter((score, i) => score <= reported.thresholds[i]).length, 0, 'reported as the other class: none pass');
  });

  it('varied negatives added to one class do not loosen another class\'s threshold', () => {
    const dim = 16;
    const { features, labels } = clusters(20, dim);
    const random = seededRandom(5);
    // eight scattered negatives, far from each other and from both clusters, all labelled b ("others")
    const negatives = Float32Array.from({ length: 8 * dim }, () => random() - 0.5);
    const wider = Float32Array.from([...features, ...negatives]);
    const widerLabels = [...labels, ...Array(8).fill(1)];
    const files = (n: number) => Array.from({ length: n }, (_, i) => `/data/${i}.png`);
    for (const rule of [{ madK: null, madFloorK: null }, { madK: 3, madFloorK: null }, {}] as const) {
      const before = buildOpenSet(features, files(20), labels, { conditioning: 'class', ...rule });
      const after = buildOpenSet(wider, files(28), widerLabels, { conditioning: 'class', ...rule });
      assert.equal(after.classThresholds![0], before.classThresholds![0], `class a keeps its threshold (${JSON.stringify(rule)})`);
      assert.ok(after.classThresholds![1]! > before.classThresholds![1]!, 'class b, which got the negatives, widens');
      assert.ok(after.threshold > 1.5 * before.threshold, 'the global threshold is loosened by the negatives');
      // a far image reported as a is still unfamiliar under the class rule, not under the global one
      const far = Float32Array.from({ length: dim }, (_, i) => (i === 3 ? 5 : Math.cos(5 * i)));
      const [classVerdict] = openSetVerdicts(after, far, 1, { classNames: ['a', 'b'], predicted: [0] });
      assert.equal(classVerdict.unfamiliar, true);
    }
    const globalBefore = buildOpenSet(features, files(20), labels, { conditioning: 'global' });
    const globalAfter = buildOpenSet(wider, files(28), widerLabels, { conditioning: 'global' });
    assert.ok(globalAfter.threshold > 1.5 * globalBefore.threshold);
    assert.equal(globalAfter.classThresholds, undefined);
  });

  it('poolLayers: each layer\'s channels averaged over its positions, concatenated per image', () => {
    // two images, layer x: 2 positions × 2 channels, layer y: 1 position × 3 channels (NHWC)
    const x = new Float32Array([1, 10, 3, 30, /* image 2 */ 0, 0, 2, 4]);
    const y = new Float32Array([5, 6, 7, /* image 2 */ 8, 9, 10]);
    assert.deepEqual([...poolLayers({ x, y }, ['x', 'y'], [2, 3], 2)], [2, 20, 5, 6, 7, 1, 2, 8, 9, 10]);
    assert.deepEqual(layerChannels(OPEN_SET_LAYERS), [24, 112]);
    assert.deepEqual(layerChannels(['block3b_add', 'block4c_add']), [40, 80]);
    assert.deepEqual(openSetLayersFor({ mode: 'head' }), OPEN_SET_LAYERS);
    assert.deepEqual(openSetLayersFor({ mode: 'top-k', topK: 2 }), OPEN_SET_LAYERS, 'k = 2 cuts after both stages');
    assert.deepEqual(openSetLayersFor({ mode: 'top-k', topK: 12 }), [], 'a cut before block5c: the engine would not compute it');
    assert.deepEqual(openSetLayersFor({ mode: 'full' }), []);
  });

  it('with layers: an image near the class in the head input but far in a stage is unfamiliar; in-distribution ones pass', () => {
    const dim = 16;
    const layerDim = 8;
    const { features, labels } = clusters(40, dim);
    const layerRows = clusters(40, layerDim, 3).features;
    const files = labels.map((label, i) => `/data/${label}/${i}.png`);
    const plain = buildOpenSet(features, files, labels, { conditioning: 'class' });
    const data = buildOpenSet(features, files, labels, { conditioning: 'class', layers: { names: ['s'], dims: [layerDim], features: layerRows } });
    assert.deepEqual(data.layers?.names, ['s']);
    assert.equal(data.layers!.scales.length, 2, 'a scale per part: the head input and the stage');
    assert.ok(data.layers!.scales.every((perClass) => perClass.every((scale) => typeof scale === 'number' && scale > 0)));
    assert.equal(data.threshold, plain.threshold, 'the global threshold is the head input\'s, as before');
    const fresh = clusters(4, dim, 99);
    const freshLayers = clusters(4, layerDim, 98).features;
    const familiar = openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels, layerFeatures: freshLayers });
    assert.deepEqual(familiar.map((v) => v.unfamiliar), [false, false, false, false]);
    // same head input, but the stage statistics of the other class: only the layered verdict notices
    const swapped = clusters(4, layerDim, 97);
    const swappedLayers = Float32Array.from({ length: 4 * layerDim }, (_, i) => swapped.features[(i ^ layerDim)]);
    const mixed = openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels, layerFeatures: swappedLayers });
    assert.deepEqual(mixed.map((v) => v.unfamiliar), [true, true, true, true], mixed.map((v) => `${v.score} > ${v.threshold}`).join(', '));
    assert.deepEqual(openSetVerdicts(plain, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels }).map((v) => v.unfamiliar), [false, false, false, false]);
    assert.equal(mixed[0].nearest[0].className, 'a', 'nearest[] stays the head-input neighbours');
    // leave-one-out: every stored image passes its own class threshold (20 per class: the conformal rank is the largest)
    const loo = leaveOneOutVerdictScores(data, labels);
    assert.equal([...loo.scores].filter((score, i) => score <= loo.thresholds[i]).length, 40);
    assert.throws(() => openSetVerdicts(data, fresh.features, 4, { classNames: ['a', 'b'], predicted: fresh.labels }), /pooled values per image/);
  });

  it('with layers: the stages only add verdicts: an image the head-input rule flags stays unfamiliar however familiar its stages', () => {
    // head input: two tight clusters on the unit circle (2-d); stage: scattered at random within each class, so the
    // combined score's threshold is wide and a head-input distance the head rule calls too far can pass it
    const perClass = 12;
    const random = seededRandom(11);
    const angle = (degrees: number) => [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
    const labels = Array.from({ length: 2 * perClass }, (_, i) => (i < perClass ? 0 : 1));
    const features = Float32Array.from(labels.flatMap((label, i) => angle(label * 90 + (i % perClass) * 1.5)));
    const layerRows = Float32Array.from(labels.flatMap(() => angle(random() * 180)));
    const files = labels.map((label, i) => `/data/${label}/${i}.png`);
    const plain = buildOpenSet(features, files, labels, { conditioning: 'class' });
    const data = buildOpenSet(features, files, labels, { conditioning: 'class', layers: { names: ['s'], dims: [2], features: layerRows } });
    assert.deepEqual(data.layers!.headThresholds, plain.classThresholds, 'the head-input rule\'s own thresholds are kept beside the stages');
    const { headThresholds: _dropped, ...olderLayers } = data.layers!;
    const older = { ...data, layers: olderLayers }; // a header written before headThresholds: the combined score alone
    // images reported as class a, moving away from it degree by degree; their stage is a stored class-a image's (familiar)
    const stage = layerRows.slice(0, 2);
    let onlyHeadRule = 0;
    for (let degrees = 17; degrees <= 60; degrees++) {
      const head = Float32Array.from(angle(degrees));
      const [headRule] = openSetVerdicts(plain, head, 1, { classNames: ['a', 'b'], predicted: [0] });
      const [layered] = openSetVerdicts(data, head, 1, { classNames: ['a', 'b'], predicted: [0], layerFeatures: stage });
      const [combinedOnly] = openSetVerdicts(older, head, 1, { classNames: ['a', 'b'], predicted: [0], layerFeatures: stage });
      if (headRule.unfamiliar) assert.equal(layered.unfamiliar, true, `${degrees}°: the head-input rule flags it, so the layered verdict must (${layered.score} vs ${layered.threshold})`);
      if (headRule.unfamiliar && !combinedOnly.unfamiliar) onlyHeadRule++;
      assert.ok(layered.score >= combinedOnly.score);
    }
    assert.ok(onlyHeadRule > 0, 'some angles are flagged by the head-input rule and missed by the combined score alone (else this test proves nothing)');
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
    assert.equal(stored.conditioning, 'class');
    assert.deepEqual(stored.classThresholds, data.classThresholds);
    assert.deepEqual(stored.files, data.files);
    assert.deepEqual(stored.features, data.features);
    // recalibrating replaces the data instead of adding a second copy
    await writeCheckpointOpenSet(file, { ...header, threshold: 0.5 }, { [OPEN_SET_TENSOR]: tensor });
    assert.ok(Math.abs((await fs.stat(file)).size - before - grown) < 64, "one copy of the data");
    assert.equal(checkpointOpenSet(await loadCheckpoint(file))!.threshold, 0.5);
  });

  it('layered open-set data round-trips; a header naming layers without their tensor is refused', async () => {
    const file = path.join(dir, 'layered.imgcls');
    await writeCheckpoint(file, content());
    const { features, labels } = clusters(100, 1280);
    const layerRows = clusters(100, 136, 4).features;
    const data = buildOpenSet(features, labels.map((_, i) => `/data/${i}.png`), labels, { layers: { names: [...OPEN_SET_LAYERS], dims: layerChannels(OPEN_SET_LAYERS), features: layerRows } });
    const { header, tensors } = openSetForCheckpoint(data);
    assert.deepEqual(Object.keys(tensors), [OPEN_SET_TENSOR, OPEN_SET_LAYERS_TENSOR]);
    const before = (await fs.stat(file)).size;
    await writeCheckpointOpenSet(file, header, tensors);
    const grown = (await fs.stat(file)).size - before;
    // 100 × (1280 + 24 + 112) float32 = 566,400 bytes plus the file names and scales in the header
    assert.ok(grown > 566_400 && grown < 586_000, `grew by ${grown} bytes`);
    const stored = checkpointOpenSet(await loadCheckpoint(file))!;
    assert.deepEqual(stored.layers, data.layers);
    assert.deepEqual(stored.layerFeatures, data.layerFeatures);
    assert.deepEqual(stored.classThresholds, data.classThresholds);
    await writeCheckpointOpenSet(file, header, { [OPEN_SET_TENSOR]: tensors[OPEN_SET_TENSOR] });
    await assert.rejects(async () => checkpointOpenSet(await loadCheckpoint(file)), /layer data does not match/);
  });
});
