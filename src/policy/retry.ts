/** Attempts on one target before falling back to the next (the first try included). */
export const ATTEMPTS_PER_TARGET = 3;

/**
 * Delay before retrying on the same target: exponential from 50 ms, "full jitter" (uniform in
 * [0, cap)) so retries from many strikes spread out, at least the upstream's Retry-After, and
 * never past the deadline. `unit` is a uniform [0, 1) draw supplied by the caller.
 */
export function retryDelayMs(attempt: number, retryAfterS: number | undefined, remainingMs: number, unit: number): number {
  const cap = Math.min(2_000, 50 * 2 ** attempt);
  const jittered = cap * unit;
  const floor = retryAfterS !== undefined ? retryAfterS * 1000 : 0;
  return Math.min(Math.max(jittered, floor), Math.max(0, remainingMs));
}

/** Whether trying the same target again can help. */
export function isRetryable(status: number, type: string): boolean {
  if (type === "capacity_exhausted") return false; // go elsewhere rather than hammer a full pool
  if (type === "local_node_busy") return false; // it waited for the node until its deadline allowed no more
  return status === 0 || status === 429 || status >= 500 || type === "allocation_gone";
}

/** The overall deadline of a strike: what the covenant's SLO allows, with room for fallbacks. */
export function strikeDeadlineMs(latencySloMs: number): number {
  return Math.max(10_000, latencySloMs * 10);
}

/** A streaming attempt must produce its first token within this long, or the chain moves on. */
export function streamFirstTokenMs(estimatedServiceMs: number, remainingMs: number): number {
  return Math.max(1_000, Math.min(remainingMs, 5_000 + estimatedServiceMs / 4));
}

/** After the first token, a silence this long means the stream stalled. */
export const STREAM_IDLE_MS = 10_000;
