import pLimit from 'p-limit';

/** Maps `items` through `task` with at most `limit` tasks running at once; results keep the input order. */
export function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  return pLimit(limit).map(items, task);
}

/** A limiter for tasks that arrive one by one: `limit(task)` runs at most `limit` tasks at once, started in request order. */
export function createLimit(limit: number): <R>(task: () => Promise<R>) => Promise<R> {
  const run = pLimit(limit);
  return (task) => run(task);
}

/**
 * Maps an async stream through `start` one item ahead: the work of item k+1 is under way while the caller handles the
 * result of item k; results come in order. When the caller stops early or a result fails, the work in flight is waited
 * for (never left running) before the generator returns.
 */
export async function* lookAhead<T, R>(source: AsyncIterable<T>, start: (item: T) => Promise<R>): AsyncGenerator<R> {
  let inFlight: Promise<R> | undefined;
  try {
    for await (const item of source) {
      const previous = inFlight;
      inFlight = start(item); // in flight before the previous result is awaited: a failure there still waits for it
      inFlight.catch(() => undefined); // awaited later; a failure must not go unhandled while the item before is handled
      if (previous) yield await previous;
    }
    if (inFlight) {
      const last = inFlight;
      inFlight = undefined;
      yield await last;
    }
  } finally {
    await inFlight?.catch(() => undefined);
  }
}
