import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImgclsError, isImgclsError, usageError } from '../src/errors.js';

test('ImgclsError carries code, file and hint', () => {
  const err = new ImgclsError('bad image', 'IMAGE_TRUNCATED', '/x/a.jpg', 'Re-export the file.');
  assert.equal(err.code, 'IMAGE_TRUNCATED');
  assert.equal(err.file, '/x/a.jpg');
  assert.ok(isImgclsError(err, 'IMAGE_TRUNCATED'));
  assert.ok(!isImgclsError(err, 'USAGE'));
  assert.ok(!isImgclsError(new Error('x')));
  assert.equal(usageError('epochs must be > 0').code, 'USAGE');
});
