/**
 * Runs `fn` over items with at most `limit` in flight; results in input order. A failure stops
 * new items from starting and is thrown only once every started one has finished, so nothing
 * is still working on files when the caller goes on (and releases its lock).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const first = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (first) throw first.reason;
  return out;
}
