// lease.warm_ahead: "burst" in the covenant object: an arrival that starts a burst wakes housekeeping,
// which allocates leases ahead of the strikes; once the burst is over they go back at the end of a
// billed second, nothing leaks, and the books still match the emulator's bills to the dollar.
import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantStatus, createCovenant, deleteCovenant, eventually } from "./support/covenants";
import { liveAllocationsOf, strike } from "./support/gateway";
import { billedAllocationsOf, expectBooksMatchBills } from "./support/money";

describe("lease.warm_ahead: burst", () => {
  it("prepares leases when a burst starts, gives them back when it ends, and bills reconcile", async () => {
    const from = new Date().toISOString();
    const burst = await createCovenant({ models: ["mistral-7b"], lease: { warm_ahead: "burst", max_warm_leases: 4, share_delay_ms: 0 } });
    const off = await createCovenant({ models: ["mistral-7b"], lease: { share_delay_ms: 0 } });
    // Arrivals one after another, 100 ms apart: the first wakes housekeeping, which prepares leases
    // for the burst it signals. (Long answers keep the burst pool above zero even once the
    // emulator's fast inferences are measured.)
    const burstOf = async (id: string, n: number) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push(await strike({ covenant_id: id, model: "mistral-7b", prompt: `burst ${i}`, max_tokens: 1024 }));
        await new Promise((r) => setTimeout(r, 100));
      }
      return out;
    };

    // Allocations made ahead of demand: those the emulator billed beyond the ones strikes made for themselves.
    const aheadOfDemand = new Map<string, number>();
    for (const id of [burst.id, off.id]) {
      const responses = await burstOf(id, 8);
      expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
      const strikes = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json())));
      await eventually(() => liveAllocationsOf(id), (l) => l.length === 0, 8_000);
      const made = (await billedAllocationsOf(id)).length;
      aheadOfDemand.set(id, made - strikes.filter((s) => !s.lease_reused).length);
    }
    expect(aheadOfDemand.get(burst.id)).toBeGreaterThan(0);
    expect(aheadOfDemand.get(off.id)).toBe(0);

    // The burst is over: every lease went back by itself (idle timeout 0: at the end of its billed
    // second), and the warm leases were billed like any other and are in the books.
    expect(await liveAllocationsOf(burst.id)).toEqual([]);
    expect((await covenantStatus(burst.id)).leases).toEqual([]);
    await expectBooksMatchBills(burst.id, from);
    await deleteCovenant(burst.id);
    await deleteCovenant(off.id);
  });
});
