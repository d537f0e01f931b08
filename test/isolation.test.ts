// Complete isolation (lease.isolation: "per_strike"): every strike on an allocation of its own,
// never shared or reused, no warm pool, released when the strike ends — and priced honestly: the
// strike pays the whole allocation's bill, which reconciles with the emulator's own billing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantStatus, covenantUsage, createCovenant, deleteCovenant } from "./support/covenants";
import { call, liveAllocationsOf, strike } from "./support/gateway";

interface EndedAllocation {
  allocation_id: string;
  status: string;
  billed_seconds: number;
  cost_usd: number;
  price_per_hour: number;
  metadata: Record<string, string>;
}

/** The emulator's own record of a covenant's ended allocations and what each was billed. */
async function billedAllocationsOf(covenantId: string): Promise<EndedAllocation[]> {
  const out: EndedAllocation[] = [];
  for (const status of ["released", "expired", "preempted"]) {
    const res = await env.HOSTEDAI.fetch(`http://hostedai.test/admin/allocations?status=${status}`);
    const { allocations } = (await res.json()) as { allocations: EndedAllocation[] };
    out.push(...allocations.filter((a) => a.metadata.workload_id === covenantId));
  }
  return out;
}

const cents = (usd: number) => Math.round(usd * 100);

describe("lease.isolation: per_strike", () => {
  it("runs each strike on its own allocation, concurrent ones too, keeps nothing warm, and charges each strike its allocation's whole bill", async () => {
    // An idle timeout and a warm pool that a shared covenant would use: an isolated one must not.
    const { id } = await createCovenant({ models: ["mistral-7b", "gemma-2b-it"], lease: { isolation: "per_strike", idle_timeout_s: 60, max_warm_leases: 4 } });
    const ask = (i: number, model = "mistral-7b") => strike({ covenant_id: id, model, prompt: `isolated ${i}`, max_tokens: 24 });

    const concurrent = await Promise.all([0, 1, 2, 3].map((i) => ask(i)));
    const sequential = [];
    for (let i = 4; i < 6; i++) sequential.push(await ask(i, i === 5 ? "gemma-2b-it" : "mistral-7b"));
    const responses = [...concurrent, ...sequential];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const strikes = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json())));

    // Never shared, never reused: one allocation per strike, concurrent strikes included.
    expect(new Set(strikes.map((s) => s.allocation_id)).size).toBe(strikes.length);
    expect(strikes.every((s) => !s.lease_reused)).toBe(true);
    // Released as each strike ended; nothing kept warm, nothing pre-allocated.
    expect(await liveAllocationsOf(id)).toEqual([]);
    expect((await covenantStatus(id)).leases).toEqual([]);

    // The emulator's own billing: each allocation billed on release (billed seconds × price).
    const bills = await billedAllocationsOf(id);
    expect(bills.map((b) => b.allocation_id).sort()).toEqual(strikes.map((s) => s.allocation_id).sort());
    for (const s of strikes) {
      const bill = bills.find((b) => b.allocation_id === s.allocation_id)!;
      expect(bill.status).toBe("released");
      expect(bill.billed_seconds).toBeGreaterThanOrEqual(1);
      expect(bill.cost_usd).toBeCloseTo((bill.billed_seconds * bill.price_per_hour) / 3600, 9);
      // The strike's price is the whole allocation's bill, not a share of it.
      expect(s.cost_usd).toBeCloseTo(bill.cost_usd, 9);
    }
    // The usage API reconciles with the emulator to the cent, and counts the seconds it billed.
    const usage = await covenantUsage(id);
    const billed = bills.reduce((sum, b) => sum + b.cost_usd, 0);
    expect(usage.strikes).toBe(strikes.length);
    expect(cents(usage.total_usd)).toBe(cents(billed));
    expect(usage.total_usd).toBeCloseTo(billed, 9);
    expect(usage.by_pool.reduce((n, p) => n + p.allocation_seconds, 0)).toBeCloseTo(bills.reduce((n, b) => n + b.billed_seconds, 0), 6);

    // The alarm's housekeeping comes and goes: still nothing warm (a shared covenant would keep leases for this demand).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await liveAllocationsOf(id)).toEqual([]);
    expect((await billedAllocationsOf(id)).length).toBe(strikes.length);
    await deleteCovenant(id);
  });

  it("takes its strikes' own allocations only: a shared covenant's warm lease is never joined", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], lease: { idle_timeout_s: 60 } });
    const warm = StrikeResponse.parse(await (await strike({ covenant_id: id, model: "mistral-7b", prompt: "warm", max_tokens: 8 })).json());
    // The covenant turns isolated while it still holds a warm lease from before.
    expect((await call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify({ lease: { isolation: "per_strike" } }) })).status).toBe(200);
    const isolated = await Promise.all([0, 1].map((i) => strike({ covenant_id: id, model: "mistral-7b", prompt: `own ${i}`, max_tokens: 8 })));
    const ran = await Promise.all(isolated.map(async (r) => StrikeResponse.parse(await r.json())));
    expect(ran.map((s) => s.allocation_id)).not.toContain(warm.allocation_id);
    expect(new Set(ran.map((s) => s.allocation_id)).size).toBe(2);
    expect(ran.every((s) => !s.lease_reused)).toBe(true);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });
});
