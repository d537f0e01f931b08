import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addedBilledSeconds,
  applyCovenantChange,
  bestWarmLease,
  BILLING_STEP_MS,
  idleReleaseAt,
  RELEASE_MARGIN_MS,
  arrivalRate,
  checkBudget,
  decideAcquire,
  defaultContract,
  finishOnLease,
  leaseFits,
  leaseUtilization,
  modelCatalogue,
  predictOption,
  observeArrival,
  planMaintenance,
  startOnLease,
  warmTarget,
  type Demand,
  type Lease,
} from "../src/policy";
import { leaseAt } from "./support/leases";

const models = modelCatalogue();
const mistral = models.get("mistral-7b")!;
const contract = defaultContract("c", models, "2026-01-01T00:00:00Z");
const NOW = 1_800_000_000_000;

const lease = (over: Partial<Lease> = {}) => leaseAt(NOW, over);

const need = { model: mistral, promptTokens: 100, maxTokens: 64, latencySensitive: false };

describe("acquire", () => {
  it("never reuses a lease of another model, a full one, a draining one, or one about to expire", () => {
    const leases = [
      lease({ leaseId: "other", model: "qwen-14b" }),
      lease({ leaseId: "full", inFlight: contract.lease.max_concurrency }),
      lease({ leaseId: "draining", state: "draining" }),
      lease({ leaseId: "expiring", expiresAt: NOW + 1000 }),
    ];
    expect(decideAcquire(leases, need, contract, NOW)).toEqual({ kind: "allocate" });
  });

  it("waits once the covenant holds max_leases", () => {
    const full = Array.from({ length: contract.lease.max_leases }, (_, i) => lease({ leaseId: `l${i}`, model: "qwen-14b" }));
    expect(decideAcquire(full, need, contract, NOW).kind).toBe("wait");
  });

  it("picks the lease its documented order puts first: idle, then fewest billed seconds added, then most recently used, then id", () => {
    const arbLease = fc.record({
      leaseId: fc.constantFrom("a", "b", "c", "d", "e", "f"),
      model: fc.constantFrom("mistral-7b", "qwen-14b"),
      createdAt: fc.integer({ min: NOW - 10_000, max: NOW }),
      expiresAt: fc.integer({ min: NOW, max: NOW + 600_000 }),
      lastUsedAt: fc.integer({ min: NOW - 3, max: NOW }),
      inFlight: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(arbLease, { maxLength: 32 }), fc.integer({ min: 1, max: 4000 }), (raw, maxTokens) => {
        const leases = raw.map((over) => lease(over));
        const n = { ...need, maxTokens };
        // The order written out as a sort, independently of the one-pass scan.
        const serviceMs = predictOption(n, 0, 1).e2eMs;
        const added = (l: Lease) => addedBilledSeconds(l, NOW, serviceMs);
        const expected = leases
          .filter((l) => leaseFits(l, n, contract, NOW))
          .sort((a, b) => a.inFlight - b.inFlight || (a.inFlight === 0 ? added(a) - added(b) : 0) || b.lastUsedAt - a.lastUsedAt || a.leaseId.localeCompare(b.leaseId))[0];
        expect(bestWarmLease(leases, n, contract, NOW)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("tracks busy time across overlapping strikes", () => {
    let l = lease({ createdAt: NOW, busyMs: 0 });
    l = startOnLease(l, NOW + 1000);
    l = startOnLease(l, NOW + 2000);
    l = finishOnLease(l, NOW + 3000);
    l = finishOnLease(l, NOW + 4000);
    expect(l).toMatchObject({ inFlight: 0, busyMs: 3000, busySince: null, strikesServed: 2 });
    expect(leaseUtilization(l, NOW + 6000)).toBeCloseTo(0.5);
  });
});

describe("warm pool", () => {
  it("measures arrival rate and forgets it over time", () => {
    let d: Demand | undefined;
    for (let i = 0; i < 120; i++) d = observeArrival(d, NOW + i * 500, 100, 64);
    expect(arrivalRate(d!, NOW + 60_000)).toBeGreaterThan(1);
    expect(arrivalRate(d!, NOW + 60_000 + 600_000)).toBeLessThan(0.01);
  });

  it("keeps more leases warm for more demand, within the covenant's limit", () => {
    const patient = applyCovenantChange(contract, { lease: { idle_timeout_s: 60 } }, models, "x");
    if (!patient.ok) throw new Error("fixture");
    const contract60 = patient.contract;
    const demandAt = (perSecond: number): Demand => ({ count: perSecond * 60, at: NOW, promptTokens: 500, maxTokens: 256 });
    const low = warmTarget(mistral, demandAt(0.1), contract60, NOW);
    const high = warmTarget(mistral, demandAt(5), contract60, NOW);
    expect(low).toBe(1);
    expect(high).toBeGreaterThan(low);
    expect(warmTarget(mistral, demandAt(1000), contract60, NOW)).toBe(contract60.lease.max_warm_leases);
    expect(warmTarget(mistral, undefined, contract60, NOW)).toBe(0);
    // A burst that ended a whole idle timeout ago keeps nothing warm, whatever the decaying rate says.
    expect(warmTarget(mistral, demandAt(5), contract60, NOW + 61_000)).toBe(0);
  });

  it("releases idle surplus and expired leases, drains near expiry, tops up to the target", () => {
    const leases = [
      lease({ leaseId: "idle", lastUsedAt: NOW - 120_000 }),
      lease({ leaseId: "expired", expiresAt: NOW - 1 }),
      lease({ leaseId: "expiring", expiresAt: NOW + 5_000, inFlight: 1 }),
    ];
    const plan = planMaintenance(leases, new Map(), contract, models, NOW);
    expect(plan.release.sort()).toEqual(["expired", "idle"]);
    expect(plan.drain).toEqual(["expiring"]);
    expect(plan.allocate).toEqual([]);

    const busy = new Map([["qwen-14b", { count: 600, at: NOW, promptTokens: 500, maxTokens: 256 }]]);
    const patient = applyCovenantChange(contract, { lease: { idle_timeout_s: 60 } }, models, "x");
    if (!patient.ok) throw new Error("fixture");
    const topUp = planMaintenance([], busy, patient.contract, models, NOW);
    expect(topUp.allocate).toEqual([{ model: "qwen-14b", count: expect.any(Number) }]);
    expect(topUp.nextAt).not.toBeNull();
  });

  it("never plans to keep an expired lease or exceed max_leases", () => {
    const arbLease = fc.record({
      leaseId: fc.uuid(),
      model: fc.constantFrom("gemma-2b-it", "mistral-7b", "qwen-14b"),
      expiresAt: fc.integer({ min: NOW - 100_000, max: NOW + 2_000_000 }),
      lastUsedAt: fc.integer({ min: NOW - 500_000, max: NOW }),
      inFlight: fc.integer({ min: 0, max: 4 }),
      state: fc.constantFrom("active", "draining") as fc.Arbitrary<"active" | "draining">,
    });
    const arbDemand = fc.dictionary(fc.constantFrom("gemma-2b-it", "mistral-7b", "qwen-14b"), fc.record({ count: fc.double({ min: 0, max: 5000, noNaN: true }), at: fc.constant(NOW), promptTokens: fc.constant(200), maxTokens: fc.constant(128) }));
    fc.assert(
      fc.property(fc.array(arbLease, { maxLength: 20 }), arbDemand, (raw, dem) => {
        const leases = raw.map((r) => lease(r));
        const plan = planMaintenance(leases, new Map(Object.entries(dem)), contract, models, NOW);
        for (const l of leases) if (l.expiresAt <= NOW) expect(plan.release).toContain(l.leaseId);
        const allocated = plan.allocate.reduce((n, a) => n + a.count, 0);
        expect(leases.length - plan.release.length + allocated).toBeLessThanOrEqual(Math.max(contract.lease.max_leases, leases.length - plan.release.length));
        expect(plan).toEqual(planMaintenance(leases, new Map(Object.entries(dem)), contract, models, NOW));
      }),
    );
  });
});

describe("billing-aware idle release", () => {
  it("releases an idle lease at the end of the second it is billed for, never before its idle timeout", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 10_000 }), (created, usedAfter, idleMs) => {
        const l = { createdAt: created, lastUsedAt: created + usedAfter };
        const at = idleReleaseAt(l, idleMs);
        expect(at).toBeGreaterThanOrEqual(l.lastUsedAt + idleMs);
        // Lands RELEASE_MARGIN_MS before a billed-second boundary, within one second of the earliest moment.
        expect((at + RELEASE_MARGIN_MS - created) % BILLING_STEP_MS).toBe(0);
        expect(at - (l.lastUsedAt + idleMs)).toBeLessThan(BILLING_STEP_MS + 1);
      }),
    );
  });
});

describe("budgets", () => {
  const limited = applyCovenantChange(contract, { cost: { budget_usd_per_day: 1, max_usd_per_strike: 0.1 } }, models, "x");
  if (!limited.ok) throw new Error("fixture");

  it("refuses a strike over the per-strike limit", () => {
    expect(checkBudget(limited.contract, { spentToday: 0, accrued: 0, reserved: 0 }, 0.2, NOW)).toMatchObject({ type: "strike_cost_limit", limit_usd: 0.1 });
  });

  it("counts spend, accrued lease cost and reservations against the day", () => {
    expect(checkBudget(limited.contract, { spentToday: 0.5, accrued: 0.2, reserved: 0.25 }, 0.04, NOW)).toBeNull();
    const r = checkBudget(limited.contract, { spentToday: 0.5, accrued: 0.2, reserved: 0.25 }, 0.06, NOW);
    expect(r).toMatchObject({ type: "budget_exhausted", limit_usd: 1, spent_usd: 0.7 });
    expect(Date.parse(r!.resets_at!) % 86_400_000).toBe(0);
  });

  it("admits a sequence of reservations only while they fit", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.1, noNaN: true }), { maxLength: 60 }), (estimates) => {
        let reserved = 0;
        for (const e of estimates) if (!checkBudget(limited.contract, { spentToday: 0, accrued: 0, reserved }, e, NOW)) reserved += e;
        expect(reserved).toBeLessThanOrEqual(1 + 1e-9);
      }),
    );
  });
});
