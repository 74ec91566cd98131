import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { isImgclsError } from '../../src/errors.js';
import { THUMBNAIL_CAPTION_HEIGHT, THUMBNAIL_GAP, UNREADABLE_TILE_GREY, thumbnailGrid } from '../../src/plots/thumbnails.js';

let dir: string;
let red: string; // 40 × 20, wider than tall
let blue: string; // 30 × 30 JPEG
let broken: string; // .jpg extension, not an image

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-thumbs-'));
  red = path.join(dir, 'red.png');
  blue = path.join(dir, 'blue.jpg');
  broken = path.join(dir, 'broken.jpg');
  await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toFile(red);
  await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 0, g: 0, b: 255 } } }).jpeg().toFile(blue);
  await fs.writeFile(broken, 'this is not a JPEG');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function pixels(png: Buffer): Promise<{ width: number; height: number; at: (x: number, y: number) => number[] }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at: (x, y) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)],
  };
}

const near = (actual: number[], expected: number[], tolerance = 30) =>
  actual.every((value, i) => Math.abs(value - expected[i]) <= tolerance);

test('thumbnailGrid lays the images out in rows of `columns`, letterboxed, with a grey tile for an unreadable file', async () => {
  const size = 32;
  const png = await thumbnailGrid([red, blue, broken], { columns: 2, size });
  const sheet = await pixels(png);
  assert.equal(sheet.width, THUMBNAIL_GAP + 2 * (size + THUMBNAIL_GAP));
  assert.equal(sheet.height, THUMBNAIL_GAP + 2 * (size + THUMBNAIL_GAP));

  const tileOrigin = (index: number) => ({
    x: THUMBNAIL_GAP + (index % 2) * (size + THUMBNAIL_GAP),
    y: THUMBNAIL_GAP + Math.floor(index / 2) * (size + THUMBNAIL_GAP),
  });
  const centre = (index: number) => sheet.at(tileOrigin(index).x + size / 2, tileOrigin(index).y + size / 2);
  assert.ok(near(centre(0), [255, 0, 0]), `tile 0 should be red, got ${centre(0)}`);
  assert.ok(near(centre(1), [0, 0, 255]), `tile 1 should be blue, got ${centre(1)}`);
  // the 2:1 red image fills 32 × 16 in the middle: white bands above and below
  const topBand = sheet.at(tileOrigin(0).x + size / 2, tileOrigin(0).y + 2);
  assert.ok(near(topBand, [255, 255, 255], 5), `letterbox band should be white, got ${topBand}`);
  const corner = sheet.at(tileOrigin(2).x + 1, tileOrigin(2).y + 1);
  assert.deepEqual(corner, [UNREADABLE_TILE_GREY, UNREADABLE_TILE_GREY, UNREADABLE_TILE_GREY]);
  // the gap between tiles stays background
  assert.deepEqual(sheet.at(tileOrigin(1).x - 2, tileOrigin(1).y + size / 2), [255, 255, 255]);
});

test('thumbnailGrid draws a caption strip under each thumbnail when labels are given', async () => {
  const size = 64;
  const plain = await pixels(await thumbnailGrid([red, blue], { size }));
  const captioned = await pixels(await thumbnailGrid([red, blue], { size, labels: ['logo', 'others'] }));
  assert.equal(plain.width, THUMBNAIL_GAP + 2 * (size + THUMBNAIL_GAP));
  assert.equal(captioned.height, plain.height + THUMBNAIL_CAPTION_HEIGHT);
  let dark = 0;
  for (let y = THUMBNAIL_GAP + size; y < THUMBNAIL_GAP + size + THUMBNAIL_CAPTION_HEIGHT; y++) {
    for (let x = 0; x < captioned.width; x++) if (captioned.at(x, y)[0] < 128) dark++;
  }
  assert.ok(dark > 20, `the caption strip should hold dark text pixels, found ${dark}`);
});

test('thumbnailGrid rejects bad options with USAGE errors naming the value', async () => {
  await assert.rejects(thumbnailGrid([]), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(thumbnailGrid([red], { size: 0 }), (err) => isImgclsError(err, 'USAGE') && /Received: 0/.test(err.message));
  await assert.rejects(thumbnailGrid([red], { columns: 1.5 }), (err) => isImgclsError(err, 'USAGE'));
  await assert.rejects(thumbnailGrid([red, blue], { labels: ['logo'] }), (err) => isImgclsError(err, 'USAGE') && /Received: 1 labels/.test(err.message));
});
