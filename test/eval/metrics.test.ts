import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationMetrics, confusionMatrix, formatClassificationReport, formatFixed } from '../../src/eval/index.js';
import { isImgclsError } from '../../src/errors.js';

const close = (actual: number, expected: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ''} ${actual} ≠ ${expected}`);

test('confusionMatrix counts actual rows against predicted columns', () => {
  assert.deepEqual(confusionMatrix([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3), [
    [1, 0, 0],
    [1, 0, 0],
    [0, 1, 2],
  ]);
});

test('confusionMatrix rejects labels out of range and length mismatches with USAGE', () => {
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => confusionMatrix([0, 1], [0], 3), (err) => isImgclsError(err, 'USAGE'));
  assert.throws(() => confusionMatrix([0.5], [0], 3), (err) => isImgclsError(err, 'USAGE'));
});

test('the scikit-learn documentation example, numbers and report text', () => {
  const metrics = classificationMetrics([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], ['class 0', 'class 1', 'class 2']);
  close(metrics.accuracy, 0.6);
  close(metrics.perClass[0].precision, 0.5);
  close(metrics.perClass[2].recall, 2 / 3);
  close(metrics.perClass[2].f1, 0.8);
  close(metrics.macroAvg.recall, (1 + 0 + 2 / 3) / 3);
  close(metrics.weightedAvg.f1, (2 / 3 + 0 + 3 * 0.8) / 5);
  assert.deepEqual(metrics.notes, []);
  // classification_report(y_true, y_pred, target_names=target_names) as printed by scikit-learn ≥ 0.22
  const expected = [
    '              precision    recall  f1-score   support',
    '',
    '     class 0       0.50      1.00      0.67         1',
    '     class 1       0.00      0.00      0.00         1',
    '     class 2       1.00      0.67      0.80         3',
    '',
    '    accuracy                           0.60         5',
    '   macro avg       0.50      0.56      0.49         5',
    'weighted avg       0.70      0.60      0.61         5',
    '',
  ].join('\n');
  assert.equal(formatClassificationReport(metrics), expected);
});

test('report layout widens to the longest class name and honours digits', () => {
  const metrics = classificationMetrics([0, 1, 1], [0, 1, 0], ['a-very-long-class-name', 'b']);
  const lines = formatClassificationReport(metrics, { digits: 3 }).split('\n');
  const width = 'a-very-long-class-name'.length;
  assert.equal(lines[0], `${' '.repeat(width)}  precision    recall  f1-score   support`);
  assert.equal(lines[2], 'a-very-long-class-name      0.500     1.000     0.667         1');
  assert.equal(lines[3], `${'b'.padStart(width)}      1.000     0.500     0.667         2`);
  assert.equal(lines[5], `${'accuracy'.padStart(width)}${' '.repeat(26)}0.667         3`);
});

test('a class never predicted: precision 0/0 is reported as 0 with a note (scikit-learn default)', () => {
  const metrics = classificationMetrics([0, 0, 1, 1, 2], [0, 0, 1, 1, 1], ['a', 'b', 'c']);
  const [a, b, c] = metrics.perClass;
  assert.deepEqual([a.precision, a.recall, a.f1, a.support], [1, 1, 1, 2]);
  close(b.precision, 2 / 3);
  close(b.recall, 1);
  close(b.f1, 0.8);
  assert.deepEqual([c.precision, c.recall, c.f1, c.support], [0, 0, 0, 1]);
  close(metrics.accuracy, 0.8);
  close(metrics.macroAvg.precision, (1 + 2 / 3) / 3);
  close(metrics.macroAvg.recall, 2 / 3);
  close(metrics.macroAvg.f1, 0.6);
  close(metrics.weightedAvg.precision, (2 + 4 / 3) / 5);
  close(metrics.weightedAvg.recall, 0.8);
  close(metrics.weightedAvg.f1, 0.72);
  assert.equal(metrics.notes.length, 1);
  assert.match(metrics.notes[0], /precision of "c"/);
  assert.match(formatClassificationReport(metrics), /\n {11}c {7}0\.00 {6}0\.00 {6}0\.00 {9}1\n/);
});

test('a class absent from the data: recall 0/0 is 0 with a note, and it still counts in the macro average', () => {
  const metrics = classificationMetrics([0, 0, 1, 1], [0, 2, 1, 1], ['a', 'b', 'c']);
  const c = metrics.perClass[2];
  assert.deepEqual([c.precision, c.recall, c.f1, c.support], [0, 0, 0, 0]);
  close(metrics.perClass[0].f1, 2 / 3);
  close(metrics.accuracy, 0.75);
  close(metrics.macroAvg.precision, 2 / 3);
  close(metrics.macroAvg.recall, 0.5);
  close(metrics.macroAvg.f1, 5 / 9);
  close(metrics.weightedAvg.precision, 1);
  close(metrics.weightedAvg.recall, 0.75);
  close(metrics.weightedAvg.f1, (4 / 3 + 2) / 4);
  assert.deepEqual(metrics.notes, ['recall of "c" (absent from the data) is ill-defined and set to 0.0']);
});

test('a class neither present nor predicted: all three ratios are 0 with notes', () => {
  const metrics = classificationMetrics([0, 1], [0, 1], ['a', 'b', 'c']);
  assert.deepEqual(metrics.perClass[2], { className: 'c', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(metrics.notes.length, 3);
  close(metrics.macroAvg.f1, 2 / 3);
  close(metrics.weightedAvg.f1, 1);
});

test('formatFixed rounds like Python: exact ties to even, the binary value otherwise', () => {
  assert.equal(formatFixed(0.125, 2), '0.12'); // exact tie → even (toFixed would say 0.13)
  assert.equal(formatFixed(0.375, 2), '0.38');
  assert.equal(formatFixed(0.135, 2), '0.14'); // 0.135 is 0.13500000000000000888… in binary
  assert.equal(formatFixed(2 / 3, 2), '0.67');
  assert.equal(formatFixed(1, 2), '1.00');
  assert.equal(formatFixed(2.5, 0), '2');
  assert.equal(formatFixed(0.995, 2), '0.99'); // 0.99499999999999999555…
  assert.equal(formatFixed(9.995, 2), '9.99');
  assert.equal(formatFixed(0.9999, 2), '1.00');
});
