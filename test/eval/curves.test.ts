import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, oneVsRestCurves, precisionRecallCurve, rocCurve, thresholdForRecall } from '../../src/eval/index.js';
import { isImgclsError } from '../../src/errors.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);
const closeAll = (actual: number[], expected: number[]) => {
  assert.equal(actual.length, expected.length, `${actual} vs ${expected}`);
  actual.forEach((value, i) => close(value, expected[i]));
};

// Sorted by score: 0.9 P | 0.8 P, 0.8 N, 0.8 P (a tie) | 0.3 N | 0.1 P → 4 positives, 2 negatives.
const SCORES = [0.8, 0.1, 0.9, 0.8, 0.3, 0.8];
const POSITIVES = [true, true, true, false, false, true];

test('PR curve: one point per distinct threshold, ties counted together', () => {
  const curve = precisionRecallCurve(SCORES, POSITIVES);
  assert.deepEqual(curve.thresholds, [0.9, 0.8, 0.3, 0.1]);
  assert.deepEqual(curve.truePositives, [1, 3, 3, 4]);
  assert.deepEqual(curve.falsePositives, [0, 1, 2, 2]);
  closeAll(curve.precision, [1, 0.75, 0.6, 4 / 6]);
  closeAll(curve.recall, [0.25, 0.75, 0.75, 1]);
  close(curve.averagePrecision, 0.25 * 1 + 0.5 * 0.75 + 0 * 0.6 + 0.25 * (4 / 6));
  assert.equal(curve.positives, 4);
  assert.equal(curve.negatives, 2);
});

test('PR curve does not depend on the order of tied scores', () => {
  const reversed = precisionRecallCurve([...SCORES].reverse(), [...POSITIVES].reverse());
  assert.deepEqual(reversed, precisionRecallCurve(SCORES, POSITIVES));
  // all scores tied: a single point at the base rate
  const flat = precisionRecallCurve([0.5, 0.5, 0.5], [true, false, false]);
  assert.deepEqual(flat.thresholds, [0.5]);
  closeAll(flat.precision, [1 / 3]);
  closeAll(flat.recall, [1]);
});

test('ROC curve starts at (0, 0) with threshold Infinity and its AUC equals the Mann–Whitney statistic', () => {
  const curve = rocCurve(SCORES, POSITIVES);
  assert.deepEqual(curve.thresholds, [Number.POSITIVE_INFINITY, 0.9, 0.8, 0.3, 0.1]);
  closeAll(curve.falsePositiveRate, [0, 0, 0.5, 1, 1]);
  closeAll(curve.truePositiveRate, [0, 0.25, 0.75, 0.75, 1]);
  // pairs (positive, negative) ranked right, ties counting one half: (2 + 1.5 + 1.5 + 0) / 8
  close(auc(curve.falsePositiveRate, curve.truePositiveRate), 5 / 8);
});

test('auc: trapezoids, either direction, rejects non-monotonic x', () => {
  close(auc([0, 1], [0, 1]), 0.5);
  close(auc([1, 0.5, 0], [1, 1, 0]), 0.75);
  assert.throws(() => auc([0, 1, 0.5], [0, 1, 1]), (err) => isImgclsError(err, 'USAGE'));
});

test('curves without positives (or negatives, for ROC) are usage errors', () => {
  assert.throws(() => precisionRecallCurve([0.2, 0.4], [false, false]), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => rocCurve([0.2, 0.4], [true, true]), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => precisionRecallCurve([0.2], [true, false]), (err) => isImgclsError(err, 'USAGE'));
});

test('thresholdForRecall picks the best precision that reaches the target recall', () => {
  const curve = precisionRecallCurve(SCORES, POSITIVES);
  const forSeventy = thresholdForRecall(curve, 0.7);
  assert.equal(forSeventy.threshold, 0.8);
  close(forSeventy.precision, 0.75);
  close(forSeventy.recall, 0.75);
  const forAll = thresholdForRecall(curve, 1);
  assert.equal(forAll.threshold, 0.1);
  close(forAll.precision, 4 / 6);
  assert.equal(thresholdForRecall(curve, 0.2).threshold, 0.9);
  assert.throws(() => thresholdForRecall(curve, 0), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => thresholdForRecall(curve, 1.5), (err) => isImgclsError(err, 'USAGE'));
});

test('one-vs-rest: each class scored by its own probability; absent classes get no curve', () => {
  // 3 images × 3 classes; class 2 never appears in the labels
  const probabilities = [0.7, 0.2, 0.1, 0.4, 0.5, 0.1, 0.6, 0.3, 0.1];
  const curves = oneVsRestCurves(probabilities, [0, 1, 0], ['a', 'b', 'c']);
  assert.deepEqual(curves[0].precisionRecall?.thresholds, [0.7, 0.6, 0.4]);
  closeAll(curves[0].precisionRecall!.recall, [0.5, 1, 1]);
  close(curves[0].rocAuc!, 1);
  assert.deepEqual(curves[1].precisionRecall?.thresholds, [0.5, 0.3, 0.2]);
  close(curves[1].rocAuc!, 1);
  assert.equal(curves[2].precisionRecall, undefined);
  assert.equal(curves[2].roc, undefined);
  assert.throws(() => oneVsRestCurves([0.5], [0], ['a', 'b']), (err) => isImgclsError(err, 'USAGE'));
});
