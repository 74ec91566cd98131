import { contentHash } from './hash.js';
import type { Dataset } from './types.js';
import { mapLimit } from '../util/limit.js';

/** Files hashed at once (far below the open-file limit). */
const FILE_CONCURRENCY = 16;

/** How many validation items are byte-identical copies of a training item (by content hash). */
export function countLeaks(train: readonly { hash: string }[], valid: readonly { hash: string }[]): number {
  const trainHashes = new Set(train.map((item) => item.hash));
  return valid.filter((item) => trainHashes.has(item.hash)).length;
}

/** Validation files of a dataset whose bytes are also in its training split (unreadable files are left out). */
export async function findLeaks(dataset: Pick<Dataset, 'train' | 'valid'>): Promise<{ leaks: number; validCount: number }> {
  const hashOf = (items: Dataset['train']) => mapLimit(items, FILE_CONCURRENCY, async (item) => ({ hash: await contentHash(item.file).catch(() => `unreadable:${item.file}`) }));
  const [train, valid] = await Promise.all([hashOf(dataset.train), hashOf(dataset.valid)]);
  return { leaks: countLeaks(train, valid), validCount: valid.length };
}

/** The one sentence every front end shows when validation/evaluation images are copies of training images. */
export function leakWarning(leaks: number, validCount: number, layout: Dataset['layout']): string {
  const share = leaks === validCount ? `all ${validCount}` : `${leaks} of ${validCount}`;
  const fix = layout === 'train-val'
    ? 'train on <data>/train alone (imgcls train <data>/train draws a clean seeded split, --valid-pct sets its size) or remove the copies from val/'
    : 'remove the duplicate files (imgcls data report lists them)';
  return `LEAK: ${share} validation images are byte-identical copies of training images, so validation and evaluation scores on them are training scores and mean nothing about new images; for a clean split, ${fix}`;
}
