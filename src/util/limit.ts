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
