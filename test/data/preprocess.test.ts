import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  DEFAULT_PREPROCESSING,
  NORMALIZATIONS,
  RESIZE_MODES,
  decodeImage,
  isImgclsError,
  loadImage,
  normalizePixels,
  preprocessPixels,
} from '../../src/index.js';
import { LESSON_DATA, channelMean, redBlue, rgbPixels, tempDir, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

describe('loadImage and preprocessPixels', () => {
  test('squash: any shape becomes 224×224×3 in [0, 1], halves stay where they were', async () => {
    const file = await writeFixture(dir, 'wide.png', await redBlue(400, 100).png().toBuffer());
    const input = await loadImage(file);
    assert.equal(input.length, 224 * 224 * 3);
    assert.ok(input.every((v) => v >= 0 && v <= 1));
    const size = 224;
    assert.ok(channelMean(input, size, 0, (x) => x < 100) > 0.98);
    assert.ok(channelMean(input, size, 2, (x) => x > 124) > 0.98);
    assert.ok(channelMean(input, size, 0, (x) => x > 124) < 0.02);
  });

  test('center-crop: the shorter side is resized and the outer bands of the longer side are cut', async () => {
    // 400×200: green | red (middle half) | blue. The crop keeps x in [100, 300): red only.
    const pixels = rgbPixels(400, 200, (x) => (x < 90 ? [0, 255, 0] : x < 310 ? [255, 0, 0] : [0, 0, 255]));
    const file = await writeFixture(dir, 'bands.png', await sharp(pixels, { raw: { width: 400, height: 200, channels: 3 } }).png().toBuffer());
    const cropped = await loadImage(file, { ...DEFAULT_PREPROCESSING, resize: 'center-crop', inputSize: 64 });
    assert.equal(cropped.length, 64 * 64 * 3);
    assert.ok(channelMean(cropped, 64, 0, () => true) > 0.97, 'only the red middle survives the crop');
    const squashed = await loadImage(file, { ...DEFAULT_PREPROCESSING, inputSize: 64 });
    assert.ok(channelMean(squashed, 64, 1, (x) => x < 10) > 0.9, 'squash keeps the green band');
  });

  test('advprop is exactly zero-one × 2 − 1', async () => {
    const file = await writeFixture(dir, 'tex.png', await redBlue(50, 30).png().toBuffer());
    const zeroOne = await loadImage(file, { normalization: 'zero-one' });
    const advprop = await loadImage(file, { normalization: 'advprop' });
    assert.ok(advprop.every((v, i) => Math.abs(v - (zeroOne[i] * 2 - 1)) < 1e-6));
    assert.ok(advprop.some((v) => v < -0.99) && advprop.some((v) => v > 0.99));
  });

  test('normalizePixels maps 0, 128, 255 for both presets; every preset and resize mode is documented', () => {
    const rgb = new Uint8Array([0, 128, 255]);
    assert.deepEqual([...normalizePixels(rgb, 'zero-one')].map((v) => +v.toFixed(4)), [0, 0.502, 1]);
    assert.deepEqual([...normalizePixels(rgb, 'advprop')].map((v) => +v.toFixed(4)), [-1, 0.0039, 1]);
    // every level, bit for bit, is what the division gives (the table lookup must not change a single input value)
    const levels = Uint8Array.from({ length: 256 }, (_, v) => v);
    assert.deepEqual(normalizePixels(levels, 'zero-one'), Float32Array.from(levels, (v) => v / 255));
    assert.deepEqual(normalizePixels(levels, 'advprop'), Float32Array.from(levels, (v) => (v / 255) * 2 - 1));
    for (const text of [...Object.values(NORMALIZATIONS), ...Object.values(RESIZE_MODES)]) {
      assert.ok(text.length > 30 && text.endsWith('.'), text);
    }
  });

  test('preprocessPixels on decoded pixels equals loadImage on the file (PNG, no shrink-on-load)', async () => {
    const pixels = rgbPixels(123, 77, (x, y) => [(x * 2) % 256, (y * 3) % 256, (x * y) % 256]);
    const file = await writeFixture(dir, 'grad.png', await sharp(pixels, { raw: { width: 123, height: 77, channels: 3 } }).png().toBuffer());
    const fromFile = await loadImage(file);
    const fromPixels = await preprocessPixels(await decodeImage(file));
    let maxDiff = 0;
    for (let i = 0; i < fromFile.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fromFile[i] - fromPixels[i]));
    assert.ok(maxDiff <= 1 / 255 + 1e-6, `max difference ${maxDiff}`);
  });

  test('a big lesson JPEG (3456×2304) loads with shrink-on-load close to the full-size decode', async () => {
    const file = path.join(LESSON_DATA, 'train/others/3.jpeg');
    const fast = await loadImage(file);
    const full = await decodeImage(file);
    assert.deepEqual([full.width, full.height], [3456, 2304]);
    const reference = await preprocessPixels(full);
    let sum = 0;
    for (let i = 0; i < fast.length; i++) sum += Math.abs(fast[i] - reference[i]);
    assert.ok(sum / fast.length < 0.02, `mean absolute difference ${sum / fast.length}`);
  });

  test('invalid preprocessing is a USAGE error naming the value', async () => {
    const file = await writeFixture(dir, 'ok.png', await redBlue().png().toBuffer());
    await assert.rejects(loadImage(file, { inputSize: 0 }), (err) => isImgclsError(err, 'USAGE') && /Received: 0/.test(err.message));
    await assert.rejects(loadImage(file, { resize: 'stretch' as never }), (err) => isImgclsError(err, 'USAGE') && /stretch/.test(err.message));
    await assert.rejects(loadImage(file, { normalization: 'imagenet' as never }), (err) => isImgclsError(err, 'USAGE'));
  });

  test('loadImage of a bad file throws the decode error code', async () => {
    const file = await writeFixture(dir, 'zero.jpg', Buffer.alloc(0));
    await assert.rejects(loadImage(file), (err) => isImgclsError(err, 'IMAGE_EMPTY') && err.file === file);
  });
});
