import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, precisionRecallCurve, rocCurve } from '../../src/eval/index.js';
import {
  accuracyCurveFigure,
  confusionMatrixFigure,
  lossCurveFigure,
  prCurveFigure,
  rocCurveFigure,
  evaluationFigures,
  relabelFigure,
  type HistoryPoint,
} from '../../src/plots/index.js';
import { isImgclsError } from '../../src/errors.js';

// two epochs of two steps, the second epoch validated, the first not (val_loss null)
const HISTORY: HistoryPoint[] = [
  { type: 'step', epoch: 1, step: 1, steps: 2, loss: 0.9, accuracy: 0.5 },
  { type: 'step', epoch: 1, step: 2, steps: 2, loss: 0.7, accuracy: 0.6 },
  { type: 'epoch', epoch: 1, loss: 0.8, accuracy: 0.55, val_loss: null, val_accuracy: null },
  { type: 'step', epoch: 2, step: 1, steps: 2, loss: 0.5, accuracy: 0.8 },
  { type: 'step', epoch: 2, step: 2, steps: 2, loss: 0.3, accuracy: 0.9 },
  { type: 'epoch', epoch: 2, loss: 0.4, accuracy: 0.85, val_loss: 0.45, val_accuracy: 0.8 },
];

const trace = (figure: { data: Record<string, unknown>[] }, name: string) => {
  const found = figure.data.find((t) => t.name === name);
  assert.ok(found, `no trace "${name}" in ${figure.data.map((t) => t.name).join(', ')}`);
  return found as Record<string, unknown>;
};

test('loss curve: per-step trace at fractional epochs, per-epoch train and validation traces', () => {
  const figure = lossCurveFigure(HISTORY);
  assert.deepEqual(trace(figure, 'train loss (step)').x, [0.5, 1, 1.5, 2]);
  assert.deepEqual(trace(figure, 'train loss (step)').y, [0.9, 0.7, 0.5, 0.3]);
  assert.deepEqual(trace(figure, 'train loss (epoch)').x, [1, 2]);
  assert.deepEqual(trace(figure, 'train loss (epoch)').y, [0.8, 0.4]);
  // the unvalidated first epoch is left out, not drawn as 0
  assert.deepEqual(trace(figure, 'valid loss (epoch)').x, [2]);
  assert.deepEqual(trace(figure, 'valid loss (epoch)').y, [0.45]);
  assert.deepEqual((figure.layout.xaxis as { title: { text: string } }).title.text, 'epoch');
  JSON.parse(JSON.stringify(figure)); // plain JSON
});

test('accuracy curve reads the accuracy fields; steps without a count are spread by counting', () => {
  const figure = accuracyCurveFigure(HISTORY);
  assert.deepEqual(trace(figure, 'train accuracy (step)').y, [0.5, 0.6, 0.8, 0.9]);
  assert.deepEqual(trace(figure, 'valid accuracy (epoch)').y, [0.8]);
  const uncounted = lossCurveFigure([
    { type: 'step', epoch: 1, step: 1, loss: 1, accuracy: 0 },
    { type: 'step', epoch: 1, step: 2, loss: 1, accuracy: 0 },
    { type: 'step', epoch: 1, step: 3, loss: 1, accuracy: 0 },
    { type: 'step', epoch: 1, step: 4, loss: 1, accuracy: 0 },
  ]);
  assert.deepEqual(trace(uncounted, 'train loss (step)').x, [0.25, 0.5, 0.75, 1]);
  assert.equal(uncounted.data.length, 1);
});

test('confusion matrix heat map: counts as z and as cell text, actual on reversed y', () => {
  const figure = confusionMatrixFigure([[5, 1], [2, 7]], ['logo', 'others']);
  const heatmap = figure.data[0];
  assert.equal(heatmap.type, 'heatmap');
  assert.deepEqual(heatmap.z, [[5, 1], [2, 7]]);
  assert.deepEqual(heatmap.text, [['5', '1'], ['2', '7']]);
  assert.equal(heatmap.texttemplate, '%{text}');
  assert.deepEqual(heatmap.x, ['logo', 'others']);
  assert.equal((figure.layout.yaxis as { autorange: string }).autorange, 'reversed');
  assert.equal((figure.layout.xaxis as { title: { text: string } }).title.text, 'Predicted');
  assert.throws(() => confusionMatrixFigure([[1, 2]], ['a', 'b']), (err) => isImgclsError(err, 'USAGE'));
});

