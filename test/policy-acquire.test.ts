// The acquire decision from predictions (src/policy/leases.ts), SLOs (slo.ts), the burst warm pool
// (warm.ts) and the lease book both the covenant object and the simulator run (lease-book.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addedBilledSeconds,
  applyCovenantChange,
  burstTarget,
  decideAcquire,
  defaultContract,
  estimateServiceMs,
  LeaseBook,
  meetsSlo,
  modelCatalogue,
  normalizeContract,
  observeArrival,
  planMaintenance,
  predictTiming,
  wakeAfterStrike,
  warmTarget,
  type Demand,
  type Lease,
  type StrikeNeed,
} from "../src/policy";
import { leaseAt } from "./support/leases";
import type { CovenantPatch } from "../src/schema";

const models = modelCatalogue();
const mistral = models.get("mistral-7b")!;
const NOW = 1_800_000_000_000;
const base = defaultContract("c", models, "2026-01-01T00:00:00Z");

function contract(change: CovenantPatch) {
  const r = applyCovenantChange(base, change, models, "2026-01-01T00:00:00Z");
  if (!r.ok) throw new Error(r.message);
  return r.contract;
}

const lease = (over: Partial<Lease> = {}) => leaseAt(NOW, over);

// Pessimistic mistral-7b: 57 tokens/s decoding. Alone: ~470 ms; allocating first adds 150 ms.
const short: StrikeNeed = { model: mistral, promptTokens: 100, maxTokens: 16, latencySensitive: false };

describe("covenants stored before SLO bounds and predictions existed", () => {
  it("read with no TTFT or TPOT bound and the default share delay, warm-ahead off", () => {
    const { ttft_slo_ms: _t, tpot_slo_ms: _p, ...oldQos } = base.qos;
    const { share_delay_ms: _s, warm_ahead: _w, ...oldLease } = base.lease;
    const stored = { ...base, qos: oldQos, lease: { ...oldLease, max_leases: 16 } } as unknown as typeof base;
    const read = normalizeContract(stored);
    expect(read.qos).toMatchObject({ ttft_slo_ms: null, tpot_slo_ms: null, latency_slo_ms: 2000 });
    // What the tenant had is kept; what is new gets its default.
    expect(read.lease).toMatchObject({ max_leases: 16, share_delay_ms: 100, warm_ahead: "off" });
  });
});

describe("predictions", () => {
  it("agree with the pessimistic service estimate alone and slow by √n when shared", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8000 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 16 }), (prompt, out, n) => {
        const alone = predictTiming(mistral, prompt, out);
        expect(alone.serviceMs).toBeCloseTo(estimateServiceMs(mistral, prompt, out), 6);
        const shared = predictTiming(mistral, prompt, out, 1, n);
        expect(shared.serviceMs).toBeCloseTo(alone.serviceMs * Math.sqrt(n), 6);
        expect(shared.tpotMs).toBeCloseTo(alone.tpotMs * Math.sqrt(n), 9);
        expect(alone.ttftMs).toBeLessThanOrEqual(alone.serviceMs + 1e-9);
      }),
    );
  });

  it("a strike meets its SLO only when every bound it has holds", () => {
    const slo = { latency_slo_ms: 2000, ttft_slo_ms: 300, tpot_slo_ms: 50 };
    expect(meetsSlo({ e2eMs: 1900, ttftMs: 250, tpotMs: 40 }, slo)).toBe(true);
    expect(meetsSlo({ e2eMs: 2100, ttftMs: 250, tpotMs: 40 }, slo)).toBe(false);
    expect(meetsSlo({ e2eMs: 1900, ttftMs: 350, tpotMs: 40 }, slo)).toBe(false);
    expect(meetsSlo({ e2eMs: 1900, ttftMs: 250, tpotMs: 60 }, slo)).toBe(false);
    // One token: no per-token time to bound. No TTFT/TPOT bound: only end to end counts.
    expect(meetsSlo({ e2eMs: 1900, ttftMs: 250, tpotMs: null }, slo)).toBe(true);
    expect(meetsSlo({ e2eMs: 1900, ttftMs: 1800, tpotMs: 900 }, { latency_slo_ms: 2000, ttft_slo_ms: null, tpot_slo_ms: null })).toBe(true);
  });
});

