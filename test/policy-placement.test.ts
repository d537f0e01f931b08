// Placement as the integration document and the model matrix write it: pool types (standard,
// premium, dedicated), preemptibility as a property of an allocation on any pool, latency-sensitive
// strikes on dedicated capacity under every policy, and isolated covenants that keep no warm pool.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocatePreemptible,
  applyCovenantChange,
  candidatePools,
  decideAcquire,
  decideIsolated,
  DEFAULT_MODELS,
  defaultContract,
  modelCatalogue,
  planMaintenance,
  planTargets,
  poolTypeAllowed,
  preemptibleAllowed,
  warmTarget,
  type Demand,
  type Lease,
  type PoolSnapshot,
} from "../src/policy";
import type { CovenantPatch } from "../src/schema";

const models = modelCatalogue();
const model = (id: string) => models.get(id)!;
const base = defaultContract("c", models, "x");
const contract = (change: CovenantPatch) => {
  const r = applyCovenantChange(base, change, models, "x");
  if (!r.ok) throw new Error(r.message);
  return r.contract;
};
const NOW = 1_800_000_000_000;

function pool(id: string, tier: string, over: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return { id, tier, status: "available", vramMbPerGpu: 81920, tflopsPerGpu: 312, freeVramMb: 81920 * 8, freeTflops: 312 * 8, pricePerGpuHour: 2.4, preemptiblePricePerGpuHour: 0.72, ...over };
}

// The emulator's default catalogue, in the document's pool types.
const POOLS = [
  pool("standard-us-east", "standard"),
  pool("premium-us-east", "premium", { tflopsPerGpu: 989, pricePerGpuHour: 4.9, preemptiblePricePerGpuHour: 1.47 }),
  pool("dedicated-us-east", "dedicated", { tflopsPerGpu: 989, pricePerGpuHour: 6.5, preemptiblePricePerGpuHour: 1.95 }),
];

const ids = (pools: readonly { id: string }[]) => pools.map((p) => p.id);

