// Cost per thousand tokens, by pool and by model, against what the Hosted.AI emulator billed: its
// release receipts over the tokens its inference log says were processed. Never the code's own
// output as the reference.
import { describe, expect, it } from "vitest";
import type { CovenantUsage } from "../src/schema";
import { METRICS, rowsOf } from "../src/telemetry";
import { covenantUsage, createCovenant, deleteCovenant, eventually } from "./support/covenants";
import { strike } from "./support/gateway";
import { emulatorApi, inferencesOf, objectSnapshot, type EmulatorInference } from "./support/upstream";

const unique = () => crypto.randomUUID().slice(0, 8);

describe("cost per thousand tokens", () => {
  it("is what the emulator billed a pool or model over the tokens it processed, in usage and in the metrics", async () => {
    // Every strike on an allocation of its own, released when it ends: all billing is final.
    const { id } = await createCovenant({ models: ["mistral-7b", "gemma-2b-it"], lease: { isolation: "per_strike" } });
    for (const model of ["mistral-7b", "gemma-2b-it", "mistral-7b"]) {
      const res = await strike({ covenant_id: id, model, prompt: `Explain billing per token (${unique()}).`, max_tokens: 16 });
      expect(res.status).toBe(200);
    }
    const inferences = await inferencesOf(id);
    expect(inferences).toHaveLength(3);
    // What the emulator billed each allocation, as its release receipt says (a release repeats its final state).
    const receipts = new Map<string, number>();
    for (const a of new Set(inferences.map((i) => i.allocation_id))) {
      receipts.set(a, (await emulatorApi<{ cost_usd: number; status: string }>(`/api/v1/allocations/${a}`, "DELETE")).cost_usd);
    }
    const billed = (pick: (i: EmulatorInference) => string, key: string) => {
      const mine = inferences.filter((i) => pick(i) === key);
      const usd = [...new Set(mine.map((i) => i.allocation_id))].reduce((n, a) => n + receipts.get(a)!, 0);
      const tokens = mine.reduce((n, i) => n + i.prompt_tokens + i.completion_tokens, 0);
      return { usd, tokens };
    };

    const usage: CovenantUsage = await eventually(() => covenantUsage(id), (u) => u.strikes === 3);
    for (const line of usage.by_pool) {
      const b = billed((i) => i.pool_id, line.key);
      expect(b.tokens, line.key).toBe(line.prompt_tokens + line.completion_tokens);
      expect(line.usd_per_1k_tokens, line.key).toBeCloseTo((b.usd / b.tokens) * 1000, 9);
    }
    for (const line of usage.by_model) {
      const b = billed((i) => i.model, line.key);
      expect(line.usd_per_1k_tokens, line.key).toBeCloseTo((b.usd / b.tokens) * 1000, 9);
    }
    expect(usage.by_model.map((l) => l.key).sort()).toEqual(["gemma-2b-it", "mistral-7b"]);

    // The metrics count what strikes were charged: an isolated strike pays its allocation's whole bill.
    const s = await objectSnapshot(id);
    for (const pool of new Set(inferences.map((i) => i.pool_id))) {
      const usd = rowsOf<number>(s, METRICS.costUsd).filter((r) => r.labels.pool === pool).reduce((n, r) => n + r.value, 0);
      const tokens = rowsOf<number>(s, METRICS.tokens).filter((r) => r.labels.pool === pool).reduce((n, r) => n + r.value, 0);
      const b = billed((i) => i.pool_id, pool);
      expect(tokens, pool).toBe(b.tokens);
      expect((usd / tokens) * 1000, pool).toBeCloseTo((b.usd / b.tokens) * 1000, 9);
    }
    await deleteCovenant(id);
  });
});
