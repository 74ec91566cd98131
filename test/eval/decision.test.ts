// The threshold rule exists once: evaluation's decision rule picks what classify()'s ranking puts first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDecisionRule } from '../../src/eval/decision.js';
import { rankPredictions } from '../../src/model/classifier.js';
import { seededRandom } from '../../src/util/random.js';

test('createDecisionRule agrees with rankPredictions on every row, with and without a threshold, ties included', () => {
  const classNames = ['cat', 'dog', 'logo', 'others'];
  const random = seededRandom(13);
  const rows: number[][] = [[0.25, 0.25, 0.25, 0.25], [0.4, 0.4, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]];
  for (let i = 0; i < 500; i++) {
    const raw = classNames.map(() => random());
    const sum = raw.reduce((a, b) => a + b, 0);
    rows.push(raw.map((v) => v / sum));
  }
  for (const threshold of [undefined, { className: 'logo', value: 0.2 }, { className: 'cat', value: 0.6 }, { className: 'others', value: 0 }]) {
    const rule = createDecisionRule(classNames, threshold);
    const batch = rows.flat();
    rows.forEach((row, r) => {
      const expected = classNames.indexOf(rankPredictions(row, { classNames, threshold }, 1)[0].className);
      assert.equal(rule(batch, r * classNames.length), expected, `row ${r} threshold ${JSON.stringify(threshold)}`);
    });
  }
});
