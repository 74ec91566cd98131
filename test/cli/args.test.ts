// The CLI's one number parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toNumber } from '../../src/cli/args.js';
import { isImgclsError } from '../../src/errors.js';

const usage = (err: unknown) => isImgclsError(err) && err.code === 'USAGE';

test('toNumber returns undefined when absent and the number when valid', () => {
  assert.equal(toNumber('lr', undefined), undefined);
  assert.equal(toNumber('lr', '0.001'), 0.001);
  assert.equal(toNumber('epochs', '12', true), 12);
  assert.equal(toNumber('seed', '-3', { integer: true }), -3);
  assert.equal(toNumber('valid-pct', '0.99', { min: 0, max: 0.99 }), 0.99);
});

test('toNumber rejects blanks, non-numbers, fractions for integers and values out of range with USAGE', () => {
  assert.throws(() => toNumber('lr', ''), usage);
  assert.throws(() => toNumber('lr', ' '), usage);
  assert.throws(() => toNumber('lr', 'abc'), usage);
  assert.throws(() => toNumber('lr', 'Infinity'), usage);
  assert.throws(() => toNumber('epochs', '1.5', true), usage);
  assert.throws(() => toNumber('top-k', '0', { integer: true, min: 1 }), /--top-k must be a positive integer\. Received: 0/);
  assert.throws(() => toNumber('valid-pct', '1', { min: 0, max: 0.99 }), /--valid-pct must be a number in \[0, 0\.99\]/);
  assert.throws(() => toNumber('seed', 'x', { integer: true, command: 'sample' }), (err: unknown) => usage(err) && (err as { hint?: string }).hint === 'See "imgcls sample --help".');
});