test('PR curve figure starts at (0, 1) and marks the chosen threshold at its operating point', () => {
  const curve = precisionRecallCurve([0.9, 0.8, 0.8, 0.8, 0.3, 0.1], [true, true, false, true, false, true]);
  const figure = prCurveFigure(curve, 0.5, { className: 'logo' });
  assert.deepEqual(figure.data[0].x, [0, 0.25, 0.75, 0.75, 1]);
  assert.equal((figure.data[0].y as number[])[0], 1);
  const marker = figure.data[1];
  // predict positive when p ≥ 0.5 → the operating point of threshold 0.8: recall 0.75, precision 0.75
  assert.deepEqual([marker.x, marker.y], [[0.75], [0.75]]);
  assert.match(String((marker.text as string[])[0]), /threshold 0\.500: recall 0\.75, precision 0\.75/);
  assert.match((figure.layout.title as { text: string }).text, /"logo"/);
  assert.equal(prCurveFigure(curve).data.length, 1);
  assert.deepEqual(prCurveFigure(curve, { threshold: 0.1 }).data[1].x, [1]);
});

test('ROC figure draws the curve, the chance diagonal, and the AUC in the title; JSON-safe', () => {
  const curve = rocCurve([0.9, 0.8, 0.8, 0.8, 0.3, 0.1], [true, true, false, true, false, true]);
  const area = auc(curve.falsePositiveRate, curve.truePositiveRate);
  const figure = rocCurveFigure(curve, area);
  assert.deepEqual(figure.data[0].x, [0, 0, 0.5, 1, 1]);
  assert.deepEqual(figure.data[1].x, [0, 1]);
  assert.match((figure.layout.title as { text: string }).text, /AUC 0\.625/);
  assert.equal((figure.data[0].customdata as string[])[0], '∞');
  assert.deepEqual(JSON.parse(JSON.stringify(figure)), figure);
});

test('evaluationFigures: confusion, per-class PR (threshold marked on its class) and ROC, then training curves', async () => {
  const { evaluationFromProbabilities } = await import('../../src/eval/index.js');
  const evaluation = evaluationFromProbabilities({
    classNames: ['logo', 'others'],
    files: ['a', 'b', 'c', 'd'],
    labels: [0, 0, 1, 1],
    probabilities: [0.9, 0.1, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8],
    threshold: { className: 'logo', value: 0.35 },
  });
  const figures = evaluationFigures(evaluation, { history: HISTORY });
  assert.deepEqual(figures.map((f) => f.id), ['confusion', 'pr-0', 'roc-0', 'pr-1', 'roc-1', 'loss', 'accuracy']);
  assert.deepEqual(figures.find((f) => f.id === 'confusion')!.figure.data[0].z, [[2, 0], [0, 2]]);
  assert.equal(figures.find((f) => f.id === 'pr-0')!.figure.data.length, 2); // curve + threshold marker
  assert.equal(figures.find((f) => f.id === 'pr-1')!.figure.data.length, 1);
  assert.equal(evaluationFigures(evaluation).length, 5);
});

test('relabelFigure replaces title, axis titles and listed trace names, and leaves data and the input alone', () => {
  const original = lossCurveFigure(HISTORY);
  const before = JSON.stringify(original);
  const relabelled = relabelFigure(original, {
    title: '每一步和每一轮的损失', xTitle: '轮次', yTitle: '损失', traceNames: { 'train loss (step)': '训练损失（每步）' },
  });
  assert.equal(JSON.stringify(original), before, 'the input figure is not modified');
  const layout = relabelled.layout as { title: { text: string }; xaxis: { title: { text: string }; rangemode: string }; yaxis: { title: { text: string } } };
  assert.equal(layout.title.text, '每一步和每一轮的损失');
  assert.equal(layout.xaxis.title.text, '轮次');
  assert.equal(layout.xaxis.rangemode, 'tozero', 'other axis settings are kept');
  assert.equal(layout.yaxis.title.text, '损失');
  assert.deepEqual(relabelled.data.map((t) => t.name), ['训练损失（每步）', 'train loss (epoch)', 'valid loss (epoch)']);
  assert.deepEqual(relabelled.data.map((t) => t.y), original.data.map((t) => t.y));
  const untouched = relabelFigure(confusionMatrixFigure([[1, 0], [0, 1]], ['a', 'b']), {});
  assert.deepEqual(untouched, confusionMatrixFigure([[1, 0], [0, 1]], ['a', 'b']));
});
