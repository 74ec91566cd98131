import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadImage } from '../../src/data/preprocess.js';
import { isImgclsError } from '../../src/errors.js';
import { explain, renderOverlayPng, renderOverlayPngs } from '../../src/explain/index.js';
import { createBackboneEngine } from '../../src/model/engine.js';
import type { BackboneEngine, Classifier } from '../../src/model/types.js';
import { argmax, cellsOf, engineClassifier, patchDetectorHead, singleBatch, writePatchImage, type Patch } from './helpers.js';

const MAP_SIZE = 7;
/** Top-right patch: pixels x 128–191, y 32–95 of a 224 × 224 image = map rows 1–2, cols 4–5. */
const PATCH_A: Patch = { left: 128, top: 32, size: 64 };
const CELLS_A = cellsOf(MAP_SIZE, 1, 2, 4, 5);
/** Bottom-left patch: pixels x 32–95, y 128–191 = map rows 4–5, cols 1–2. */
const PATCH_B: Patch = { left: 32, top: 128, size: 64 };
const CELLS_B = cellsOf(MAP_SIZE, 4, 5, 1, 2);
const GREYSCALE = [[0, [0, 0, 0]], [1, [255, 255, 255]]] as const;

function meanOver(map: Float32Array, cells: Set<number>, inside: boolean): number {
  const values = Array.from(map).filter((_, cell) => cells.has(cell) === inside);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('explain with a head set by hand so one feature channel decides the class', () => {
  let dir: string;
  let engine: BackboneEngine;
  let classifier: Classifier;
  const files = { a: '', b: '', flat: '', wideB: '', paddedA: '', rotatedB: '' };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-explain-'));
    files.a = path.join(dir, 'patch-top-right.png');
    files.b = path.join(dir, 'patch-bottom-left.png');
    files.flat = path.join(dir, 'flat.png');
    files.wideB = path.join(dir, 'patch-bottom-left-wide.png');
    files.paddedA = path.join(dir, 'patch-top-right-padded.png');
    files.rotatedB = path.join(dir, 'patch-bottom-left-exif6.jpg');
    await writePatchImage(files.a, 224, 224, PATCH_A);
    await writePatchImage(files.b, 224, 224, PATCH_B);
    await writePatchImage(files.flat, 224, 224);
    // B stretched to 448 × 224: squash preprocessing turns it back into B
    await sharp(files.b).resize(448, 224, { fit: 'fill', kernel: 'nearest' }).toFile(files.wideB);
    // wide B stored turned a quarter anticlockwise, with EXIF orientation 6 (turn clockwise to display): shows as wide B
    await sharp(await sharp(files.wideB).rotate(-90).toBuffer()).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(files.rotatedB);
    // A with 112 grey columns on each side: its centre crop is exactly A
    await sharp(files.a).extend({ left: 112, right: 112, background: { r: 128, g: 128, b: 128 } }).toFile(files.paddedA);

    engine = await createBackboneEngine();
    // find, with the real backbone, the channel that fires most at patch A's cells and least elsewhere
    const detector = await patchDetectorHead(engine, files.a, files.flat, CELLS_A);
    assert.ok(detector.margin > 1, `no channel singles out the patch (best margin ${detector.margin})`);
    const head = detector.head;
    classifier = engineClassifier(engine, head, ['flat', 'patch']);
  });

  after(async () => {
    await engine?.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('the map peaks at the patch, and predicts "patch"', async () => {
    const explanation = await explain(classifier, files.a);
    assert.equal(explanation.className, 'patch');
    assert.equal(explanation.predictedClassName, 'patch');
    assert.equal(explanation.mapSize, MAP_SIZE);
    assert.equal(explanation.map.length, MAP_SIZE * MAP_SIZE);
    assert.deepEqual([explanation.imageWidth, explanation.imageHeight], [224, 224]);
    const peak = argmax(explanation.map);
    assert.ok(CELLS_A.has(peak), `peak at row ${Math.floor(peak / 7)}, col ${peak % 7}; the patch covers rows 1–2, cols 4–5`);
    assert.equal(explanation.map[peak], 1);
    assert.ok(Math.min(...explanation.map) >= 0);
    assert.ok(meanOver(explanation.map, CELLS_A, true) > 3 * meanOver(explanation.map, CELLS_A, false));
  });

  it('moving the patch moves the peak', async () => {
    const explanation = await explain(classifier, files.b);
    assert.equal(explanation.className, 'patch');
    const peak = argmax(explanation.map);
    assert.ok(CELLS_B.has(peak), `peak at row ${Math.floor(peak / 7)}, col ${peak % 7}; the patch covers rows 4–5, cols 1–2`);
    assert.ok(meanOver(explanation.map, CELLS_B, true) > 3 * meanOver(explanation.map, CELLS_B, false));
  });

  it('without the patch the prediction is "flat"; className picks the class explained', async () => {
    const flat = await explain(classifier, files.flat);
    assert.equal(flat.className, 'flat');
    const forced = await explain(classifier, files.a, { className: 'flat' });
    assert.equal(forced.className, 'flat');
    assert.equal(forced.classIndex, 0);
    assert.equal(forced.predictedClassName, 'patch');
    // the 'flat' column of the head is all zeros: no evidence anywhere
    assert.deepEqual(Array.from(forced.map), new Array(49).fill(0));
  });

  it('the predicted class follows spec.threshold, as classify() does', async () => {
    const thresholded: Classifier = { ...classifier, spec: { ...classifier.spec, threshold: { className: 'flat', value: 1e-6 } } };
    const explanation = await explain(thresholded, files.a);
    assert.ok(explanation.probabilities[0] < explanation.probabilities[1], 'patch is the more probable class');
    assert.equal(explanation.predictedClassName, 'flat');
    assert.equal(explanation.className, 'flat');
  });

  it('renderOverlayPngs: one PNG per image, unreadable images skipped with the reason, progress, cancel', async () => {
    const missing = path.join(dir, 'missing.png');
    const seen: number[] = [];
    const result = await renderOverlayPngs(classifier, [files.a, missing, files.b], { maxSize: 64, onProgress: (p) => seen.push(p.done) });
    assert.deepEqual([...result.overlays.keys()], [files.a, files.b]);
    assert.deepEqual(result.explanations.map((e) => e.file), [files.a, files.b]);
    const png = await sharp(result.overlays.get(files.a)!).metadata();
    assert.deepEqual([png.format, png.width, png.height], ['png', 64, 64]);
    assert.equal(result.skipped.length, 1);
    assert.equal(result.skipped[0].file, missing);
    assert.match(result.skipped[0].reason, /IMAGE_UNREADABLE/);
    assert.deepEqual(seen, [1, 2, 3]);
    await assert.rejects(renderOverlayPngs(classifier, [files.a], { className: 'dog' }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(renderOverlayPngs(classifier, [files.a], { signal: AbortSignal.abort() }), (err) => isImgclsError(err, 'CANCELLED'));
  });

  it('probabilities from the map agree with the classifier', async () => {
    const explanation = await explain(classifier, files.a);
    const expected = await classifier.predictBatch(singleBatch(await loadImage(files.a), files.a));
    explanation.probabilities.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-4, `class ${i}: ${p} vs ${expected[i]}`));
    assert.equal(explanation.probability, explanation.probabilities[1]);
  });

  it('an unknown className is a USAGE error naming the classes', async () => {
    await assert.rejects(explain(classifier, files.a, { className: 'dog' }),
      (err) => isImgclsError(err, 'USAGE') && err.message.includes('flat, patch'));
  });

  it('bad overlay options are USAGE errors; a feature map that fits no square grid is INTERNAL', async () => {
    const explanation = await explain(classifier, files.a);
    await assert.rejects(renderOverlayPng(explanation, { opacity: 1.5 }), (err) => isImgclsError(err, 'USAGE'));
    await assert.rejects(renderOverlayPng(explanation, { maxSize: 0 }), (err) => isImgclsError(err, 'USAGE'));
    const broken: Classifier = { ...classifier, featureMap: async () => new Float32Array(1280 * 50) };
    await assert.rejects(explain(broken, files.a), (err) => isImgclsError(err, 'INTERNAL'));
  });

  it('the overlay puts the hottest pixel on the patch of a non-square image', async () => {
    const explanation = await explain(classifier, files.wideB);
    assert.deepEqual([explanation.imageWidth, explanation.imageHeight], [448, 224]);
    assert.deepEqual(explanation.region, { left: 0, top: 0, width: 448, height: 224 });
    // opacity 1 + black-to-white colour map: the overlay's brightness is the upsampled map itself
    const png = await renderOverlayPng(explanation, { opacity: 1, colormap: GREYSCALE });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [448, 224]);
    const brightness = new Float32Array(info.width * info.height).map((_, i) => data[i * info.channels]);
    const hottest = argmax(brightness);
    const [x, y] = [hottest % info.width, Math.floor(hottest / info.width)];
    // patch B stretched ×2 horizontally: x 64–191, y 128–191
    assert.ok(x >= 64 && x < 192 && y >= 128 && y < 192, `hottest pixel at (${x}, ${y})`);
  });

  it('EXIF orientation: the map and the overlay follow the image as displayed', async () => {
    const stored = await sharp(files.rotatedB).metadata();
    assert.deepEqual([stored.width, stored.height, stored.orientation], [224, 448, 6]);
    const explanation = await explain(classifier, files.rotatedB);
    assert.deepEqual([explanation.imageWidth, explanation.imageHeight], [448, 224]);
    assert.ok(CELLS_B.has(argmax(explanation.map)), `peak at cell ${argmax(explanation.map)}`);
    const png = await renderOverlayPng(explanation, { opacity: 1, colormap: GREYSCALE });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [448, 224]);
    const brightness = new Float32Array(info.width * info.height).map((_, i) => data[i * info.channels]);
    const hottest = argmax(brightness);
    const [x, y] = [hottest % info.width, Math.floor(hottest / info.width)];
    assert.ok(x >= 64 && x < 192 && y >= 128 && y < 192, `hottest pixel at (${x}, ${y})`);
  });

  it('center-crop: the map covers the centred square, the overlay leaves the sides alone', async () => {
    const cropping = engineClassifier(engine, classifier.head, ['flat', 'patch'], {
      inputSize: 224, resize: 'center-crop', normalization: 'zero-one',
    });
    const explanation = await explain(cropping, files.paddedA);
    assert.deepEqual(explanation.region, { left: 112, top: 0, width: 224, height: 224 });
    assert.ok(CELLS_A.has(argmax(explanation.map)));
    const png = await renderOverlayPng(explanation, { opacity: 1, colormap: GREYSCALE });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
    assert.equal(at(20, 200), 128, 'left margin keeps the image');
    assert.equal(at(430, 10), 128, 'right margin keeps the image');
    const brightness = new Float32Array(info.width * info.height).map((_, i) => data[i * info.channels]);
    const hottest = argmax(brightness);
    const [x, y] = [hottest % info.width, Math.floor(hottest / info.width)];
    // patch A shifted right by 112: x 240–303, y 32–95
    assert.ok(x >= 240 && x < 304 && y >= 32 && y < 96, `hottest pixel at (${x}, ${y})`);
  });
});
