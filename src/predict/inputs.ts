import { promises as fs } from 'node:fs';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { usageError } from '../errors.js';
import { isImageFile } from '../data/scan.js';

/**
 * The files named by predict's inputs, in order: a file as given (even without an image extension,
 * so a bad file is reported rather than ignored), a folder's image files recursively, a glob's
 * matching image files (tinyglobby syntax); folders and globs are sorted, hidden files skipped.
 * A path that does not exist is kept, so that it yields a per-file error.
 */
export async function expandInputs(inputs: string | readonly string[]): Promise<string[]> {
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
      const found = await glob(input, { onlyFiles: true, absolute: true });
      files.push(...found.filter(isImageFile).sort());
    } else {
      files.push(path.resolve(input));
    }
  }
  return files;
}
