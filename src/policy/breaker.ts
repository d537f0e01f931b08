/**
 * Circuit breakers, one per upstream target (a pool, or the local node), as pure state
 * transitions so the covenant object can persist them and the simulator can replay them:
 * closed → (N consecutive failures) → open → (cool-down) → half-open with one probe →
 * closed on success, open again for twice as long on failure.
 */
export type BreakerPhase = "closed" | "open" | "half_open";

export interface Breaker {
  phase: BreakerPhase;
  consecutiveFailures: number;
  /** Times it opened in a row without a successful probe: sets the cool-down. */
  trips: number;
  openUntil: number | null;
  probeInFlight: boolean;
  lastFailure: string | null;
  changedAt: number;
}

export const BREAKER_FAILURE_THRESHOLD = 5;
export const BREAKER_BASE_OPEN_MS = 5_000;
export const BREAKER_MAX_OPEN_MS = 120_000;

export function closedBreaker(now: number): Breaker {
  return { phase: "closed", consecutiveFailures: 0, trips: 0, openUntil: null, probeInFlight: false, lastFailure: null, changedAt: now };
}

export type BreakerVerdict = { allowed: true; probe: boolean } | { allowed: false; retryAt: number | null };

/** May a call go to this target now? An open breaker past its cool-down lets one probe through. */
export function breakerAllows(b: Breaker, now: number): BreakerVerdict {
  switch (b.phase) {
    case "closed":
      return { allowed: true, probe: false };
    case "open":
      return b.openUntil !== null && now >= b.openUntil ? { allowed: true, probe: true } : { allowed: false, retryAt: b.openUntil };
    case "half_open":
      return b.probeInFlight ? { allowed: false, retryAt: null } : { allowed: true, probe: true };
  }
}

export function startProbe(b: Breaker, now: number): Breaker {
  return { ...b, phase: "half_open", probeInFlight: true, changedAt: now };
}

export function recordSuccess(b: Breaker, now: number): Breaker {
  if (b.phase === "closed" && b.consecutiveFailures === 0) return b;
  return closedBreaker(now);
}

export function recordFailure(b: Breaker, now: number, reason: string): Breaker {
  if (b.phase === "half_open" || b.phase === "open") {
    const trips = b.trips + 1;
    return { ...b, phase: "open", trips, probeInFlight: false, openUntil: now + openMs(trips), lastFailure: reason, changedAt: now };
  }
  const failures = b.consecutiveFailures + 1;
  if (failures >= BREAKER_FAILURE_THRESHOLD) {
    return { ...b, phase: "open", consecutiveFailures: failures, trips: 1, openUntil: now + openMs(1), lastFailure: reason, changedAt: now };
  }
  return { ...b, consecutiveFailures: failures, lastFailure: reason };
}

function openMs(trips: number): number {
  return Math.min(BREAKER_MAX_OPEN_MS, BREAKER_BASE_OPEN_MS * 2 ** (trips - 1));
}

/**
 * Which failures say the target is unhealthy. A full pool, a rate limit or a bad request are the
 * target working as designed, and so is the covenant's own queue for the local node
 * (`local_node_busy`: the node was busy with this covenant's other strikes, never asked); errors,
 * timeouts, lost connections and a pool that is down are not.
 */
export function countsAgainstBreaker(status: number, type: string): boolean {
  if (type === "capacity_exhausted" || type === "local_node_busy") return false;
  if (status === 429) return false;
  return status === 0 || status >= 500;
}
