import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLimit, mapLimit } from '../../src/util/limit.js';

/** A task that records how many tasks run at once and finishes after `ms`. */
function tracker() {
  let active = 0;
  const seen = { peak: 0, started: [] as number[] };
  const task = (id: number, ms: number, fail = false) => async () => {
    seen.started.push(id);
    seen.peak = Math.max(seen.peak, ++active);
    await new Promise((resolve) => setTimeout(resolve, ms));
    active--;
    if (fail) throw new Error(`task ${id} failed`);
    return id;
  };
  return { seen, task };
}

test('createLimit: at most `limit` tasks at once, started in request order; a failure frees its slot', async () => {
  const { seen, task } = tracker();
  const limit = createLimit(2);
  const results = await Promise.allSettled([5, 1, 4, 2, 3].map((ms, id) => limit(task(id, ms, id === 1))));
  assert.equal(seen.peak, 2);
  assert.deepEqual(seen.started, [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
});

test('mapLimit: results keep the input order whatever order tasks finish in', async () => {
  const { seen, task } = tracker();
  const results = await mapLimit([30, 1, 20, 2, 10, 3], 3, (ms, i) => task(i, ms)());
  assert.deepEqual(results, [0, 1, 2, 3, 4, 5]);
  assert.equal(seen.peak, 3);
});
