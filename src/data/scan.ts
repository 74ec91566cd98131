import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ImgclsError, usageError } from '../errors.js';
import type { Dataset, ImageItem } from './types.js';
import { seededRandom } from '../util/random.js';

/** File extensions (lower case, with the dot) that count as images. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  '.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff',
]);

/** Folder names accepted for the validation split of the train/val layout. */
export const VALID_FOLDER_NAMES: readonly string[] = Object.freeze(['val', 'valid']);

/** Options of scanDataset. */
export interface ScanOptions {
  /** Share of each class held out for validation when the root has no val/ folder, in [0, 1). Default 0.2. */
  validPct?: number;
  /** Seed of the stratified split. Default 42. */
  seed?: number;
}

const LAYOUT_HINT =
  'Use root/train/<class>/… with root/val/<class>/…, or root/<class>/… (then a validation split is drawn).';

/** True when the file name ends in one of IMAGE_EXTENSIONS (case-insensitive). */
export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

export { seededRandom };

/** The name of the folder holding `file`: the label of an image in a folder-per-class layout. */
export const labelFromParent = (file: string): string => path.basename(path.dirname(file));

/**
 * Indices of a seeded, stratified train/validation split: each class is shuffled on its own and
 * round(n × validPct) of its items go to validation (at least one, and at least one left for
 * training, when the class has two or more items and validPct > 0). Both lists are sorted.
 */
export function stratifiedSplit(
  labels: readonly number[],
  options: { validPct: number; seed: number },
): { train: number[]; valid: number[] } {
  const { validPct, seed } = options;
  validateSplitOptions(validPct, seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => {
    const members = byClass.get(label) ?? [];
    members.push(index);
    byClass.set(label, members);
  });
  const random = seededRandom(seed);
  const train: number[] = [];
  const valid: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    // Fisher–Yates with the seeded generator: the split depends only on (labels, seed).
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j], members[i]];
    }
    let validCount = Math.round(members.length * validPct);
    if (validPct > 0 && members.length >= 2) validCount = Math.min(Math.max(validCount, 1), members.length - 1);
    valid.push(...members.slice(0, validCount));
    train.push(...members.slice(validCount));
  }
  return { train: train.sort((a, b) => a - b), valid: valid.sort((a, b) => a - b) };
}

function validateSplitOptions(validPct: number, seed: number): void {
  if (!(typeof validPct === 'number' && validPct >= 0 && validPct < 1)) {
    throw usageError(`validPct must be a number in [0, 1). Received: ${validPct}`, 'For example 0.2 holds out 20% of each class.');
  }
  if (!Number.isInteger(seed)) throw usageError(`seed must be an integer. Received: ${seed}`);
}

/** Every file under `dir` (recursively, hidden entries skipped), split into image files and others; both sorted. */
export async function listImageFiles(dir: string): Promise<{ images: string[]; ignored: string[] }> {
  const images: string[] = [];
  const ignored: string[] = [];
  async function walk(folder: string): Promise<void> {
    const entries = await fs.readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() || entry.isSymbolicLink()) (isImageFile(full) ? images : ignored).push(full);
    }
  }
  await walk(dir);
  return { images: images.sort(), ignored: ignored.sort() };
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/** Reads the classes of one folder-per-class directory: sorted names and their files. */
async function readClassFolders(dir: string): Promise<{ classNames: string[]; files: string[][]; ignored: string[] }> {
  const classNames = await subfolders(dir);
  if (classNames.length < 2) {
    const { images } = await listImageFiles(dir);
    const loose = (await fs.readdir(dir)).filter((name) => isImageFile(name));
    if (classNames.length === 0 && loose.length > 0) {
      throw new ImgclsError(`${dir} holds images directly, not in one folder per class`, 'DATASET_LAYOUT', dir, LAYOUT_HINT);
    }
    throw new ImgclsError(
      `${dir} has ${classNames.length} class folder${classNames.length === 1 ? '' : 's'} (${images.length} images); at least 2 are needed`,
      'TOO_FEW_CLASSES',
      dir,
      `Add one folder per class. ${LAYOUT_HINT}`,
    );
  }
  const files: string[][] = [];
  const ignored: string[] = [];
  for (const name of classNames) {
    const listing = await listImageFiles(path.join(dir, name));
    if (listing.images.length === 0) {
      throw new ImgclsError(
        `class folder "${name}" has no images${listing.ignored.length ? ` (${listing.ignored.length} other files)` : ''}`,
        'EMPTY_CLASS',
        path.join(dir, name),
        `Add images (${IMAGE_EXTENSIONS.join(' ')}) to it, or remove the folder.`,
      );
    }
    files.push(listing.images);
    ignored.push(...listing.ignored);
  }
  return { classNames, files, ignored };
}

