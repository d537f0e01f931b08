/**
 * Bounded fan-out. Every place the gateway asks many Durable Objects at once (a scrape, the
 * dashboard, MCP's search over a tenant's covenants) goes through here, so the number of calls in
 * flight never grows with the number of objects, however many a tenant creates.
 */

/** `fn` over every item, at most `limit` at a time, results in the items' order. Rejects as `fn` does. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`mapLimit: limit must be at least 1, got ${limit}`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The first item for which `fn` gives a value, asking at most `limit` at a time and starting no
 * new call once one is found. Undefined when none does.
 */
export async function findLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R | undefined>): Promise<R | undefined> {
  let found: R | undefined;
  await mapLimit(items, limit, async (item) => {
    if (found !== undefined) return;
    const r = await fn(item);
    if (r !== undefined && found === undefined) found = r;
  });
  return found;
}