describe("acquire from predictions", () => {
  it("takes an idle lease before a busy one: no allocation wait, nothing shared", () => {
    const leases = [lease({ leaseId: "busy", inFlight: 2, lastUsedAt: NOW }), lease({ leaseId: "idle" })];
    expect(decideAcquire(leases, short, contract({ lease: { share_delay_ms: 600_000 } }), NOW)).toEqual({ kind: "reuse", leaseId: "idle" });
  });

  it("among idle leases, the one the strike fits into a second already paid for", () => {
    // 900 ms of "paid" is left for a strike of ~470 ms; 100 ms on the other, though it was used last.
    const roomy = lease({ leaseId: "roomy", createdAt: NOW - 10_100, lastUsedAt: NOW - 5_000 });
    const tight = lease({ leaseId: "tight", createdAt: NOW - 10_900, lastUsedAt: NOW - 100 });
    expect(addedBilledSeconds(roomy, NOW, 470)).toBe(0);
    expect(addedBilledSeconds(tight, NOW, 470)).toBe(1);
    expect(decideAcquire([tight, roomy], short, base, NOW)).toEqual({ kind: "reuse", leaseId: "roomy" });
  });

  it("shares a busy slice only when predicted to finish no later than on a slice of its own plus share_delay_ms", () => {
    const busy = [lease({ leaseId: "busy", inFlight: 2 })];
    // Three on the slice: ~810 ms, against 150 + 470 ms alone.
    expect(decideAcquire(busy, short, contract({ lease: { share_delay_ms: 0 } }), NOW)).toEqual({ kind: "allocate" });
    expect(decideAcquire(busy, short, contract({ lease: { share_delay_ms: 400 } }), NOW)).toEqual({ kind: "reuse", leaseId: "busy" });
    // A measured allocation time moves the comparison: a slow upstream makes sharing the faster option.
    expect(decideAcquire(busy, { ...short, allocateMs: 600 }, contract({ lease: { share_delay_ms: 0 } }), NOW)).toEqual({ kind: "reuse", leaseId: "busy" });
    // A latency-sensitive strike never trades time for cost.
    expect(decideAcquire(busy, { ...short, latencySensitive: true }, contract({ lease: { share_delay_ms: 400 } }), NOW)).toEqual({ kind: "allocate" });
  });

  it("the least busy slice slows the strike least", () => {
    const leases = [lease({ leaseId: "three", inFlight: 3 }), lease({ leaseId: "one", inFlight: 1 })];
    expect(decideAcquire(leases, short, contract({ lease: { share_delay_ms: 600_000 } }), NOW)).toEqual({ kind: "reuse", leaseId: "one" });
  });

  it("never shares when the prediction breaks a bound of the SLO, even at the lease limit", () => {
    const busy = lease({ leaseId: "busy", inFlight: 2 });
    const anyDelay = { share_delay_ms: 600_000 };
    // Per-token time on three: 17.5 ms × √3 ≈ 30 ms.
    expect(decideAcquire([busy], short, contract({ qos: { tpot_slo_ms: 25 }, lease: anyDelay }), NOW)).toEqual({ kind: "allocate" });
    expect(decideAcquire([busy], short, contract({ qos: { tpot_slo_ms: 35 }, lease: anyDelay }), NOW)).toEqual({ kind: "reuse", leaseId: "busy" });
    // 1.3 s alone, 2.2 s on three: past the 2 s end-to-end SLO.
    const long = { ...short, maxTokens: 64 };
    expect(decideAcquire([busy], long, contract({ lease: anyDelay }), NOW)).toEqual({ kind: "allocate" });
    const limit = contract({ lease: { ...anyDelay, max_leases: 1, max_warm_leases: 1 } });
    expect(decideAcquire([busy], long, limit, NOW).kind).toBe("wait");
  });

  it("uses the classifier's output estimate: a short answer under a large max_tokens may share", () => {
    const busy = [lease({ leaseId: "busy", inFlight: 1 })];
    const big = { ...short, maxTokens: 2048 };
    const c = contract({ lease: { share_delay_ms: 200 } });
    expect(decideAcquire(busy, big, c, NOW)).toEqual({ kind: "allocate" });
    expect(decideAcquire(busy, { ...big, outputTokens: 4 }, c, NOW)).toEqual({ kind: "reuse", leaseId: "busy" });
  });

  it("at the lease limit a slower shared slot beats waiting for one", () => {
    const limit = contract({ lease: { share_delay_ms: 0, max_leases: 1, max_warm_leases: 1 } });
    expect(decideAcquire([lease({ leaseId: "busy", inFlight: 1 })], short, limit, NOW)).toEqual({ kind: "reuse", leaseId: "busy" });
  });

  it("joins an allocation on its way when that is no slower (plus share_delay_ms), or when it may not allocate", () => {
    const pending = { forModel: 1, claims: 0, total: 1 };
    expect(decideAcquire([], short, contract({ lease: { share_delay_ms: 600_000 } }), NOW, pending)).toEqual({ kind: "join" });
    expect(decideAcquire([], short, contract({ lease: { share_delay_ms: 0 } }), NOW, pending)).toEqual({ kind: "allocate" });
    const limit = contract({ lease: { share_delay_ms: 0, max_leases: 1, max_warm_leases: 1 } });
    expect(decideAcquire([], short, limit, NOW, pending)).toEqual({ kind: "join" });
    // Its slots are all claimed: nothing to join.
    expect(decideAcquire([], short, limit, NOW, { forModel: 1, claims: 3, total: 1 }).kind).toBe("wait");
  });
});

