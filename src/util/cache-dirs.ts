import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder of imgcls' package.json), found upwards from this file. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * `IMGCLS_CACHE` names one thing: the root of every imgcls cache. Under it, each cache has its own
 * folder: `models/` (generated model files, the backbone's ONNX export) and `features/` (backbone
 * outputs of training images). Unset, each cache keeps its own default place.
 */
export const CACHE_ROOT_ENV = 'IMGCLS_CACHE';

/** The root named by $IMGCLS_CACHE (resolved), or undefined when it is unset or empty. */
export function cacheRoot(): string | undefined {
  const root = process.env[CACHE_ROOT_ENV];
  return root ? path.resolve(root) : undefined;
}

/** Where generated model files are cached: $IMGCLS_CACHE/models, else `<package root>/node_modules/.cache/imgcls`. */
export function imgclsCacheDir(): string {
  const root = cacheRoot();
  return root ? path.join(root, 'models') : path.join(packageRoot(), 'node_modules', '.cache', 'imgcls');
}

/** The default feature cache folder for a run folder: $IMGCLS_CACHE/features, else <parent of outDir>/.imgcls-cache. */
export function defaultCacheDir(outDir: string): string {
  const root = cacheRoot();
  return root ? path.join(root, 'features') : path.join(path.dirname(path.resolve(outDir)), '.imgcls-cache');
}
