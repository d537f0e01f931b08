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
 * How many requests a requests_per_minute bucket of `limit` had refilled when it refused `res`
 * (from its reset header): below one, the refusal came before the bucket could admit another.
 */
export function refilledAt(res: Response, limit: number): number {
  return limit - (parseDuration(res.headers.get("x-ratelimit-reset-requests")!) * limit) / 60_000;
}
