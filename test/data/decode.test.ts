import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeBmp, decodeImage, isImgclsError, sniffImageFormat, type DecodedImage, type ErrorCode } from '../../src/index.js';
import { bmp24, bmp32Alpha, bmp8, channelMean, redBlue, rgbPixels, tempDir, writeFixture } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => cleanup());

/** Asserts the left half is red and the right half blue (within JPEG/CMYK tolerance). */
function assertRedBlue(image: DecodedImage, tolerance = 40): void {
  const { data, width } = image;
  const left = (x: number) => x < width / 2 - 2;
  const right = (x: number) => x >= width / 2 + 2;
  assert.ok(channelMean(data, width, 0, left) > 255 - tolerance, 'left half should be red');
  assert.ok(channelMean(data, width, 2, left) < tolerance, 'left half should have no blue');
  assert.ok(channelMean(data, width, 2, right) > 255 - tolerance, 'right half should be blue');
  assert.ok(channelMean(data, width, 0, right) < tolerance, 'right half should have no red');
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, file: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isImgclsError(err, code), `expected ${code}, got ${(err as Error)?.message} (${(err as { code?: string })?.code})`);
    assert.equal(err.file, file);
    assert.ok(err.hint && err.hint.length > 10, 'every decode error carries a hint');
    return true;
  });
}

