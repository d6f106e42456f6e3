/** Storage reads in flight at once while the walk or the node list reads many records. */
const READ_CONCURRENCY = 32;

/** Runs `work` on every item, at most `concurrency` at a time. */
export async function forEachBounded<T>(
  items: T[],
  work: (item: T) => Promise<void>,
  concurrency = READ_CONCURRENCY,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
