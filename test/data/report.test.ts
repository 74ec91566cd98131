import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  contentHash,
  datasetReport,
  decodeImage,
  formatDatasetReport,
  hammingDistance,
  isImgclsError,
  perceptualHash,
} from '../../src/index.js';
import { LESSON_DATA, tempDir, texturedJpeg, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

describe('hashes', () => {
  test('contentHash is the sha256 of the bytes: equal for copies, different after one byte changes', async () => {
    const bytes = await texturedJpeg(1);
    const a = await writeFixture(dir, 'h/a.jpg', bytes);
    const b = await writeFixture(dir, 'h/b.jpg', bytes);
    const changed = Buffer.from(bytes);
    changed[changed.length - 3] ^= 1;
    const c = await writeFixture(dir, 'h/c.jpg', changed);
    assert.equal(await contentHash(a), createHash('sha256').update(bytes).digest('hex'));
    assert.equal(await contentHash(a), await contentHash(b));
    assert.notEqual(await contentHash(a), await contentHash(c));
    await assert.rejects(contentHash(path.join(dir, 'h/missing.jpg')), (err) => isImgclsError(err, 'IMAGE_UNREADABLE'));
  });

  test('perceptualHash: a resized, re-encoded copy is within 4 bits; different images are far apart', async () => {
    const original = await texturedJpeg(2, 160, 120);
    const copy = await sharp(original).resize(90, 70, { fit: 'fill' }).jpeg({ quality: 60 }).toBuffer();
    const hashOf = async (bytes: Buffer, name: string) => perceptualHash(await decodeImage(await writeFixture(dir, `p/${name}`, bytes)));
    const [h1, h2] = [await hashOf(original, 'orig.jpg'), await hashOf(copy, 'copy.jpg')];
    assert.match(h1, /^[0-9a-f]{16}$/);
    assert.ok(hammingDistance(h1, h2) <= 4, `copy distance ${hammingDistance(h1, h2)}`);
    const others = await Promise.all([3, 4, 5].map(async (seed) => hashOf(await texturedJpeg(seed, 160, 120), `o${seed}.jpg`)));
    for (const other of others) assert.ok(hammingDistance(h1, other) > 10, `distinct distance ${hammingDistance(h1, other)}`);
  });

  test('hammingDistance counts differing bits and rejects mismatched input', () => {
    assert.equal(hammingDistance('00ff', '00ff'), 0);
    assert.equal(hammingDistance('0000', 'ffff'), 16);
    assert.equal(hammingDistance('0f00', '0e01'), 2);
    assert.throws(() => hammingDistance('abc', 'ab'), (err) => isImgclsError(err, 'USAGE'));
    assert.throws(() => perceptualHash({ data: new Uint8Array(5), width: 2, height: 1 }), (err) => isImgclsError(err, 'USAGE'));
  });
});

describe('datasetReport', () => {
  test('lesson-data: train 9 logo / 10 others, and every val image is flagged as an exact copy of a train image', async () => {
    const report = await datasetReport(LESSON_DATA);
    assert.deepEqual(report.classNames, ['logo', 'others']);
    assert.deepEqual(report.counts.train, { logo: 9, others: 10 });
    assert.deepEqual(report.counts.valid, { logo: 9, others: 10 });
    assert.equal(report.unreadable.length, 0);
    assert.ok(Math.abs(report.imbalanceRatio - 10 / 9) < 1e-9);
    assert.equal(report.leaks.length, 19, 'all 19 validation images leak');
    for (const leak of report.leaks) {
      assert.equal(leak.kind, 'exact');
      assert.equal(leak.valid.split, 'valid');
      assert.equal(leak.train.split, 'train');
      assert.equal(path.basename(leak.valid.file), path.basename(leak.train.file));
    }
    assert.equal(report.exactDuplicates.filter((g) => g.crossSplit).length, 19);
    const leakWarning = report.warnings[0];
    assert.match(leakWarning, /^LEAK: 19 of 19 validation images are exact copies/);
    for (const leak of report.leaks) {
      assert.ok(leakWarning.includes(path.relative(LESSON_DATA, leak.valid.file)), `warning names ${leak.valid.file}`);
    }
    const text = formatDatasetReport(report);
    assert.match(text, /logo\s+9\s+9/);
    assert.match(text, /others\s+10\s+10/);
    assert.match(text, /! LEAK: 19 of 19/);
  });

  test('a built dataset: unreadable files with reasons, duplicates within and across splits, near-duplicate leak, label conflict', async () => {
    const root = path.join(dir, 'ds');
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => texturedJpeg(10 + i, 120, 100)));
    await writeFixture(root, 'train/cat/c0.jpg', images[0]);
    await writeFixture(root, 'train/cat/c1.jpg', images[1]);
    await writeFixture(root, 'train/cat/c1-copy.jpg', images[1]); // exact duplicate within train
    await writeFixture(root, 'train/cat/c2.jpg', images[2]);
    await writeFixture(root, 'train/dog/d0.jpg', images[3]);
    await writeFixture(root, 'train/dog/d1.jpg', images[4]);
    await writeFixture(root, 'train/dog/same-as-c2.jpg', images[2]); // same image, two classes
    await writeFixture(root, 'train/dog/empty.jpg', Buffer.alloc(0));
    await writeFixture(root, 'train/dog/notes.jpg', 'a text file with an image name');
    const jpeg = await texturedJpeg(99, 300, 200);
    await writeFixture(root, 'train/dog/cut.jpg', jpeg.subarray(0, jpeg.length >> 1));
    await writeFixture(root, 'train/dog/info.txt', 'not counted');
    await writeFixture(root, 'val/cat/v0.jpg', images[0]); // exact leak
    await writeFixture(root, 'val/cat/v5.jpg', images[5]);
    const nearCopy = await sharp(images[4]).resize(100, 80, { fit: 'fill' }).jpeg({ quality: 70 }).toBuffer();
    await writeFixture(root, 'val/dog/v-near-d1.jpg', nearCopy); // near-duplicate leak
    await writeFixture(root, 'val/dog/v6.jpg', images[6]);

    const progress: number[] = [];
    const report = await datasetReport(root, { onProgress: (p) => progress.push(p.done) });
    assert.equal(progress.length, 14);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    assert.deepEqual(report.counts.train, { cat: 4, dog: 3 });
    assert.deepEqual(report.counts.valid, { cat: 2, dog: 2 });
    assert.deepEqual(report.totals, { train: 7, valid: 4 });
    assert.deepEqual(
      report.unreadable.map((u) => [path.basename(u.file), u.reason.split(':')[0]]).sort(),
      [['cut.jpg', 'IMAGE_TRUNCATED'], ['empty.jpg', 'IMAGE_EMPTY'], ['notes.jpg', 'IMAGE_UNREADABLE']],
    );
    assert.deepEqual(report.ignored.map((f) => path.basename(f)), ['info.txt']);
    const groups = report.exactDuplicates.map((g) => g.files.map((f) => path.basename(f.file)).sort().join('='));
    assert.deepEqual(groups.sort(), ['c0.jpg=v0.jpg', 'c1-copy.jpg=c1.jpg', 'c2.jpg=same-as-c2.jpg']);
    assert.ok(report.exactDuplicates.find((g) => g.files.some((f) => f.file.endsWith('same-as-c2.jpg')))!.labelConflict);
    assert.deepEqual(
      report.leaks.map((l) => [path.basename(l.valid.file), path.basename(l.train.file), l.kind]),
      [['v0.jpg', 'c0.jpg', 'exact'], ['v-near-d1.jpg', 'd1.jpg', 'near']],
    );
    assert.ok(report.nearDuplicates.some((p) => p.crossSplit && p.distance <= 4));
    const warnings = report.warnings.join('\n');
    assert.match(report.warnings[0], /^LEAK: 1 of 4 validation images are exact copies.*val\/cat\/v0\.jpg = train\/cat\/c0\.jpg/);
    assert.match(report.warnings[1], /^LEAK: 1 validation images are near-duplicates.*val\/dog\/v-near-d1\.jpg ~ train\/dog\/d1\.jpg/);
    assert.match(warnings, /LABEL CONFLICT: .*train\/cat\/c2\.jpg = train\/dog\/same-as-c2\.jpg/);
    assert.match(warnings, /3 unreadable files will be skipped: .*train\/dog\/cut\.jpg \(IMAGE_TRUNCATED/);
    assert.match(warnings, /2 groups of exact duplicates within train: train\/cat\/c1-copy\.jpg = train\/cat\/c1\.jpg/);
    assert.ok(!warnings.includes(dir), 'warnings use paths relative to the root');
    assert.match(warnings, /1 non-image files ignored: train\/dog\/info\.txt/);
    const text = formatDatasetReport(report);
    assert.match(text, /Unreadable files: 3/);
    assert.match(text, /empty\.jpg: IMAGE_EMPTY/);
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(report)));
  });

  test('imbalance over 2× is warned; a clean balanced dataset has no warnings', async () => {
    const root = path.join(dir, 'imb');
    for (let i = 0; i < 6; i++) await writeFixture(root, `big/${i}.jpg`, await texturedJpeg(200 + i * 7));
    for (let i = 0; i < 2; i++) await writeFixture(root, `small/${i}.jpg`, await texturedJpeg(300 + i * 11));
    const report = await datasetReport(root, { validPct: 0 });
    assert.equal(report.imbalanceRatio, 3);
    assert.ok(report.warnings.some((w) => /class imbalance.*3\.0×/.test(w)), report.warnings.join('\n'));
    const balanced = path.join(dir, 'bal');
    for (let i = 0; i < 3; i++) await writeFixture(balanced, `a/${i}.jpg`, await texturedJpeg(400 + i * 13));
    for (let i = 0; i < 3; i++) await writeFixture(balanced, `b/${i}.jpg`, await texturedJpeg(500 + i * 17));
    const clean = await datasetReport(balanced, { validPct: 0.34 });
    assert.deepEqual(clean.warnings, []);
    assert.equal(clean.layout, 'auto-split');
    assert.equal(clean.totals.valid, 2);
  });

  test('bad options → USAGE; a missing root → DATASET_NOT_FOUND', async () => {
    await assert.rejects(datasetReport(LESSON_DATA, { nearDuplicateDistance: -1 }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(datasetReport(path.join(dir, 'missing')), (err) => isImgclsError(err, 'DATASET_NOT_FOUND'));
  });
});
