import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isImgclsError, isImageFile, labelFromParent, scanDataset, stratifiedSplit, type ErrorCode } from '../../src/index.js';
import { LESSON_DATA, tempDir, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

/** Creates the listed files (content does not matter to the scan) under a new dataset root. */
async function layout(name: string, files: string[]): Promise<string> {
  const root = path.join(dir, name);
  await fs.mkdir(root, { recursive: true });
  for (const file of files) await writeFixture(root, file, 'x');
  return root;
}

async function scanFails(root: string, code: ErrorCode, file?: string): Promise<void> {
  await assert.rejects(scanDataset(root), (err: unknown) => {
    assert.ok(isImgclsError(err, code), `expected ${code}, got ${(err as Error).message}`);
    if (file) assert.equal(err.file, file);
    assert.ok(err.hint, 'layout errors carry a hint');
    return true;
  });
}

describe('stratifiedSplit', () => {
  const labels = [...Array(50).fill(0), ...Array(20).fill(1), ...Array(5).fill(2), 3, 3];

  test('is deterministic for a seed and changes with the seed', () => {
    const first = stratifiedSplit(labels, { validPct: 0.2, seed: 42 });
    assert.deepEqual(stratifiedSplit(labels, { validPct: 0.2, seed: 42 }), first);
    assert.notDeepEqual(stratifiedSplit(labels, { validPct: 0.2, seed: 43 }).valid, first.valid);
  });

  test('keeps each class proportion, with at least one of each class on both sides', () => {
    const { train, valid } = stratifiedSplit(labels, { validPct: 0.2, seed: 7 });
    const count = (indices: number[], label: number) => indices.filter((i) => labels[i] === label).length;
    assert.deepEqual([0, 1, 2, 3].map((label) => count(valid, label)), [10, 4, 1, 1]);
    assert.deepEqual([0, 1, 2, 3].map((label) => count(train, label)), [40, 16, 4, 1]);
    assert.deepEqual([...train, ...valid].sort((a, b) => a - b), labels.map((_, i) => i), 'a partition of all indices');
  });

  test('validPct 0 puts everything in train; bad options are USAGE errors', () => {
    assert.deepEqual(stratifiedSplit([0, 1, 1], { validPct: 0, seed: 1 }), { train: [0, 1, 2], valid: [] });
    assert.throws(() => stratifiedSplit([0, 1], { validPct: 1, seed: 1 }), (err) => isImgclsError(err, 'USAGE'));
    assert.throws(() => stratifiedSplit([0, 1], { validPct: -0.1, seed: 1 }), (err) => isImgclsError(err, 'USAGE'));
    assert.throws(() => stratifiedSplit([0, 1], { validPct: 0.2, seed: 1.5 }), (err) => isImgclsError(err, 'USAGE'));
  });
});

describe('scanDataset', () => {
  test('lesson-data: train/val layout, 9 logo and 10 others in train', async () => {
    const dataset = await scanDataset(LESSON_DATA);
    assert.equal(dataset.layout, 'train-val');
    assert.deepEqual(dataset.classNames, ['logo', 'others']);
    assert.equal(dataset.train.filter((item) => item.label === 0).length, 9);
    assert.equal(dataset.train.filter((item) => item.label === 1).length, 10);
    assert.equal(dataset.valid.length, 19);
    for (const item of [...dataset.train, ...dataset.valid]) {
      assert.equal(labelFromParent(item.file), dataset.classNames[item.label]);
      assert.ok(path.isAbsolute(item.file));
    }
  });

  test('train/valid layout: sorted classes, nested files counted, non-images ignored, hidden files skipped', async () => {
    const root = await layout('tv', [
      'train/zebra/a.jpg', 'train/zebra/sub/b.PNG', 'train/apple/c.webp', 'train/apple/notes.txt', 'train/apple/.DS_Store',
      'valid/zebra/d.jpeg', 'valid/apple/e.bmp', 'valid/apple/f.tiff', 'README.md',
    ]);
    const dataset = await scanDataset(root);
    assert.equal(dataset.layout, 'train-val');
    assert.deepEqual(dataset.classNames, ['apple', 'zebra']);
    assert.deepEqual(dataset.train.map((i) => [path.relative(root, i.file), i.label]), [
      ['train/apple/c.webp', 0], ['train/zebra/a.jpg', 1], ['train/zebra/sub/b.PNG', 1],
    ]);
    assert.deepEqual(dataset.valid.map((i) => path.relative(root, i.file)), ['valid/apple/e.bmp', 'valid/apple/f.tiff', 'valid/zebra/d.jpeg']);
    assert.deepEqual(dataset.ignored.map((f) => path.relative(root, f)), ['train/apple/notes.txt']);
  });

  test('folder-per-class root: seeded stratified split, reproducible, disjoint and complete', async () => {
    const files = [
      ...Array.from({ length: 10 }, (_, i) => `cat/${i}.jpg`),
      ...Array.from({ length: 5 }, (_, i) => `dog/${i}.png`),
      ...Array.from({ length: 2 }, (_, i) => `fox/${i}.gif`),
    ];
    const root = await layout('auto', files);
    const dataset = await scanDataset(root, { validPct: 0.2, seed: 3 });
    assert.equal(dataset.layout, 'auto-split');
    assert.deepEqual(dataset.classNames, ['cat', 'dog', 'fox']);
    assert.deepEqual([0, 1, 2].map((label) => dataset.valid.filter((i) => i.label === label).length), [2, 1, 1]);
    const all = [...dataset.train, ...dataset.valid].map((i) => i.file).sort();
    assert.deepEqual(all, files.map((f) => path.join(root, f)).sort());
    assert.deepEqual(await scanDataset(root, { validPct: 0.2, seed: 3 }), dataset);
    const otherSeed = await scanDataset(root, { validPct: 0.2, seed: 4 });
    assert.notDeepEqual(otherSeed.valid, dataset.valid);
  });

  test('root/train without val/: the split is drawn from train', async () => {
    const root = await layout('trainonly', ['train/a/1.jpg', 'train/a/2.jpg', 'train/b/3.jpg', 'train/b/4.jpg']);
    const dataset = await scanDataset(root, { validPct: 0.5 });
    assert.equal(dataset.layout, 'auto-split');
    assert.deepEqual(dataset.classNames, ['a', 'b']);
    assert.equal(dataset.valid.length, 2);
  });

  test('missing root or a file as root → DATASET_NOT_FOUND', async () => {
    await scanFails(path.join(dir, 'nope'), 'DATASET_NOT_FOUND', path.join(dir, 'nope'));
    const file = await writeFixture(dir, 'file-root.jpg', 'x');
    await scanFails(file, 'DATASET_NOT_FOUND', file);
  });

  test('one class → TOO_FEW_CLASSES; an empty class folder → EMPTY_CLASS naming the folder', async () => {
    await scanFails(await layout('one', ['cat/1.jpg', 'cat/2.jpg']), 'TOO_FEW_CLASSES');
    const root = await layout('empty', ['cat/1.jpg', 'dog/readme.txt']);
    await scanFails(root, 'EMPTY_CLASS', path.join(root, 'dog'));
    const trainVal = await layout('emptyval', ['train/a/1.jpg', 'train/b/2.jpg', 'val/a/3.jpg', 'val/b/.keep']);
    await scanFails(trainVal, 'EMPTY_CLASS', path.join(trainVal, 'val', 'b'));
  });

  test('layout errors → DATASET_LAYOUT', async () => {
    await scanFails(await layout('loose', ['1.jpg', '2.jpg']), 'DATASET_LAYOUT');
    await scanFails(await layout('valonly', ['val/a/1.jpg', 'val/b/2.jpg']), 'DATASET_LAYOUT');
    await scanFails(await layout('both', ['train/a/1.jpg', 'train/b/1.jpg', 'val/a/1.jpg', 'val/b/1.jpg', 'valid/a/1.jpg', 'valid/b/1.jpg']), 'DATASET_LAYOUT');
    const mismatch = await layout('mismatch', ['train/a/1.jpg', 'train/b/1.jpg', 'val/a/1.jpg', 'val/c/1.jpg']);
    await assert.rejects(scanDataset(mismatch), (err) => isImgclsError(err, 'DATASET_LAYOUT') && /missing from val\/: b/.test(err.message) && /only in val\/: c/.test(err.message));
  });

  test('bad split options are USAGE errors', async () => {
    const root = await layout('opts', ['a/1.jpg', 'b/2.jpg']);
    await assert.rejects(scanDataset(root, { validPct: 20 }), (err) => isImgclsError(err, 'USAGE'));
  });

  test('isImageFile accepts exactly the image extensions, in any case', () => {
    for (const name of ['a.jpg', 'a.JPEG', 'a.png', 'a.webp', 'a.gif', 'a.bmp', 'a.tif', 'a.TIFF']) assert.ok(isImageFile(name), name);
    for (const name of ['a.txt', 'a.svg', 'a.heic', 'a', 'jpg']) assert.ok(!isImageFile(name), name);
  });
});
