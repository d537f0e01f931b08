// The budget check and its reservation (src/covenant/strike-costs.ts) when strikes arrive
// together: each awaits its estimate (the pools' prices), so a check that did not reserve in the
// same turn would let every one of them through before any had reserved.
import { describe, expect, it } from "vitest";
import { Ledger } from "../src/covenant/ledger";
import type { LeaseManager } from "../src/covenant/lease-manager";
import type { CovenantStore } from "../src/covenant/storage";
import { withinLimits } from "../src/covenant/strike-costs";
import type { StrikeInput } from "../src/covenant/types";
import { applyCovenantChange, defaultContract, modelCatalogue, type PoolSnapshot } from "../src/policy";
import type { CovenantPatch } from "../src/schema";

const models = modelCatalogue();
const NOW_ISO = "2026-01-01T00:00:00Z";

function contract(change: CovenantPatch) {
  const r = applyCovenantChange(defaultContract("c", models, NOW_ISO), change, models, NOW_ISO);
  if (!r.ok) throw new Error(r.message);
  return r.contract;
}

const pool: PoolSnapshot = { id: "standard-us-east", tier: "standard", status: "available", vramMbPerGpu: 81920, tflopsPerGpu: 312, freeVramMb: 500_000, freeTflops: 5000, pricePerGpuHour: 2 };

/**
 * A covenant with no warm lease, whose pool prices arrive only when `open()` is called: every
 * strike started before then is suspended at the same await.
 */
function heldPrices() {
  let open!: () => void;
  const prices = new Promise<PoolSnapshot[]>((resolve) => (open = () => resolve([pool])));
  const leases = { list: () => [], poolSnapshot: () => prices } as unknown as LeaseManager;
  const ledger = new Ledger({ spentBetween: () => 0 } as unknown as CovenantStore, () => []);
  return { leases, ledger, open };
}

const input = (i: number): StrikeInput => ({
  strikeId: `s${i}`, tenant: "t", covenantId: "c", promptText: "x", promptTokens: 10, maxTokens: 64, temperature: 0.7, latencySensitive: false,
});

/** What one strike for `model`, asked alone, reserves: its estimate. */
async function estimateAlone(model: string, c: ReturnType<typeof contract>): Promise<number> {
  const { leases, ledger, open } = heldPrices();
  open();
  const r = await withinLimits({ leases, ledger, models }, models.get(model)!, input(0), { contract: c, policy: "homeskillet" });
  if (!r.ok) throw new Error("a lone strike should be admitted");
  return ledger.reserved;
}

describe("the budget check under concurrency", () => {
  it("admits only as many strikes arriving together as the day's budget covers, and reserves each", async () => {
    const unit = await estimateAlone("mistral-7b", contract({}));
    expect(unit).toBeGreaterThan(0);
    // Room for three and a half strikes: three are admitted, the other seven refused.
    const c = contract({ cost: { budget_usd_per_day: unit * 3.5 } });
    const { leases, ledger, open } = heldPrices();
    const pending = Array.from({ length: 10 }, (_, i) => withinLimits({ leases, ledger, models }, models.get("mistral-7b")!, input(i), { contract: c, policy: "homeskillet" }));
    open();
    const results = await Promise.all(pending);
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.refusal.budget)).toEqual(Array(7).fill("budget_usd_per_day"));
    expect(ledger.reserved).toBeCloseTo(unit * 3, 12);
    expect(ledger.reserved).toBeLessThanOrEqual(unit * 3.5);
  });

  it("degrades together, too: each strike moved to a smaller model reserves before the next is checked", async () => {
    const base: CovenantPatch = { models: ["mistral-7b", "gemma-2b-it"], cost: { on_limit: "degrade" } };
    const big = await estimateAlone("mistral-7b", contract(base));
    const small = await estimateAlone("gemma-2b-it", contract(base));
    // Room for one strike on the bigger model (a second would not fit), then two on the smaller one.
    expect(big).toBeGreaterThan(small * 2.5);
    const budget = big + small * 2.5;
    const c = contract({ ...base, cost: { ...base.cost, budget_usd_per_day: budget } });
    const { leases, ledger, open } = heldPrices();
    const pending = Array.from({ length: 8 }, (_, i) => withinLimits({ leases, ledger, models }, models.get("mistral-7b")!, input(i), { contract: c, policy: "homeskillet" }));
    open();
    const results = await Promise.all(pending);
    const admitted = results.flatMap((r) => (r.ok ? [r.model.id] : []));
    expect(admitted.sort()).toEqual(["gemma-2b-it", "gemma-2b-it", "mistral-7b"]);
    expect(ledger.reserved).toBeLessThanOrEqual(budget);
  });
});

describe("a strike whose price cannot be known", () => {
  /** A covenant object that has never listed pools, whose listing now fails (shared by every strike waiting on it). */
  function failedListing(spentToday = 0) {
    const listing = Promise.reject(new Error("hostedai unreachable"));
    listing.catch(() => {});
    const leases = { list: () => [], poolSnapshot: () => listing } as unknown as LeaseManager;
    const ledger = new Ledger({ spentBetween: () => spentToday } as unknown as CovenantStore, () => []);
    return { leases, ledger };
  }

  it("is admitted for the local node only, never onto a pool as if free, when its covenant has a cost limit", async () => {
    for (const cost of [{ budget_usd_per_day: 0.002 }, { max_usd_per_strike: 0.001 }]) {
      const { leases, ledger } = failedListing();
      const c = contract({ cost });
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => withinLimits({ leases, ledger, models }, models.get("mistral-7b")!, input(i), { contract: c, policy: "homeskillet" })),
      );
      for (const r of results) expect(r).toEqual({ ok: true, model: models.get("mistral-7b"), poolsPriced: false });
      expect(ledger.reserved).toBe(0);
    }
  });

  it("is still refused when the day's budget is already spent", async () => {
    const { leases, ledger } = failedListing(0.003);
    const r = await withinLimits({ leases, ledger, models }, models.get("mistral-7b")!, input(0), { contract: contract({ cost: { budget_usd_per_day: 0.002 } }), policy: "homeskillet" });
    expect(r).toMatchObject({ ok: false, refusal: { type: "budget_exhausted" } });
  });

  it("may go anywhere when nothing limits its cost, or when its covenant names only the local node", async () => {
    for (const change of [{}, { fallback: ["local"], cost: { budget_usd_per_day: 0.002 } }] as CovenantPatch[]) {
      const { leases, ledger } = failedListing();
      const r = await withinLimits({ leases, ledger, models }, models.get("mistral-7b")!, input(0), { contract: contract(change), policy: "homeskillet" });
      expect(r).toMatchObject({ ok: true, poolsPriced: true });
    }
  });
});
