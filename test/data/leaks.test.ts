import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findLeaks, leakWarning } from '../../src/data/leaks.js';
import { scanDataset } from '../../src/data/scan.js';
import { LESSON_DATA } from './fixtures.js';

describe('leak warning (validation images that are copies of training images)', () => {
  it('finds every lesson val image in train, and says the scores mean nothing and how to split cleanly', async () => {
    const lesson = await scanDataset(LESSON_DATA);
    const { leaks, validCount } = await findLeaks(lesson);
    assert.equal(validCount, lesson.valid.length);
    assert.equal(leaks, validCount);
    const text = leakWarning(leaks, validCount, lesson.layout);
    assert.match(text, new RegExp(`all ${validCount} validation images are byte-identical copies of training images`));
    assert.match(text, /mean nothing/);
    assert.match(text, /imgcls train <data>\/train/);
  });

  it('finds none in the seeded split of lesson-data/train', async () => {
    const split = await scanDataset(path.join(LESSON_DATA, 'train'));
    assert.equal((await findLeaks(split)).leaks, 0);
  });
});