describe('decodeImage: formats and colour handling', () => {
  test('baseline JPEG decodes to RGB with the right size and colours', async () => {
    const file = await writeFixture(dir, 'plain.jpg', await redBlue(40, 20).jpeg({ quality: 95 }).toBuffer());
    const image = await decodeImage(file);
    assert.equal(image.width, 40);
    assert.equal(image.height, 20);
    assert.equal(image.data.length, 40 * 20 * 3);
    assertRedBlue(image);
  });

  test('EXIF-rotated JPEG (orientation 6) comes out upright: width and height swap, left becomes top', async () => {
    const file = await writeFixture(dir, 'rotated.jpg', await redBlue(40, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer());
    assert.equal((await sharp(file).metadata()).orientation, 6);
    const image = await decodeImage(file);
    assert.equal(image.width, 20);
    assert.equal(image.height, 40);
    // orientation 6 = rotate 90° clockwise: the red left half ends up on top
    assert.ok(channelMean(image.data, image.width, 0, (_x, y) => y < 18) > 215);
    assert.ok(channelMean(image.data, image.width, 2, (_x, y) => y > 22) > 215);
    assert.ok(channelMean(image.data, image.width, 0, (_x, y) => y > 22) < 40);
  });

  test('palette PNG decodes to exact RGB colours', async () => {
    const bytes = await redBlue(40, 20).png({ palette: true }).toBuffer();
    assert.equal((await sharp(bytes).metadata()).isPalette, true);
    const image = await decodeImage(await writeFixture(dir, 'palette.png', bytes));
    assert.deepEqual([...image.data.subarray(0, 3)], [255, 0, 0]);
    assert.deepEqual([...image.data.subarray(image.data.length - 3)], [0, 0, 255]);
  });

  test('grayscale PNG becomes 3 equal channels with the gray levels kept', async () => {
    const gray = Buffer.from(Array.from({ length: 16 * 4 }, (_, i) => (i % 16) * 16));
    const bytes = await sharp(gray, { raw: { width: 16, height: 4, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(bytes).metadata()).channels, 1);
    const image = await decodeImage(await writeFixture(dir, 'gray.png', bytes));
    assert.equal(image.data.length, 16 * 4 * 3);
    for (let i = 0; i < 16 * 4; i++) {
      assert.equal(image.data[i * 3], image.data[i * 3 + 1]);
      assert.equal(image.data[i * 3], image.data[i * 3 + 2]);
      assert.ok(Math.abs(image.data[i * 3] - gray[i]) <= 1, `pixel ${i}: ${image.data[i * 3]} vs ${gray[i]}`);
    }
  });

  test('16-bit PNG becomes 8-bit with values scaled, not clipped', async () => {
    const values = [0, 64, 128, 255];
    const raw = rgbPixels(4, 1, (x) => [values[x], values[x], 255 - values[x]]);
    const bytes = await sharp(raw, { raw: { width: 4, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(bytes).metadata()).depth, 'ushort');
    const image = await decodeImage(await writeFixture(dir, 'deep.png', bytes));
    values.forEach((v, x) => {
      assert.ok(Math.abs(image.data[x * 3] - v) <= 1, `x=${x}: ${image.data[x * 3]} vs ${v}`);
      assert.ok(Math.abs(image.data[x * 3 + 2] - (255 - v)) <= 1, `x=${x} blue`);
    });
  });

  test('CMYK JPEG is converted to sRGB (red stays red, blue stays blue)', async () => {
    const bytes = await redBlue(40, 20).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    assert.equal((await sharp(bytes).metadata()).space, 'cmyk');
    const image = await decodeImage(await writeFixture(dir, 'cmyk.jpg', bytes));
    assert.equal(image.data.length, 40 * 20 * 3);
    // pure sRGB blue is outside the CMYK gamut, so it comes back as a darker blue
    const left = (x: number) => x < 18;
    const right = (x: number) => x > 22;
    const mean = (channel: number, where: (x: number) => boolean) => channelMean(image.data, image.width, channel, where);
    assert.ok(mean(0, left) > 200 && mean(1, left) < 40 && mean(2, left) < 40, 'left half should be red');
    assert.ok(mean(2, right) > 110 && mean(2, right) > mean(0, right) + 80 && mean(2, right) > mean(1, right) + 50, 'right half should be blue');
  });

  test('PNG with alpha is flattened onto white; opaque pixels keep their colour; half alpha blends', async () => {
    const rgba = Buffer.alloc(4 * 3 * 4);
    for (let x = 0; x < 4; x++) {
      rgba.set([0, 0, 0, 0], x * 4); // row 0: fully transparent black
      rgba.set([255, 0, 0, 255], (4 + x) * 4); // row 1: opaque red
      rgba.set([0, 0, 0, 128], (8 + x) * 4); // row 2: half-transparent black
    }
    const bytes = await sharp(rgba, { raw: { width: 4, height: 3, channels: 4 } }).png().toBuffer();
    const image = await decodeImage(await writeFixture(dir, 'alpha.png', bytes));
    assert.deepEqual([...image.data.subarray(0, 3)], [255, 255, 255]);
    assert.deepEqual([...image.data.subarray(12, 15)], [255, 0, 0]);
    assert.ok(Math.abs(image.data[24] - 127) <= 2, `half alpha over white: ${image.data[24]}`);
  });

  test('animated GIF yields its first frame only', async () => {
    const width = 8;
    const height = 6;
    const frames = Buffer.concat([
      rgbPixels(width, height, () => [255, 0, 0]),
      rgbPixels(width, height, () => [0, 0, 255]),
    ]);
    const bytes = await sharp(frames, { raw: { width, height: height * 2, channels: 3, pageHeight: height } }).gif().toBuffer();
    assert.equal((await sharp(bytes).metadata()).pages, 2);
    const image = await decodeImage(await writeFixture(dir, 'anim.gif', bytes));
    assert.equal(image.height, height);
    assert.deepEqual([...image.data.subarray(0, 3)], [255, 0, 0]);
  });

  test('WebP and TIFF decode', async () => {
    for (const [name, bytes] of [
      ['img.webp', await redBlue(40, 20).webp({ lossless: true }).toBuffer()],
      ['img.tiff', await redBlue(40, 20).tiff().toBuffer()],
    ] as const) {
      const image = await decodeImage(await writeFixture(dir, name, bytes));
      assert.equal(image.width, 40, name);
      assertRedBlue(image, 5);
    }
  });

  test('a PNG named .jpg decodes by its content', async () => {
    const image = await decodeImage(await writeFixture(dir, 'actually-png.jpg', await redBlue(40, 20).png().toBuffer()));
    assertRedBlue(image, 1);
  });

  test('maxSize shrinks large images, keeping the aspect ratio, and never enlarges', async () => {
    const file = await writeFixture(dir, 'big.jpg', await redBlue(400, 200).jpeg().toBuffer());
    const small = await decodeImage(file, { maxSize: 50 });
    assert.deepEqual([small.width, small.height], [50, 25]);
    assertRedBlue(small);
    const same = await decodeImage(file, { maxSize: 1000 });
    assert.deepEqual([same.width, same.height], [400, 200]);
  });
});

describe('decodeImage: BMP (decoded by imgcls, sharp has no BMP loader)', () => {
  test('24-bit bottom-up BMP with row padding', async () => {
    const width = 5; // 15 bytes per row: padded to 16
    const height = 3;
    const rgb = rgbPixels(width, height, (x, y) => [x * 50, y * 100, 255 - x * 50]);
    const image = await decodeImage(await writeFixture(dir, 'img24.bmp', bmp24(width, height, rgb)));
    assert.deepEqual([image.width, image.height], [width, height]);
    assert.deepEqual(Buffer.from(image.data), rgb);
  });

  test('32-bit BMP with alpha bitfields, top-down: alpha flattened onto white', async () => {
    const rgba = Buffer.from([0, 128, 255, 255, 10, 20, 30, 0]);
    const image = await decodeImage(await writeFixture(dir, 'img32.bmp', bmp32Alpha(2, 1, rgba)));
    assert.deepEqual([...image.data], [0, 128, 255, 255, 255, 255]);
  });

  test('8-bit and 1-bit palette BMPs map indices through the palette', async () => {
    const palette: [number, number, number][] = [[10, 20, 30], [200, 100, 50]];
    const indices = [0, 1, 1, 0, 1, 0];
    for (const bits of [8, 1] as const) {
      const image = await decodeImage(await writeFixture(dir, `pal${bits}.bmp`, bmp8(3, 2, palette, indices, bits)));
      assert.deepEqual([...image.data], indices.flatMap((i) => palette[i]), `${bits}-bit`);
    }
  });

  test('decodeBmp reports truncated and RLE files by kind', () => {
    const full = bmp24(4, 4, rgbPixels(4, 4, () => [1, 2, 3]));
    assert.throws(() => decodeBmp(full.subarray(0, full.length - 10)), { kind: 'truncated' });
    const rle = Buffer.from(full);
    rle.writeUInt32LE(1, 30);
    assert.throws(() => decodeBmp(rle), { kind: 'unsupported' });
  });
});

describe('decodeImage: bad files name the file and say what to do', () => {
  test('zero-byte file → IMAGE_EMPTY', async () => {
    const file = await writeFixture(dir, 'empty.jpg', Buffer.alloc(0));
    await rejectsWith(decodeImage(file), 'IMAGE_EMPTY', file);
  });

  test('text file named .jpg → IMAGE_UNREADABLE ("not an image")', async () => {
    const file = await writeFixture(dir, 'notes.jpg', 'these are my holiday notes, not a photo\n');
    await rejectsWith(decodeImage(file), 'IMAGE_UNREADABLE', file);
    await assert.rejects(decodeImage(file), /not an image/);
  });

  test('truncated JPEG → IMAGE_TRUNCATED', async () => {
    const bytes = await redBlue(300, 200).jpeg().toBuffer();
    const file = await writeFixture(dir, 'cut.jpg', bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await rejectsWith(decodeImage(file), 'IMAGE_TRUNCATED', file);
  });

  test('truncated PNG and truncated BMP → IMAGE_TRUNCATED', async () => {
    const png = await redBlue(300, 200).png().toBuffer();
    const pngFile = await writeFixture(dir, 'cut.png', png.subarray(0, Math.floor(png.length * 0.5)));
    await rejectsWith(decodeImage(pngFile), 'IMAGE_TRUNCATED', pngFile);
    const bmp = bmp24(20, 20, rgbPixels(20, 20, () => [9, 9, 9]));
    const bmpFile = await writeFixture(dir, 'cut.bmp', bmp.subarray(0, 300));
    await rejectsWith(decodeImage(bmpFile), 'IMAGE_TRUNCATED', bmpFile);
  });

  test('SVG or PDF named as an image → IMAGE_UNSUPPORTED; RLE BMP → IMAGE_UNSUPPORTED', async () => {
    const svg = await writeFixture(dir, 'vector.png', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await rejectsWith(decodeImage(svg), 'IMAGE_UNSUPPORTED', svg);
    const pdf = await writeFixture(dir, 'doc.jpg', '%PDF-1.4\n%âãÏÓ\n');
    await rejectsWith(decodeImage(pdf), 'IMAGE_UNSUPPORTED', pdf);
    const rle = bmp24(4, 4, rgbPixels(4, 4, () => [1, 2, 3]));
    rle.writeUInt32LE(1, 30);
    const rleFile = await writeFixture(dir, 'rle.bmp', rle);
    await rejectsWith(decodeImage(rleFile), 'IMAGE_UNSUPPORTED', rleFile);
  });

  test('random bytes with a JPEG signature → IMAGE_UNREADABLE or IMAGE_TRUNCATED, never a crash', async () => {
    const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 37) % 256))]);
    const file = await writeFixture(dir, 'junk.jpg', junk);
    await assert.rejects(decodeImage(file), (err: unknown) =>
      isImgclsError(err, 'IMAGE_UNREADABLE') || isImgclsError(err, 'IMAGE_TRUNCATED'));
  });

  test('missing file → IMAGE_UNREADABLE', async () => {
    const file = `${dir}/does-not-exist.jpg`;
    await rejectsWith(decodeImage(file), 'IMAGE_UNREADABLE', file);
  });

  test('sniffImageFormat recognises the supported containers by magic bytes', async () => {
    assert.equal(sniffImageFormat(await redBlue().jpeg().toBuffer()), 'jpeg');
    assert.equal(sniffImageFormat(await redBlue().png().toBuffer()), 'png');
    assert.equal(sniffImageFormat(await redBlue().webp().toBuffer()), 'webp');
    assert.equal(sniffImageFormat(await redBlue().gif().toBuffer()), 'gif');
    assert.equal(sniffImageFormat(await redBlue().tiff().toBuffer()), 'tiff');
    assert.equal(sniffImageFormat(bmp24(1, 1, Buffer.from([1, 2, 3]))), 'bmp');
    assert.equal(sniffImageFormat(Buffer.from('plain text')), undefined);
  });
});