describe("pool types (qos.pool_type)", () => {
  it("recommended: each model only on its matrix pool type", () => {
    const matrix: [string, string][] = [
      ["gemma-2b-it", "standard"],
      ["mistral-7b", "standard"],
      ["qwen-14b", "premium"],
      ["qwen-32b", "premium"],
      ["qwen-70b", "dedicated"],
    ];
    for (const [id, type] of matrix) {
      expect(model(id).recommendedTier).toBe(type);
      expect(candidatePools(base, model(id), POOLS).map((p) => p.tier)).toEqual([type]);
    }
  });

  it("any: every type that fits, cheapest slice first", () => {
    const any = contract({ qos: { pool_type: "any" } });
    expect(ids(candidatePools(any, model("qwen-14b"), POOLS))).toEqual(["standard-us-east", "premium-us-east", "dedicated-us-east"]);
    // A pool type the document does not name is only ever used under "any".
    const odd = [...POOLS, pool("spot-us-west", "spot", { pricePerGpuHour: 0.1, preemptiblePricePerGpuHour: 0.1 })];
    expect(ids(candidatePools(base, model("mistral-7b"), odd))).toEqual(["standard-us-east"]);
    expect(ids(candidatePools(any, model("mistral-7b"), odd))[0]).toBe("spot-us-west");
  });

  it("applies to a covenant's own fallback order too, and says why a named pool is out", () => {
    const c = contract({ fallback: ["premium-us-east", "standard-us-east"] });
    const plan = planTargets("homeskillet", c, model("mistral-7b"), false, POOLS, false);
    expect(ids(plan.targets)).toEqual(["standard-us-east"]);
    expect(plan.excluded).toEqual([{ id: "premium-us-east", reason: expect.stringContaining("premium pool; mistral-7b runs on standard") }]);
  });

  it("never offers a pool a model may not run on, whatever the listing (property)", () => {
    const snapshot = fc.record({
      id: fc.string({ minLength: 1, maxLength: 6 }),
      tier: fc.constantFrom("standard", "premium", "dedicated", "spot"),
      status: fc.constantFrom("available", "degraded", "down") as fc.Arbitrary<PoolSnapshot["status"]>,
      vramMbPerGpu: fc.integer({ min: 1024, max: 100_000 }),
      tflopsPerGpu: fc.integer({ min: 1, max: 1000 }),
      freeVramMb: fc.integer({ min: 0, max: 1_000_000 }),
      freeTflops: fc.integer({ min: 0, max: 10_000 }),
      pricePerGpuHour: fc.double({ min: 0.01, max: 10, noNaN: true }),
      preemptiblePricePerGpuHour: fc.double({ min: 0, max: 10, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(snapshot, { maxLength: 6, selector: (p) => p.id }),
        fc.constantFrom(...DEFAULT_MODELS),
        fc.boolean(),
        fc.constantFrom("recommended", "any") as fc.Arbitrary<"recommended" | "any">,
        fc.boolean(),
        (pools, m, latency, poolType, preemptibleOk) => {
          const c = contract({ qos: { pool_type: poolType, preemptible_ok: preemptibleOk } });
          for (const t of planTargets("homeskillet", c, m, latency, pools, false).targets) {
            const p = pools.find((x) => x.id === t.id)!;
            expect(p.status).not.toBe("down");
            expect(p.vramMbPerGpu).toBeGreaterThanOrEqual(m.vramMb);
            expect(poolTypeAllowed(c, m, p, latency)).toBe(true);
            if (poolType === "recommended") expect([m.recommendedTier, ...(latency ? ["dedicated"] : [])]).toContain(p.tier);
            // Preemptible only where the covenant and the matrix allow it, never latency-sensitive.
            if (t.preemptible) expect(preemptibleOk && m.preemptibleOk && !latency).toBe(true);
          }
        },
      ),
    );
  });
});

describe("preemptible allocations", () => {
  it("asks for them on a standard pool where the covenant and the model allow it, at the discounted price", () => {
    const plan = planTargets("homeskillet", base, model("gemma-2b-it"), false, POOLS, false);
    expect(plan.targets).toEqual([{ kind: "pool", id: "standard-us-east", preemptible: true, pricePerHour: expect.closeTo(0.72 * (2048 / 81920), 9) }]);
  });

  it("not where the covenant forbids them, the matrix forbids them, or the covenant's priority is high", () => {
    const std = POOLS[0]!;
    expect(allocatePreemptible(contract({ qos: { preemptible_ok: false } }), model("mistral-7b"), std)).toBe(false);
    expect(allocatePreemptible(contract({ qos: { pool_type: "any" } }), model("qwen-14b"), std)).toBe(false);
    expect(allocatePreemptible(contract({ qos: { priority: "high" } }), model("mistral-7b"), std)).toBe(false);
    expect(allocatePreemptible(base, model("mistral-7b"), std)).toBe(true);
  });

  it("not where the pool sells them at no discount: an eviction would cost a re-run for nothing", () => {
    expect(allocatePreemptible(base, model("mistral-7b"), pool("standard-x", "standard", { preemptiblePricePerGpuHour: 2.4 }))).toBe(false);
    expect(allocatePreemptible(base, model("mistral-7b"), pool("standard-y", "standard", { preemptiblePricePerGpuHour: undefined }))).toBe(false);
  });

  it("the seed rule honours the covenant too", () => {
    const strict = contract({ qos: { preemptible_ok: false }, policy: "seed" });
    expect(planTargets("seed", strict, model("gemma-2b-it"), false, POOLS, false).targets).toMatchObject([{ id: "standard-us-east", preemptible: false }]);
    expect(planTargets("seed", base, model("gemma-2b-it"), false, POOLS, false).targets).toMatchObject([{ id: "standard-us-east", preemptible: true }]);
  });
});

describe("latency-sensitive strikes (every policy)", () => {
  it("homeskillet: dedicated capacity first, never preemptible, the matrix's pools only as fallbacks", () => {
    const plan = planTargets("homeskillet", base, model("mistral-7b"), true, POOLS, true);
    expect(plan.targets.map((t) => [t.id, t.preemptible])).toEqual([
      ["dedicated-us-east", false],
      ["standard-us-east", false],
      ["local", false],
    ]);
    expect(preemptibleAllowed(base, model("mistral-7b"), true)).toBe(false);
  });

  it("goes first to dedicated in a covenant's own order too", () => {
    const c = contract({ fallback: ["standard-us-east", "dedicated-us-east"] });
    expect(ids(planTargets("homeskillet", c, model("gemma-2b-it"), true, POOLS, false).targets)).toEqual(["dedicated-us-east", "standard-us-east"]);
    expect(ids(planTargets("homeskillet", c, model("gemma-2b-it"), false, POOLS, false).targets)).toEqual(["standard-us-east"]);
  });

  it("seed: dedicated", () => {
    expect(planTargets("seed", base, model("mistral-7b"), true, POOLS, false).targets).toMatchObject([{ id: "dedicated-us-east", preemptible: false }]);
  });

  it("falls back to the matrix's pools when no dedicated pool can take it", () => {
    const noDedicated = POOLS.map((p) => (p.tier === "dedicated" ? { ...p, status: "down" as const } : p));
    expect(planTargets("homeskillet", base, model("qwen-14b"), true, noDedicated, false).targets).toMatchObject([{ id: "premium-us-east", preemptible: false }]);
  });
});

describe("isolation per allocation (lease.isolation: per_strike)", () => {
  const isolated = contract({ lease: { isolation: "per_strike", idle_timeout_s: 60 } });
  const busy: Demand = { count: 500, at: NOW, promptTokens: 200, maxTokens: 256 };

  function lease(over: Partial<Lease> = {}): Lease {
    return {
      leaseId: "l1", allocationId: "a1", poolId: "standard-us-east", model: "mistral-7b", vramMb: 6144, tflops: 10, pricePerHour: 0.05,
      preemptible: true, createdAt: NOW - 1000, expiresAt: NOW + 600_000, state: "active", inFlight: 0, strikesServed: 0, busyMs: 0,
      busySince: null, lastUsedAt: NOW - 500, ...over,
    };
  }

  it("keeps no warm leases and pre-allocates none, however busy", () => {
    const shared = contract({ lease: { idle_timeout_s: 60 } });
    expect(warmTarget(model("mistral-7b"), busy, shared, NOW)).toBeGreaterThan(0);
    expect(warmTarget(model("mistral-7b"), busy, isolated, NOW)).toBe(0);
    const plan = planMaintenance([], new Map([["mistral-7b", busy]]), isolated, models, NOW);
    expect(plan.allocate).toEqual([]);
  });

  it("an isolated allocation is born draining: no other strike is started on it, and it goes once idle", () => {
    const own = lease({ state: "draining", inFlight: 1 });
    const need = { model: model("mistral-7b"), promptTokens: 10, maxTokens: 16, latencySensitive: false };
    expect(decideAcquire([own], need, base, NOW).kind).not.toBe("reuse");
    expect(planMaintenance([{ ...own, inFlight: 0 }], new Map(), isolated, models, NOW).release).toEqual(["l1"]);
  });

  it("allocates while the covenant holds fewer than max_leases allocations, then waits", () => {
    const small = contract({ lease: { isolation: "per_strike", max_leases: 2, max_warm_leases: 1 } });
    expect(decideIsolated(1, small)).toEqual({ kind: "allocate" });
    expect(decideIsolated(2, small).kind).toBe("wait");
  });
});