describe("the burst warm pool (lease.warm_ahead: burst)", () => {
  const burst = contract({ lease: { warm_ahead: "burst", max_warm_leases: 8 } });
  const arrivals = (n: number, gapMs: number): Demand => {
    let d: Demand | undefined;
    for (let i = 0; i < n; i++) d = observeArrival(d, NOW + i * gapMs, 1000, 100);
    return d!;
  };

  it("grows with the arrival rate, within max_warm_leases, and is gone seconds after the burst", () => {
    const slow = arrivals(3, 1000);
    const fast = arrivals(40, 50);
    const end = NOW + 40 * 50;
    expect(burstTarget(mistral, fast, burst, end)).toBeGreaterThan(burstTarget(mistral, slow, burst, NOW + 3000));
    expect(burstTarget(mistral, fast, burst, end)).toBeLessThanOrEqual(8);
    expect(burstTarget(mistral, fast, burst, end + 20_000)).toBe(0);
    // Off (the default) and idle timeout 0: nothing is kept ahead of demand.
    expect(warmTarget(mistral, fast, base, end)).toBe(0);
    expect(warmTarget(mistral, fast, burst, end)).toBe(burstTarget(mistral, fast, burst, end));
  });

  it("housekeeping allocates the burst pool and re-plans within a second, never in the past", () => {
    const fast = arrivals(40, 50);
    const end = NOW + 40 * 50;
    const plan = planMaintenance([], new Map([["mistral-7b", fast]]), burst, models, end);
    expect(plan.allocate).toEqual([{ model: "mistral-7b", count: burstTarget(mistral, fast, burst, end) }]);
    expect(plan.nextAt).toBeGreaterThan(end);
    expect(plan.nextAt! - end).toBeLessThanOrEqual(1000);
  });
});

