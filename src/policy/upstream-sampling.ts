/**
 * When a covenant object reads Hosted.AI's own metrics of its live leases
 * (`GET /api/v1/allocations/{id}/metrics`): each lease at most once per interval, least recently
 * read first, a bounded number per pass. Pure: the object's alarm performs the reads
 * (src/covenant/upstream-sampler.ts), never a strike.
 */

/** Each live lease is read at most this often... */
export const UPSTREAM_SAMPLE_INTERVAL_MS = 15_000;
/** ...and at most this many in one pass; the rest are due at once, in the next pass. */
export const UPSTREAM_SAMPLES_PER_PASS = 8;

export interface SamplePlan {
  /** Allocation ids to read now, least recently read first. */
  sample: string[];
  /** When the next read is due once these are done; null while there is no lease to read. */
  nextAt: number | null;
}

/**
 * When the next read of these leases is due: at once for a lease never read (or not read within
 * the interval), otherwise an interval after its last read; null when there are none.
 * `lastRead` holds when each lease was last read (attempted, answered or not).
 */
export function upstreamSampleDueAt(allocationIds: readonly string[], lastRead: ReadonlyMap<string, number>, intervalMs = UPSTREAM_SAMPLE_INTERVAL_MS): number | null {
  let due: number | null = null;
  for (const id of allocationIds) {
    // Never read: due at 0, that is at once.
    const at = (lastRead.get(id) ?? -intervalMs) + intervalMs;
    if (due === null || at < due) due = at;
  }
  return due;
}

/** The leases to read at `now`, and when the next read is due after them. */
export function planUpstreamSamples(
  allocationIds: readonly string[],
  lastRead: ReadonlyMap<string, number>,
  now: number,
  opts: { intervalMs?: number; perPass?: number } = {},
): SamplePlan {
  const intervalMs = opts.intervalMs ?? UPSTREAM_SAMPLE_INTERVAL_MS;
  const perPass = Math.max(1, opts.perPass ?? UPSTREAM_SAMPLES_PER_PASS);
  const due = [...new Set(allocationIds)]
    .map((id) => ({ id, last: lastRead.get(id) ?? -Infinity }))
    .filter((l) => now - l.last >= intervalMs)
    .sort((a, b) => a.last - b.last || a.id.localeCompare(b.id));
  const sample = due.slice(0, perPass).map((l) => l.id);
  const after = new Map(lastRead);
  for (const id of sample) after.set(id, now);
  const nextAt = upstreamSampleDueAt(allocationIds, after, intervalMs);
  return { sample, nextAt: nextAt === null ? null : Math.max(now, nextAt) };
}
