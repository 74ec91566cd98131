import pLimit from 'p-limit';

/** Maps `items` through `task` with at most `limit` tasks running at once; results keep the input order. */
export function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  return pLimit(limit).map(items, task);
}
