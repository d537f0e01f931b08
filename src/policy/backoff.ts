/**
 * How long to wait before asking a full pool again: exponential from 100 ms, capped at 2 s and at
 * the upstream's Retry-After, never past the deadline, with "equal jitter" so a burst of waiting
 * strikes does not retry in lockstep. `unit` is a uniform [0, 1) draw supplied by the caller.
 */
export function capacityBackoffMs(attempt: number, retryAfterS: number | undefined, remainingMs: number, unit: number): number {
  const exp = Math.min(2000, 100 * 2 ** Math.min(attempt, 10));
  const capped = retryAfterS !== undefined ? Math.min(exp, retryAfterS * 1000) : exp;
  const jittered = capped / 2 + (capped / 2) * unit;
  return Math.max(0, Math.min(jittered, remainingMs));
}
