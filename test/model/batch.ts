import assert from 'node:assert/strict';
import { loadImage } from '../../src/data/preprocess.js';
import type { ImageBatch } from '../../src/data/types.js';

/** The files preprocessed with the default 224×224 preprocessing, as one batch. */
export async function batchOf(files: string[]): Promise<ImageBatch> {
  const images = await Promise.all(files.map((f) => loadImage(f)));
  const data = new Float32Array(images.length * 224 * 224 * 3);
  images.forEach((image, i) => data.set(image, i * image.length));
  return { data, count: files.length, inputSize: 224, files, labels: files.map(() => -1), skipped: [] };
}

/** The largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
