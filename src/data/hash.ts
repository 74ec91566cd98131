import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ImgclsError } from '../errors.js';
import type { DecodedImage } from './decode.js';

/** The sha256 of a file's bytes as 64 hex digits: equal hashes mean byte-identical files. */
export async function contentHash(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new ImgclsError(`cannot read file: ${file}`, 'IMAGE_UNREADABLE', file, 'Check the path and its permissions.', { cause: err });
  }
  return hash.digest('hex');
}

/** The sha256 of bytes already in memory, as 64 hex digits (same value contentHash gives for the file). */
export function contentHashOfBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const HASH_COLUMNS = 9;
const HASH_ROWS = 8;

/**
 * A 64-bit difference hash (dHash) of an image as 16 hex digits: the luminance is area-averaged into a
 * 9 × 8 grid and each bit says whether a cell is brighter than its right neighbour. Re-encoded,
 * resized or slightly recoloured copies of an image land within a few bits (see hammingDistance).
 */
export function perceptualHash(rgb: DecodedImage): string {
  const { data, width, height } = rgb;
  if (!(width > 0 && height > 0 && data.length === width * height * 3)) {
    throw new ImgclsError(`perceptualHash needs width × height × 3 RGB values; got ${data.length} for ${width}×${height}`, 'USAGE');
  }
  // exact area averaging (fractional pixel overlaps), so the hash barely depends on the decoded size
  const columnWeights = areaWeights(width, HASH_COLUMNS);
  const rowWeights = areaWeights(height, HASH_ROWS);
  const grid = new Float64Array(HASH_COLUMNS * HASH_ROWS);
  const rowSums = new Float64Array(HASH_COLUMNS);
  for (let y = 0; y < height; y++) {
    rowSums.fill(0);
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const luminance = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      for (const [column, weight] of columnWeights[x]) rowSums[column] += luminance * weight;
    }
    for (const [row, weight] of rowWeights[y]) {
      for (let column = 0; column < HASH_COLUMNS; column++) grid[row * HASH_COLUMNS + column] += rowSums[column] * weight;
    }
  }
  let hex = '';
  for (let row = 0; row < HASH_ROWS; row++) {
    let byte = 0;
    for (let column = 0; column < HASH_ROWS; column++) {
      const left = grid[row * HASH_COLUMNS + column];
      const right = grid[row * HASH_COLUMNS + column + 1];
      byte = (byte << 1) | (left > right ? 1 : 0);
    }
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

/** The number of differing bits between two equal-length hex hashes (0 = same perceptual hash). */
export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length || !/^[0-9a-f]*$/i.test(a + b)) {
    throw new ImgclsError(`hashes must be hex strings of equal length. Received: "${a}", "${b}"`, 'USAGE');
  }
  let distance = 0;
  for (let i = 0; i < a.length; i++) {
    let x = parseInt(a[i], 16) ^ parseInt(b[i], 16);
    while (x) {
      distance += x & 1;
      x >>= 1;
    }
  }
  return distance;
}

/** For each of `length` pixels, the output cells it overlaps among `cells` equal cells, with overlap weights. */
function areaWeights(length: number, cells: number): [number, number][][] {
  const cellSize = length / cells;
  const weights: [number, number][][] = [];
  for (let p = 0; p < length; p++) {
    const entries: [number, number][] = [];
    for (let cell = Math.floor(p / cellSize); cell < cells && cell * cellSize < p + 1; cell++) {
      const overlap = Math.min(p + 1, (cell + 1) * cellSize) - Math.max(p, cell * cellSize);
      if (overlap > 0) entries.push([cell, overlap]);
    }
    weights.push(entries);
  }
  return weights;
}
