// Builders of test images: every fixture is generated in a temp folder by the test that needs it.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';

/** The repository root (tests run from dist/test/data). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The read-only lesson dataset shared by all rooms. */
export const LESSON_DATA = path.resolve(REPO_ROOT, '../shared/lesson-data');

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'imgcls-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** RGB pixels where every pixel gets color(x, y). */
export function rgbPixels(width: number, height: number, color: (x: number, y: number) => [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(color(x, y), (y * width + x) * 3);
  }
  return data;
}

/** A sharp image whose left half is red and right half is blue. */
export function redBlue(width = 40, height = 20): Sharp {
  return sharp(rgbPixels(width, height, (x) => (x < width / 2 ? [255, 0, 0] : [0, 0, 255])), {
    raw: { width, height, channels: 3 },
  });
}

/** A textured photo-like image (smooth gradients plus a few shapes) as JPEG bytes, different for each seed. */
export async function texturedJpeg(seed: number, width = 96, height = 80, quality = 90): Promise<Buffer> {
  const pixels = rgbPixels(width, height, (x, y) => [
    (Math.sin((x + seed * 13) / (5 + (seed % 7))) * 100 + 128) | 0,
    (Math.cos((y * (1 + (seed % 3)) + seed * 7) / 9) * 100 + 128) | 0,
    (((x * y + seed * 31) % 200) + 28) | 0,
  ]);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/** Writes bytes to dir/relative (making folders) and returns the absolute path. */
export async function writeFixture(dir: string, relative: string, bytes: Buffer | string): Promise<string> {
  const file = path.join(dir, relative);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  return file;
}

/** An uncompressed 24-bit bottom-up BMP of the given RGB pixels. */
export function bmp24(width: number, height: number, rgb: Buffer): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + rowBytes * height);
  out.write('BM', 0, 'ascii');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(rowBytes * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[row + x * 3] = rgb[i + 2];
      out[row + x * 3 + 1] = rgb[i + 1];
      out[row + x * 3 + 2] = rgb[i];
    }
  }
  return out;
}

/** A 32-bit top-down BMP with BI_BITFIELDS masks (BGRA order, alpha in the top byte) and a V4 header. */
export function bmp32Alpha(width: number, height: number, rgba: Buffer): Buffer {
  const headerSize = 108;
  const offset = 14 + headerSize;
  const out = Buffer.alloc(offset + width * height * 4);
  out.write('BM', 0, 'ascii');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(headerSize, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(-height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(32, 28);
  out.writeUInt32LE(3, 30); // BI_BITFIELDS
  out.writeUInt32LE(0x00ff0000, 54);
  out.writeUInt32LE(0x0000ff00, 58);
  out.writeUInt32LE(0x000000ff, 62);
  out.writeUInt32LE(0xff000000, 66);
  for (let i = 0; i < width * height; i++) {
    out[offset + i * 4] = rgba[i * 4 + 2];
    out[offset + i * 4 + 1] = rgba[i * 4 + 1];
    out[offset + i * 4 + 2] = rgba[i * 4];
    out[offset + i * 4 + 3] = rgba[i * 4 + 3];
  }
  return out;
}

/** An 8-bit palette BMP (bottom-up) with the given palette (RGB triples) and one palette index per pixel. */
export function bmp8(width: number, height: number, palette: [number, number, number][], indices: number[], bitsPerPixel: 1 | 4 | 8 = 8): Buffer {
  const rowBytes = Math.ceil((width * bitsPerPixel) / 32) * 4;
  const offset = 54 + palette.length * 4;
  const out = Buffer.alloc(offset + rowBytes * height);
  out.write('BM', 0, 'ascii');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bitsPerPixel, 28);
  out.writeUInt32LE(palette.length, 46);
  palette.forEach(([r, g, b], i) => {
    out[54 + i * 4] = b;
    out[54 + i * 4 + 1] = g;
    out[54 + i * 4 + 2] = r;
  });
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const bit = x * bitsPerPixel;
      out[row + (bit >> 3)] |= indices[y * width + x] << (8 - bitsPerPixel - (bit & 7));
    }
  }
  return out;
}

/** Mean of channel `channel` over the pixels (x, y) with predicate(x, y), for RGB data of the given width. */
export function channelMean(data: ArrayLike<number>, width: number, channel: number, predicate: (x: number, y: number) => boolean): number {
  let sum = 0;
  let count = 0;
  const height = data.length / 3 / width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!predicate(x, y)) continue;
      sum += data[(y * width + x) * 3 + channel];
      count++;
    }
  }
  return sum / count;
}
