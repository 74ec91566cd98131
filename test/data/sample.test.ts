import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  contentHash,
  createBackboneEngine,
  datasetReport,
  isImgclsError,
  SAMPLE_ALL_CLASS_NAMES,
  SAMPLE_CLASS_NAMES,
  scanDataset,
  streamBatches,
  writeSampleDataset,
  type ImageItem,
} from '../../src/index.js';
import { LESSON_DATA, REPO_ROOT, tempDir, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

async function hashesOf(root: string): Promise<Map<string, string>> {
  const dataset = await scanDataset(root);
  const hashes = new Map<string, string>();
  for (const item of [...dataset.train, ...dataset.valid]) hashes.set(path.relative(root, item.file), await contentHash(item.file));
  return hashes;
}

describe('writeSampleDataset', () => {
  test('writes train/val logo/others, deterministic for a seed, different for another, no train/val overlap', async () => {
    const first = await writeSampleDataset(path.join(dir, 'a'), { imagesPerClass: 4, seed: 5 });
    assert.deepEqual(first.classNames, ['logo', 'others']);
    assert.equal(first.root, path.join(dir, 'a'));
    const dataset = await scanDataset(first.root);
    assert.equal(dataset.layout, 'train-val');
    assert.deepEqual(dataset.classNames, ['logo', 'others']);
    assert.deepEqual([0, 1].map((label) => dataset.train.filter((i) => i.label === label).length), [4, 4]);
    assert.deepEqual([0, 1].map((label) => dataset.valid.filter((i) => i.label === label).length), [2, 2]);
    for (const item of dataset.train.slice(0, 3)) {
      const { width = 0, height = 0, format } = await sharp(item.file).metadata();
      assert.equal(format, 'jpeg');
      assert.ok(width >= 224 && width <= 400 && height >= 224 && height <= 400, `${width}×${height}`);
    }
    const again = await writeSampleDataset(path.join(dir, 'b'), { imagesPerClass: 4, seed: 5 });
    assert.deepEqual(await hashesOf(again.root), await hashesOf(first.root), 'same seed → byte-identical files');
    const other = await writeSampleDataset(path.join(dir, 'c'), { imagesPerClass: 4, seed: 6 });
    const otherHashes = new Set((await hashesOf(other.root)).values());
    assert.ok([...(await hashesOf(first.root)).values()].every((h) => !otherHashes.has(h)), 'another seed → other images');

    const report = await datasetReport(first.root);
    assert.equal(report.leaks.length, 0);
    assert.equal(report.exactDuplicates.length, 0);
    assert.equal(report.unreadable.length, 0);
    assert.deepEqual(report.warnings, []);
  });

  test('numClasses 4 adds chart and document; logo and others stay byte-identical to the two-class sample', async () => {
    const two = await writeSampleDataset(path.join(dir, 'two'), { imagesPerClass: 3, seed: 9 });
    const four = await writeSampleDataset(path.join(dir, 'four'), { imagesPerClass: 3, seed: 9, numClasses: 4 });
    assert.deepEqual(four.classNames, ['logo', 'others', 'chart', 'document']);
    assert.deepEqual(SAMPLE_ALL_CLASS_NAMES.slice(0, 2), SAMPLE_CLASS_NAMES);
    const dataset = await scanDataset(four.root);
    assert.deepEqual(dataset.classNames, ['chart', 'document', 'logo', 'others']);
    assert.deepEqual(dataset.classNames.map((_, label) => dataset.train.filter((i) => i.label === label).length), [3, 3, 3, 3]);
    assert.deepEqual(dataset.classNames.map((_, label) => dataset.valid.filter((i) => i.label === label).length), [2, 2, 2, 2]);
    const twoHashes = await hashesOf(two.root);
    const fourHashes = await hashesOf(four.root);
    for (const [file, hash] of twoHashes) assert.equal(fourHashes.get(file), hash, `${file} changed with numClasses`);
    const report = await datasetReport(four.root);
    assert.equal(report.exactDuplicates.length, 0);
    assert.equal(report.leaks.length, 0);
    const three = await writeSampleDataset(path.join(dir, 'three'), { imagesPerClass: 2, numClasses: 3 });
    assert.deepEqual(three.classNames, ['logo', 'others', 'chart']);
    for (const numClasses of [1, 5, 2.5]) {
      await assert.rejects(writeSampleDataset(path.join(dir, 'bad-classes'), { numClasses }), (err) => isImgclsError(err, 'USAGE'));
    }
  });

  test('the classes differ in more than colour: mean colours of the two classes overlap', async () => {
    const { root } = await writeSampleDataset(path.join(dir, 'colour'), { imagesPerClass: 8, seed: 42 });
    const dataset = await scanDataset(root);
    const means = await Promise.all(dataset.train.map(async (item) => {
      const { channels } = await sharp(item.file).stats();
      return { label: item.label, rgb: channels.slice(0, 3).map((c) => c.mean) };
    }));
    // for each channel, the ranges of per-image means of the two classes overlap: no single colour threshold separates them
    for (let channel = 0; channel < 3; channel++) {
      const logo = means.filter((m) => m.label === 0).map((m) => m.rgb[channel]);
      const others = means.filter((m) => m.label === 1).map((m) => m.rgb[channel]);
      assert.ok(Math.max(...logo) > Math.min(...others) && Math.max(...others) > Math.min(...logo), `channel ${channel} separates the classes`);
    }
  });

  test('the classes are learnable from pretrained ImageNet features: nearest centroid classifies validation correctly', async () => {
    const { root } = await writeSampleDataset(path.join(dir, 'learn'), { imagesPerClass: 6, seed: 42 });
    const dataset = await scanDataset(root);
    const engine = await createBackboneEngine();
    try {
      const features = async (items: ImageItem[]) => {
        const rows: { vector: Float32Array; label: number }[] = [];
        for await (const batch of streamBatches(items, { batchSize: 8 })) {
          const { pooled } = await engine.run(batch);
          const width = pooled.length / batch.count;
          batch.labels.forEach((label, i) => {
            const vector = pooled.slice(i * width, (i + 1) * width);
            const norm = Math.hypot(...vector);
            rows.push({ vector: vector.map((v) => v / norm), label });
          });
        }
        return rows;
      };
      const train = await features(dataset.train);
      const valid = await features(dataset.valid);
      const centroids = [0, 1].map((label) => {
        const members = train.filter((row) => row.label === label);
        return members[0].vector.map((_, j) => members.reduce((sum, row) => sum + row.vector[j], 0) / members.length);
      });
      const predict = (vector: Float32Array) => {
        const distances = centroids.map((centroid) => centroid.reduce((sum, c, j) => sum + (c - vector[j]) ** 2, 0));
        return distances[0] <= distances[1] ? 0 : 1;
      };
      const correct = valid.filter((row) => predict(row.vector) === row.label).length;
      assert.equal(valid.length, 4);
      assert.equal(correct, valid.length, `${correct}/${valid.length} validation images right`);
    } finally {
      await engine.dispose();
    }
  });

  test('refuses a non-empty foreign folder, replaces its own earlier sample, validates options', async () => {
    const foreign = path.join(dir, 'foreign');
    await writeFixture(foreign, 'precious.txt', 'keep me');
    await assert.rejects(writeSampleDataset(foreign), (err) => isImgclsError(err, 'USAGE') && err.file === foreign);
    assert.equal(await fs.readFile(path.join(foreign, 'precious.txt'), 'utf8'), 'keep me');
    const inTheWay = await writeFixture(dir, 'a-file', 'x');
    await assert.rejects(writeSampleDataset(inTheWay), (err) => isImgclsError(err, 'USAGE') && err.file === inTheWay);

    const own = path.join(dir, 'own');
    await writeSampleDataset(own, { imagesPerClass: 6, seed: 1 });
    await writeSampleDataset(own, { imagesPerClass: 3, seed: 1 });
    const dataset = await scanDataset(own);
    assert.equal(dataset.train.length, 6, 'the second, smaller sample replaced the first');
    assert.ok(!(await fs.readdir(dir)).some((name) => name.includes('.partial-')), 'no staging folder left behind');

    await assert.rejects(writeSampleDataset(path.join(dir, 'bad'), { imagesPerClass: 1 }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(writeSampleDataset(path.join(dir, 'bad'), { seed: 0.5 }), (err) => isImgclsError(err, 'USAGE'));
  });
});

describe('CLI: imgcls sample and imgcls data report', () => {
  const cli = path.join(REPO_ROOT, 'bin/imgcls.js');
  const run = async (args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  test('sample writes a dataset; data report prints it as text and as JSON', async () => {
    const target = path.join(dir, 'cli-sample');
    const written = await run(['sample', target, '--images-per-class', '3', '--seed', '2']);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /Wrote the sample dataset \(logo, others\)/);
    const text = await run(['data', 'report', target]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /logo\s+3\s+2/);
    assert.match(text.stdout, /No warnings\./);
    const json = await run(['data', 'report', target, '--json']);
    assert.deepEqual(JSON.parse(json.stdout).counts, { train: { logo: 3, others: 3 }, valid: { logo: 2, others: 2 } });
  });

  test('sample --classes 4 writes four classes; --classes 5 is bad usage', async () => {
    const target = path.join(dir, 'cli-four');
    const written = await run(['sample', target, '--images-per-class', '2', '--classes', '4']);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /Wrote the sample dataset \(logo, others, chart, document\)/);
    assert.deepEqual((await scanDataset(target)).classNames, ['chart', 'document', 'logo', 'others']);
    const tooMany = await run(['sample', path.join(dir, 'cli-five'), '--classes', '5']);
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.stderr, /numClasses must be an integer in \[2, 4\]/);
  });

  test('report on lesson-data: LEAK and NARROW others in the text; --strict exits 1; --no-concepts skips the check', async () => {
    const strict = await run(['data', 'report', LESSON_DATA, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /! LEAK: 19 of 19 validation images are exact copies/);
    // the narrow-class check: others is all cats, logo is not one concept
    assert.match(strict.stdout, /! NARROW others: \d+\/10 images are ImageNet cat classes .*'cat vs\. not cat'/);
    assert.doesNotMatch(strict.stdout, /NARROW logo/);
    assert.match(strict.stdout, /ImageNet concepts per class[\s\S]*others\s+10 images/);
    const json = JSON.parse((await run(['data', 'report', LESSON_DATA, '--json'])).stdout);
    assert.equal(json.concepts.classes.find((c: { className: string }) => c.className === 'others').narrow, 'concept');
    const skipped = await run(['data', 'report', LESSON_DATA, '--no-concepts']);
    assert.doesNotMatch(skipped.stdout, /NARROW|ImageNet concepts/);
  });

  test('bad usage exits 2 with a hint; a missing dataset exits 1 naming it', async () => {
    for (const args of [['data'], ['data', 'report'], ['data', 'report', '.', '--nope'], ['data', 'summary', '.'], ['sample'], ['sample', 'x', '--seed', 'abc']]) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /✖ .*\n {2}hint: /);
    }
    const missing = await run(['data', 'report', path.join(dir, 'missing')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /dataset folder not found.*\n {2}file: /);
    const help = await run(['data', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage:[\s\S]*Options:[\s\S]*Examples:/);
  });
});
