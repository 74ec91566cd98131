import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { CACHE_ROOT_ENV, cacheRoot, defaultCacheDir, imgclsCacheDir } from '../../src/util/cache-dirs.js';
import { resolveTrainConfig } from '../../src/train/config.js';

describe('cache folders: IMGCLS_CACHE is one root, each cache has its own folder under it', () => {
  const saved = process.env[CACHE_ROOT_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[CACHE_ROOT_ENV];
    else process.env[CACHE_ROOT_ENV] = saved;
  });

  it('unset: generated models in node_modules/.cache/imgcls, features beside the run folder', () => {
    delete process.env[CACHE_ROOT_ENV];
    assert.equal(cacheRoot(), undefined);
    assert.match(imgclsCacheDir(), /node_modules[\\/]\.cache[\\/]imgcls$/);
    assert.equal(defaultCacheDir('runs/a'), path.resolve('runs', '.imgcls-cache'));
    assert.equal(resolveTrainConfig({ data: 'd', outDir: 'runs/a' }).cacheDir, path.resolve('runs', '.imgcls-cache'));
  });

  it('set: models/ and features/ under the root, never the same folder', () => {
    process.env[CACHE_ROOT_ENV] = 'some/cache';
    const root = path.resolve('some/cache');
    assert.equal(cacheRoot(), root);
    assert.equal(imgclsCacheDir(), path.join(root, 'models'));
    assert.equal(defaultCacheDir('runs/a'), path.join(root, 'features'));
    assert.notEqual(imgclsCacheDir(), defaultCacheDir('runs/a'));
    assert.equal(resolveTrainConfig({ data: 'd', outDir: 'runs/a' }).cacheDir, path.join(root, 'features'));
    // an explicit cacheDir still wins
    assert.equal(resolveTrainConfig({ data: 'd', outDir: 'runs/a', cacheDir: 'mine' }).cacheDir, path.resolve('mine'));
  });
});