describe("the lease book", () => {
  const request = { model: mistral, poolId: "standard-us-east", preemptible: true, promptTokens: 100, maxTokens: 16, latencySensitive: false, ephemeral: false };

  it("takes the reused lease's slot at once, so two decisions never hand out one slot twice", () => {
    const book = new LeaseBook([lease({ leaseId: "only" })]);
    const c = contract({ lease: { share_delay_ms: 0, max_leases: 1, max_warm_leases: 1 } });
    expect(book.acquire(request, c, NOW)).toEqual({ kind: "reuse", leaseId: "only" });
    expect(book.get("only")!.inFlight).toBe(1);
    // The next strike sees it busy: with no room to allocate, it shares it.
    expect(book.acquire(request, c, NOW)).toEqual({ kind: "reuse", leaseId: "only" });
    expect(book.get("only")!.inFlight).toBe(2);
    book.finish("only", NOW + 500);
    expect(book.get("only")!.inFlight).toBe(1);
  });

  it("counts allocations on their way and the strikes waiting for them, per pool, model and kind", () => {
    const book = new LeaseBook();
    const answered = book.beginAllocation("standard-us-east", "mistral-7b", true, false);
    const isolated = book.beginAllocation("standard-us-east", "mistral-7b", true, true);
    expect(book.pendingFor("standard-us-east", "mistral-7b", true)).toEqual({ forModel: 1, claims: 0, total: 2 });
    expect(book.pendingFor("standard-us-east", "mistral-7b", false)).toEqual({ forModel: 0, claims: 0, total: 2 });
    const unclaim = book.claimPending("standard-us-east", "mistral-7b", true);
    expect(book.pendingFor("standard-us-east", "mistral-7b", true).claims).toBe(1);
    unclaim();
    answered();
    isolated();
    expect(book.pendingFor("standard-us-east", "mistral-7b", true)).toEqual({ forModel: 0, claims: 0, total: 0 });
  });

  it("predicts a pool's allocation time from what it measured", () => {
    const book = new LeaseBook();
    expect(book.needFor(request).allocateMs).toBe(150);
    book.observeAllocation("standard-us-east", 80);
    expect(book.needFor(request).allocateMs).toBe(80);
    book.observeAllocation("standard-us-east", 180);
    expect(book.needFor(request).allocateMs).toBeCloseTo(100, 9);
    expect(book.needFor({ ...request, poolId: "premium-us-east" }).allocateMs).toBe(150);
    expect(book.needFor({ ...request, outputTokens: 4000 }).outputTokens).toBe(16);
  });

  it("the seed rule allocates every time, and a strike that may not run preemptible never takes a preemptible lease", () => {
    const book = new LeaseBook([lease({ leaseId: "p", preemptible: true })]);
    expect(book.acquire({ ...request, ephemeral: true }, base, NOW)).toEqual({ kind: "allocate" });
    expect(book.acquire({ ...request, preemptible: false }, base, NOW)).toEqual({ kind: "allocate" });
    expect(book.acquire(request, base, NOW)).toEqual({ kind: "reuse", leaseId: "p" });
  });

  it("an arrival that starts a burst asks for housekeeping; what is held or on its way counts", () => {
    const burst = contract({ lease: { warm_ahead: "burst", max_warm_leases: 8 } });
    const book = new LeaseBook();
    for (let i = 0; i < 40; i++) book.observe("mistral-7b", 1000, 100, NOW + i * 50);
    const at = NOW + 39 * 50;
    expect(book.wantsWarmLeases(mistral, base, at)).toBe(false);
    expect(book.wantsWarmLeases(mistral, burst, at)).toBe(true);
    const target = warmTarget(mistral, book.demand.get("mistral-7b"), burst, at);
    for (let i = 0; i < target; i++) book.beginAllocation("standard-us-east", "mistral-7b", true, false);
    expect(book.wantsWarmLeases(mistral, burst, at)).toBe(false);
  });

  it("after a strike, housekeeping is due when the soonest lease can go back, never in the past", () => {
    const l = lease({ createdAt: NOW - 2_300, lastUsedAt: NOW });
    // Idle timeout 0: back just before the end of the billed second it is in.
    expect(wakeAfterStrike([l], base, NOW)).toBe(NOW - 2_300 + 3_000 - 150);
    expect(wakeAfterStrike([], base, NOW)).toBe(NOW + 60_000);
    expect(wakeAfterStrike([lease({ createdAt: NOW - 950, lastUsedAt: NOW })], base, NOW)).toBeGreaterThanOrEqual(NOW);
  });
});
