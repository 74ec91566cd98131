import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ImgclsError, usageError } from '../errors.js';
import { IMAGE_EXTENSIONS, isImageFile } from './scan.js';

/** What undoAddToClass needs to remove exactly the copy addToClass made (plain data: it can cross a worker boundary). */
export interface AddToClassUndo {
  /** The copy that was written. */
  file: string;
  /** SHA-256 of the copy's bytes when it was written: a copy changed since is never removed. */
  sha256: string;
  /** The class folder, when addToClass created it (undo removes it again if it is empty). */
  createdFolder?: string;
}

/** The result of addToClass. */
export interface AddedToClass {
  /** Where the copy landed (the source's name, or the name with a ` (2)`, ` (3)`… suffix). */
  file: string;
  className: string;
  /** True when the class folder did not exist and was created. */
  createdFolder: boolean;
  undo: AddToClassUndo;
}

/** Most suffixes tried before giving up on a free name. */
const MAX_SUFFIX = 10_000;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `name (n).ext` for n ≥ 2, the name itself for n = 1. */
function candidateName(base: string, ext: string, n: number): string {
  return n === 1 ? `${base}${ext}` : `${base} (${n})${ext}`;
}

function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

function readOnlyError(folder: string, cause: unknown): ImgclsError {
  return new ImgclsError(
    `cannot add an image to ${folder}: the folder is read-only`,
    'DATASET_READ_ONLY',
    folder,
    `Make the folder writable (e.g. chmod u+w "${folder}") or copy the dataset somewhere you can write, and point imgcls at that copy.`,
    { cause },
  );
}

/**
 * Copies `file` into `trainDir/<className>/` (the training folder of a folder-per-class dataset). Never
 * overwrites: when the name is taken the copy gets a ` (2)`, ` (3)`… suffix. A missing class folder is
 * created. A read-only folder throws DATASET_READ_ONLY naming it. Returns where the copy landed and an undo token.
 */
export async function addToClass(file: string, trainDir: string, className: string): Promise<AddedToClass> {
  if (!className || className !== path.basename(className) || className === '.' || className === '..' || className.startsWith('.')) {
    throw usageError(`className must be a plain folder name. Received: "${className}"`);
  }
  if (!isImageFile(file)) {
    throw new ImgclsError(`${file} is not an image file`, 'IMAGE_UNSUPPORTED', file, `Image extensions are ${IMAGE_EXTENSIONS.join(' ')}.`);
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (cause) {
    throw new ImgclsError(`cannot read ${file}: ${(cause as Error).message}`, 'IMAGE_UNREADABLE', file, 'Check that the file exists and is readable.', { cause });
  }
  const trainStat = await fs.stat(trainDir).catch(() => undefined);
  if (!trainStat?.isDirectory()) {
    throw new ImgclsError(`the training folder ${trainDir} does not exist`, 'DATASET_NOT_FOUND', trainDir,
      'Set the dataset folder (root/train/<class>/… or root/<class>/…) and try again.');
  }
  const folder = path.join(trainDir, className);
  let createdFolder = false;
  try {
    const stat = await fs.stat(folder).catch(() => undefined);
    if (!stat) {
      await fs.mkdir(folder);
      createdFolder = true;
    } else if (!stat.isDirectory()) {
      throw new ImgclsError(`${folder} is a file, not a class folder`, 'DATASET_LAYOUT', folder, 'Rename or move that file; each class is a folder.');
    }
  } catch (err) {
    if (isPermissionError(err)) throw readOnlyError(trainDir, err);
    throw err;
  }
  const ext = path.extname(file);
  const base = path.basename(file, ext);
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const target = path.join(folder, candidateName(base, ext, n));
    try {
      // 'wx': fails with EEXIST instead of replacing a file that appeared meanwhile
      await fs.writeFile(target, bytes, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      if (createdFolder) await fs.rmdir(folder).catch(() => undefined);
      if (isPermissionError(err)) throw readOnlyError(folder, err);
      throw err;
    }
    return {
      file: target,
      className,
      createdFolder,
      undo: { file: target, sha256: sha256(bytes), ...(createdFolder ? { createdFolder: folder } : {}) },
    };
  }
  throw new ImgclsError(`no free name for ${path.basename(file)} in ${folder}`, 'DATASET_LAYOUT', folder, 'Rename the file before adding it.');
}

/** What undoAddToClass did. */
export type UndoOutcome = 'removed' | 'missing' | 'changed';

/**
 * Removes the copy addToClass made, only when it is still there unchanged ('changed': it was edited since, and
 * is kept; 'missing': already gone). Removes the class folder too when addToClass created it and it is now empty.
 */
export async function undoAddToClass(undo: AddToClassUndo): Promise<UndoOutcome> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(undo.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  if (sha256(bytes) !== undo.sha256) return 'changed';
  try {
    await fs.unlink(undo.file);
  } catch (err) {
    if (isPermissionError(err)) throw readOnlyError(path.dirname(undo.file), err);
    throw err;
  }
  if (undo.createdFolder) await fs.rmdir(undo.createdFolder).catch(() => undefined); // only if empty
  return 'removed';
}

