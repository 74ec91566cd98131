import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { csvField, displayPath } from '../../src/cli/predict.js';

test('csvField quotes fields with commas, quotes or line breaks (RFC 4180)', () => {
  assert.equal(csvField('plain.jpg'), 'plain.jpg');
  assert.equal(csvField('a,b.jpg'), '"a,b.jpg"');
  assert.equal(csvField('say "hi".jpg'), '"say ""hi"".jpg"');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(0.5), '0.5');
});

test('displayPath shows paths inside the working directory relative, others absolute', () => {
  assert.equal(displayPath(path.join(process.cwd(), 'x', 'y.jpg')), path.join('x', 'y.jpg'));
  const outside = path.resolve(process.cwd(), '..', 'elsewhere.jpg');
  assert.equal(displayPath(outside), outside);
});
