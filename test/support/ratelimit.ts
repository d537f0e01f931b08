// Reading the rate-limit headers back, as a client would.

/** Milliseconds in a duration written as OpenAI writes `x-ratelimit-reset-*` (`1m30.5s`, `20ms`). */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:(\d+)ms)?$/.exec(text);
  if (!m || text === "") throw new Error(`not a duration: ${text}`);
  return Number(m[1] ?? 0) * 3_600_000 + Number(m[2] ?? 0) * 60_000 + Number(m[3] ?? 0) * 1000 + Number(m[4] ?? 0);
}

/** The `x-ratelimit-*` headers of a response. */
export function rateLimitHeadersOf(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([k]) => k.startsWith("x-ratelimit-")));
}

/**
 * A burst against a requests_per_minute bucket admits exactly its limit when it is decided before
 * one request refills (60 s ÷ limit), and on a slow machine at most what refilled while it was
 * decided: never more. `elapsedMs` is the burst's wall time, an upper bound on that window.
 */
export function expectBurstAdmitted(admitted: number, refused: number, total: number, limit: number, elapsedMs: number): void {
  const refilled = Math.floor((elapsedMs * limit) / 60_000);
  if (admitted !== limit) console.warn(`burst: ${admitted} admitted of limit ${limit} over ${elapsedMs} ms (refill allows ${refilled} more)`);
  if (admitted < limit || admitted > limit + refilled) throw new Error(`burst admitted ${admitted}: expected ${limit}${refilled ? ` to ${limit + refilled}` : ""} (limit ${limit}, ${elapsedMs} ms)`);
  if (admitted + refused !== total) throw new Error(`burst: ${admitted} admitted + ${refused} refused != ${total} sent`);
}
