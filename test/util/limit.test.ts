import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLimit, lookAhead, mapLimit } from '../../src/util/limit.js';

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

test('lookAhead: item k+1 is started before item k is handed out; results in order; an early stop or a failure waits for the work in flight', async () => {
  async function* source(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  const log: string[] = [];
  const start = (fail?: number) => async (i: number) => {
    log.push(`start ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 5 * (3 - (i % 3)))); // later items finish sooner
    log.push(`end ${i}`);
    if (i === fail) throw new Error(`item ${i} failed`);
    return i * 10;
  };
  const results: number[] = [];
  for await (const result of lookAhead(source(4), start())) {
    log.push(`got ${result / 10}`);
    results.push(result);
  }
  assert.deepEqual(results, [0, 10, 20, 30]);
  assert.ok(log.indexOf('start 1') < log.indexOf('got 0'), log.join(', '));
  assert.ok(log.indexOf('start 3') < log.indexOf('got 2'), log.join(', '));

  log.length = 0;
  for await (const result of lookAhead(source(4), start())) if (result === 0) break;
  assert.ok(log.includes('end 1'), `the item in flight when the caller stopped finished first: ${log.join(', ')}`);
  assert.ok(!log.includes('start 2'), 'nothing new starts after the stop');

  log.length = 0;
  await assert.rejects(async () => {
    for await (const _ of lookAhead(source(4), start(1))) { /* consume */ }
  }, /item 1 failed/);
  assert.ok(log.includes('end 2'), `the item in flight at the failure finished first: ${log.join(', ')}`);
});
