import { promises as fs } from 'node:fs';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { ImgclsError, usageError } from '../errors.js';
import { isImageFile } from '../data/scan.js';

/**
 * The files named by predict's inputs, in order: a file as given (even without an image extension,
 * so a bad file is reported rather than ignored), a folder's image files recursively, a glob's
 * matching image files (tinyglobby syntax); folders and globs are sorted, hidden files skipped.
 * A path that does not exist is kept, so that it yields a per-file error (with `strict`: PATH_NOT_FOUND,
 * and NO_IMAGES for a glob that matches no image). A file named twice (a folder plus an overlapping
 * glob) is listed once, where it first appears.
 */
export async function expandInputs(inputs: string | readonly string[], options: { strict?: boolean } = {}): Promise<string[]> {
  const list = typeof inputs === 'string' ? [inputs] : [...inputs];
  if (list.some((input) => typeof input !== 'string' || input === '')) {
    throw usageError('inputs must be non-empty paths or glob patterns.');
  }
  const files: string[] = [];
  for (const input of list) {
    const stat = await fs.stat(input).catch(() => undefined);
    if (stat?.isDirectory()) {
      const found = await glob('**/*', { cwd: input, onlyFiles: true, absolute: true, followSymbolicLinks: true });
      files.push(...found.filter(isImageFile).sort());
    } else if (stat === undefined && isDynamicPattern(input)) {
      const found = (await glob(input, { onlyFiles: true, absolute: true })).filter(isImageFile);
      if (found.length === 0 && options.strict) {
        throw new ImgclsError(`the pattern ${input} matches no image file`, 'NO_IMAGES', input,
          `Check the pattern from ${process.cwd()}; quote it ("photos/**/*.jpg") so the shell does not expand it first.`);
      }
      files.push(...found.sort());
    } else {
      if (stat === undefined && options.strict) {
        throw new ImgclsError(`no such file or folder: ${input}`, 'PATH_NOT_FOUND', input, `Check the path (relative to ${process.cwd()}).`);
      }
      files.push(path.resolve(input));
    }
  }
  return [...new Set(files)];
}
