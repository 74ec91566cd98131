import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseThreshold, createDecisionRule, evaluationFromProbabilities, topLosses } from '../../src/eval/index.js';
import { isImgclsError } from '../../src/errors.js';

const CLASSES = ['logo', 'others'];
// p(logo) per image; labels 0 = logo, 1 = others
const P_LOGO = [0.9, 0.6, 0.4, 0.3, 0.2, 0.7];
const LABELS = [0, 0, 0, 1, 1, 1];
const FILES = P_LOGO.map((_, i) => `/x/img${i}.jpg`);
const PROBABILITIES = P_LOGO.flatMap((p) => [p, 1 - p]);

test('decision rule: argmax without threshold, the chosen class at ≥ threshold with one', () => {
  const argmax = createDecisionRule(['a', 'b', 'c']);
  assert.equal(argmax([0.2, 0.5, 0.3]), 1);
  assert.equal(argmax([0, 0, 0, 0.1, 0.1, 0.8], 3), 2);
  const rule = createDecisionRule(['a', 'b', 'c'], { className: 'c', value: 0.25 });
  assert.equal(rule([0.2, 0.5, 0.3]), 2);
  assert.equal(rule([0.6, 0.2, 0.2]), 0);
  assert.equal(rule([0.24, 0.5, 0.26]), 2);
  assert.throws(() => createDecisionRule(['a'], { className: 'z', value: 0.5 }), (err) => isImgclsError(err, 'USAGE'));
});

test('evaluationFromProbabilities: argmax metrics, per-image results, curves and report', () => {
  const evaluation = evaluationFromProbabilities({ classNames: CLASSES, files: FILES, labels: LABELS, probabilities: PROBABILITIES });
  // predictions at 0.5: logo, logo, others, others, others, logo
  assert.deepEqual(evaluation.images.map((image) => image.predictedClass), ['logo', 'logo', 'others', 'others', 'others', 'logo']);
  assert.deepEqual(evaluation.confusionMatrix, [[2, 1], [1, 2]]);
  assert.ok(Math.abs(evaluation.metrics.accuracy - 4 / 6) < 1e-12);
  assert.match(evaluation.report, /^ {12} {2}precision/);
  assert.match(evaluation.report, /\n {8}logo {7}0\.67 {6}0\.67 {6}0\.67 {9}3\n/);
  const image2 = evaluation.images[2];
  assert.equal(image2.actualClass, 'logo');
  assert.ok(Math.abs(image2.loss - -Math.log(0.4)) < 1e-6);
  assert.ok(Math.abs(image2.probability - 0.6) < 1e-12);
  assert.equal(evaluation.curves.length, 2);
  assert.ok(Math.abs(evaluation.curves[0].rocAuc! - 7 / 9) < 1e-12); // logo scores above others in 7 of 9 pairs
});

test('chooseThreshold for 100% logo recall costs precision, and the stored threshold changes predictions', () => {
  const evaluation = evaluationFromProbabilities({ classNames: CLASSES, files: FILES, labels: LABELS, probabilities: PROBABILITIES });
  const choice = chooseThreshold(evaluation, 'logo', 1);
  assert.equal(choice.threshold, 0.4);
  assert.equal(choice.recall, 1);
  assert.ok(Math.abs(choice.precision - 3 / 4) < 1e-12); // 0.9 0.7 0.6 0.4 → 3 logos + 1 other
  const rethresholded = evaluationFromProbabilities({
    classNames: CLASSES, files: FILES, labels: LABELS, probabilities: PROBABILITIES,
    threshold: { className: 'logo', value: choice.threshold, targetRecall: 1 },
  });
  assert.equal(rethresholded.metrics.perClass[0].recall, 1);
  assert.deepEqual(rethresholded.confusionMatrix, [[3, 0], [1, 2]]);
  assert.deepEqual(rethresholded.threshold, { className: 'logo', value: 0.4, targetRecall: 1 });
  assert.throws(() => chooseThreshold(evaluation, 'nope', 0.9), (err) => isImgclsError(err, 'USAGE'));
});

test('topLosses: misclassified first by loss, with classes and probabilities', () => {
  const evaluation = evaluationFromProbabilities({ classNames: CLASSES, files: FILES, labels: LABELS, probabilities: PROBABILITIES });
  const worst = topLosses(evaluation.images);
  assert.deepEqual(worst.map((image) => image.file), ['/x/img5.jpg', '/x/img2.jpg']); // −ln 0.3 > −ln 0.4
  assert.equal(worst[0].predictedClass, 'logo');
  assert.equal(worst[0].actualClass, 'others');
  assert.equal(topLosses(evaluation.images, { k: 1 }).length, 1);
  assert.equal(topLosses(evaluation.images, { misclassifiedOnly: false }).length, 6);
});

test('an evaluation with no readable image is a NO_IMAGES error naming a skipped file', () => {
  assert.throws(
    () => evaluationFromProbabilities({ classNames: CLASSES, files: [], labels: [], probabilities: [], skipped: [{ file: '/x/bad.jpg', reason: 'bad' }] }),
    (err) => isImgclsError(err, 'NO_IMAGES') && err.file === '/x/bad.jpg',
  );
});
