import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder of imgcls' package.json), found upwards from this file. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Where generated files are cached: IMGCLS_CACHE, else `<package root>/node_modules/.cache/imgcls`. */
export function imgclsCacheDir(): string {
  return process.env.IMGCLS_CACHE || path.join(packageRoot(), 'node_modules', '.cache', 'imgcls');
}

/** The default feature cache folder for a run folder: $IMGCLS_CACHE, else <parent of outDir>/.imgcls-cache. */
export function defaultCacheDir(outDir: string): string {
  return process.env.IMGCLS_CACHE ? path.resolve(process.env.IMGCLS_CACHE) : path.join(path.dirname(path.resolve(outDir)), '.imgcls-cache');
}