/** Images directly in `dir` (not in a class folder): a dataset ignores them, so the user is told. */
async function looseImages(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.') && isImageFile(e.name)).map((e) => path.join(dir, e.name)).sort();
}

function toItems(files: string[][]): ImageItem[] {
  return files.flatMap((classFiles, label) => classFiles.map((file) => ({ file, label })));
}

/**
 * Scans a dataset root and returns its sorted class names and labelled train/validation files.
 * Layouts: root/train/<class> + root/val/<class> (or valid/); or root/<class> (or only root/train/<class>)
 * with a seeded stratified split.
 */
export async function scanDataset(root: string, options: ScanOptions = {}): Promise<Dataset> {
  const validPct = options.validPct ?? 0.2;
  const seed = options.seed ?? 42;
  validateSplitOptions(validPct, seed);
  const absRoot = path.resolve(root);
  const stat = await fs.stat(absRoot).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new ImgclsError(
      stat ? `dataset root is a file, not a folder: ${absRoot}` : `dataset folder not found: ${absRoot}`,
      'DATASET_NOT_FOUND',
      absRoot,
      `Check the path. ${LAYOUT_HINT}`,
    );
  }
  const top = await subfolders(absRoot);
  const validNames = VALID_FOLDER_NAMES.filter((name) => top.includes(name));
  if (validNames.length > 1) {
    throw new ImgclsError(`${absRoot} has both ${validNames.map((n) => `${n}/`).join(' and ')}`, 'DATASET_LAYOUT', absRoot,
      'Keep one validation folder (val/ or valid/).');
  }
  const hasTrain = top.includes('train');
  if (!hasTrain && validNames.length === 1) {
    throw new ImgclsError(`${absRoot} has ${validNames[0]}/ but no train/`, 'DATASET_LAYOUT', absRoot, LAYOUT_HINT);
  }

  if (hasTrain && validNames.length === 1) {
    const trainDir = path.join(absRoot, 'train');
    const validDir = path.join(absRoot, validNames[0]);
    const train = await readClassFolders(trainDir);
    const validClasses = await subfolders(validDir);
    const missing = train.classNames.filter((name) => !validClasses.includes(name));
    const extra = validClasses.filter((name) => !train.classNames.includes(name));
    if (missing.length > 0 || extra.length > 0) {
      throw new ImgclsError(
        `train/ and ${validNames[0]}/ have different classes` +
          (missing.length ? `; missing from ${validNames[0]}/: ${missing.join(', ')}` : '') +
          (extra.length ? `; only in ${validNames[0]}/: ${extra.join(', ')}` : ''),
        'DATASET_LAYOUT',
        validDir,
        `Give ${validNames[0]}/ exactly the class folders of train/ (${train.classNames.join(', ')}).`,
      );
    }
    const valid = await readClassFolders(validDir);
    return {
      root: absRoot,
      classNames: train.classNames,
      train: toItems(train.files),
      valid: toItems(valid.files),
      layout: 'train-val',
      ignored: [...train.ignored, ...valid.ignored],
      loose: [...await looseImages(absRoot), ...await looseImages(trainDir), ...await looseImages(validDir)],
    };
  }

  const classDir = hasTrain ? path.join(absRoot, 'train') : absRoot;
  const all = await readClassFolders(classDir);
  const items = toItems(all.files);
  const split = stratifiedSplit(items.map((item) => item.label), { validPct, seed });
  return {
    root: absRoot,
    classNames: all.classNames,
    train: split.train.map((i) => items[i]),
    valid: split.valid.map((i) => items[i]),
    layout: 'auto-split',
    ignored: all.ignored,
    loose: [...await looseImages(absRoot), ...(hasTrain ? await looseImages(classDir) : [])],
  };
}
