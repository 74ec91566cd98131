import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, backendInfo, initBackend, type BackendName } from '../../src/backend/backend.js';
import { isImgclsError } from '../../src/errors.js';

// runs first: initBackend caches its choice for the process once it succeeds
test('an unknown forced backend is BACKEND_UNAVAILABLE, and selection still works afterwards', async () => {
  await assert.rejects(initBackend('bogus' as BackendName), (err) => isImgclsError(err, 'BACKEND_UNAVAILABLE'));
  const name = await initBackend();
  assert.ok(BACKEND_ORDER.includes(name));
  assert.equal(tf.getBackend(), name);
});

test('without tfjs-node, selection fails over to wasm with SIMD and says why tensorflow was skipped', async () => {
  const info = await backendInfo();
  assert.equal(info.name, await initBackend());
  assert.match(info.tfjsVersion, /^\d+\.\d+\.\d+$/);
  if (info.name === 'tensorflow') return; // a machine where tfjs-node installs (not these)
  const skippedTensorflow = info.skipped.find((s) => s.name === 'tensorflow');
  assert.ok(skippedTensorflow && skippedTensorflow.reason.length > 0);
  assert.equal(info.name, 'wasm');
  assert.equal(info.simd, true);
  assert.ok(info.threads >= 1);
  assert.match(info.backendVersion ?? '', /^\d+\.\d+\.\d+$/);
});

test('initBackend returns the same choice on every call', async () => {
  const [a, b] = await Promise.all([initBackend(), initBackend()]);
  assert.equal(a, b);
});
