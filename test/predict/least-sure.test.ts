import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leastSureFirst, predictionMargin, type OpenSetVerdict, type Prediction } from '../../src/index.js';

const p = (...probabilities: [string, number][]): Prediction[] => probabilities.map(([className, probability]) => ({ className, probability }));
const verdict = (unfamiliar: boolean, score: number): OpenSetVerdict => ({ unfamiliar, score, threshold: 1, nearest: [] });

test('predictionMargin: first-ranked minus the best other class', () => {
  assert.ok(Math.abs(predictionMargin(p(['a', 0.7], ['b', 0.2], ['c', 0.1])) - 0.5) < 1e-12);
  assert.ok(Math.abs(predictionMargin(p(['a', 0.4], ['b', 0.6])) + 0.2) < 1e-12, 'a threshold can rank the less probable class first');
  assert.equal(predictionMargin(p(['a', 0.9])), 0.9);
  assert.ok(Number.isNaN(predictionMargin(undefined)));
});

test('leastSureFirst: lowest margin first, errors last, stable, input untouched', () => {
  const items = [
    { name: 'sure', predictions: p(['a', 0.95], ['b', 0.05]) },
    { name: 'error' },
    { name: 'torn', predictions: p(['b', 0.51], ['a', 0.49]) },
    { name: 'middling', predictions: p(['a', 0.7], ['b', 0.3]) },
    { name: 'torn-too', predictions: p(['a', 0.51], ['b', 0.49]) },
  ];
  const before = items.map((i) => i.name);
  assert.deepEqual(leastSureFirst(items).map((i) => i.name), ['torn', 'torn-too', 'middling', 'sure', 'error']);
  assert.deepEqual(items.map((i) => i.name), before);
});

test('leastSureFirst: unfamiliar images come first (highest score first), whatever their margin', () => {
  const items = [
    { name: 'torn', predictions: p(['a', 0.5], ['b', 0.5]), verdict: verdict(false, 0.9) },
    { name: 'odd', predictions: p(['a', 0.99], ['b', 0.01]), verdict: verdict(true, 2) },
    { name: 'odder', predictions: p(['a', 0.99], ['b', 0.01]), verdict: verdict(true, 5) },
    { name: 'sure', predictions: p(['a', 0.9], ['b', 0.1]) },
  ];
  assert.deepEqual(leastSureFirst(items).map((i) => i.name), ['odder', 'odd', 'torn', 'sure']);
});
