import { breakerAllows, closedBreaker, recordFailure, recordSuccess, startProbe, type Breaker, type BreakerVerdict } from "../policy";

/**
 * The covenant's circuit breakers, one per target, persisted on every change so they survive
 * the object being evicted: a restarted object keeps avoiding a target it saw failing.
 */
export class BreakerBook {
  private readonly breakers = new Map<string, Breaker>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS breakers (target TEXT PRIMARY KEY, body TEXT NOT NULL)`);
    for (const row of sql.exec<{ target: string; body: string }>(`SELECT target, body FROM breakers`)) {
      // A probe cannot still be running in a fresh object.
      this.breakers.set(row.target, { ...(JSON.parse(row.body) as Breaker), probeInFlight: false });
    }
  }

  get(target: string, now: number): Breaker {
    return this.breakers.get(target) ?? closedBreaker(now);
  }

  /** Asks whether a call may go to the target; a granted probe is recorded as in flight. */
  admit(target: string, now: number): BreakerVerdict {
    const b = this.get(target, now);
    const verdict = breakerAllows(b, now);
    if (verdict.allowed && verdict.probe) this.save(target, startProbe(b, now));
    return verdict;
  }

  success(target: string, now: number): void {
    const b = this.get(target, now);
    const next = recordSuccess(b, now);
    if (next !== b) this.save(target, next);
  }

  failure(target: string, now: number, reason: string): void {
    this.save(target, recordFailure(this.get(target, now), now, reason));
  }

  /** Gives up a probe slot without a verdict (the attempt never reached the target). */
  abandonProbe(target: string, now: number): void {
    const b = this.get(target, now);
    if (b.probeInFlight) this.save(target, { ...b, probeInFlight: false, phase: "open" });
  }

  all(now: number): { target: string; breaker: Breaker }[] {
    return [...this.breakers.entries()].map(([target, breaker]) => ({ target, breaker: breaker ?? closedBreaker(now) }));
  }

  private save(target: string, b: Breaker): void {
    this.breakers.set(target, b);
    this.sql.exec(`INSERT OR REPLACE INTO breakers (target, body) VALUES (?, ?)`, target, JSON.stringify(b));
  }
}
