import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantUsage, createCovenant, deleteCovenant } from "./support/covenants";
import { liveAllocationsOf, strike } from "./support/gateway";

const MULTI = [
  "Please answer these:",
  "1. What is the capital of Australia?",
  "2. Write a Python function that checks whether a number is prime.",
  "3. Summarise the plot of Hamlet in two sentences.",
].join("\n");

const DOCUMENT = Array.from(
  { length: 40 },
  (_, i) =>
    `Section ${i + 1}. The cluster scheduler assigns each virtual GPU slice to a physical device according to the memory it needs and the compute it was promised. ` +
    `Operators watch utilisation, queueing and cost per tenant, and rebalance pools when a region runs hot. This paragraph describes step ${i + 1} of that process in detail.`,
).join("\n\n");

describe("fused strikes, end to end through the emulators", () => {
  it("splits a multi-part prompt into fragments, runs them as strikes and fuses the answers", async () => {
    const { id } = await createCovenant({});
    const res = await strike({ covenant_id: id, prompt: MULTI, max_tokens: 24, fusion: { strategy: "split" } });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    const report = body.fusion!;
    expect(report.plan.strategy).toBe("split");
    expect(report.fragments.length).toBeGreaterThanOrEqual(3);
    expect(report.fragments.every((f) => f.status === "ok" && f.pool_id !== null)).toBe(true);
    expect(report.gaps).toEqual([]);
    expect(body.cost_usd).toBeCloseTo(report.totals.cost_usd, 10);
    expect(body.output.content.length).toBeGreaterThan(0);
    // Every fragment is a strike of its own in the covenant's ledger.
    expect((await covenantUsage(id)).strikes).toBe(report.fragments.filter((f) => f.cache === "miss").length);

    // The same request again comes from the tenant's result cache.
    const again = StrikeResponse.parse(await (await strike({ covenant_id: id, prompt: MULTI, max_tokens: 24, fusion: { strategy: "split" } })).json());
    expect(again.fusion!.fragments.every((f) => f.cache === "hit")).toBe(true);
    expect(again.cost_usd).toBe(0);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("maps a long document over small models and reduces it", async () => {
    const { id } = await createCovenant({ fusion: { map_reduce_min_tokens: 1_000, chunk_tokens: 600 } });
    const res = await strike({ covenant_id: id, prompt: `Summarise this document.\n\n${DOCUMENT}`, max_tokens: 32, fusion: { strategy: "map_reduce" } });
    expect(res.status, await res.clone().text()).toBe(200);
    const report = StrikeResponse.parse(await res.json()).fusion!;
    expect(report.plan.strategy).toBe("map_reduce");
    expect(report.fragments.filter((f) => f.role === "map").length).toBeGreaterThan(1);
    expect(report.fragments.some((f) => f.role === "reduce" && f.status === "ok")).toBe(true);
    await deleteCovenant(id);
  });

  it("asks several models and fuses their answers", async () => {
    const { id } = await createCovenant({});
    const res = await strike({
      covenant_id: id,
      prompt: "Is the sky blue on a clear day? Answer yes or no.",
      max_tokens: 8,
      fusion: { strategy: "ensemble", ensemble_models: ["gemma-2b-it", "mistral-7b", "qwen-14b"] },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const report = StrikeResponse.parse(await res.json()).fusion!;
    expect(report.plan.strategy).toBe("ensemble");
    expect(new Set(report.fragments.filter((f) => f.role === "member").map((f) => f.model))).toEqual(new Set(["gemma-2b-it", "mistral-7b", "qwen-14b"]));
    await deleteCovenant(id);
  });

  it("refuses a plan priced over max_usd_per_strike, naming the limit", async () => {
    const { id } = await createCovenant({ cost: { max_usd_per_strike: 0.0000001 } });
    const res = await strike({ covenant_id: id, prompt: "x", fusion: { strategy: "ensemble", ensemble_models: ["qwen-32b", "qwen-70b"] } });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ error: { budget: "max_usd_per_strike", limit_usd: 0.0000001 } });
  });

  it("decomposes a multi-part request on its own unless the covenant turns that off", async () => {
    const { id } = await createCovenant({});
    const auto = StrikeResponse.parse(await (await strike({ covenant_id: id, prompt: MULTI, max_tokens: 16 })).json());
    expect(auto.fusion?.plan).toMatchObject({ strategy: "split", requested: "auto" });
    const off = await createCovenant({ fusion: { auto: false } });
    const whole = StrikeResponse.parse(await (await strike({ covenant_id: off.id, prompt: MULTI, max_tokens: 16 })).json());
    expect(whole.fusion).toBeUndefined();
    expect(whole.pool_id).not.toBe("fused");
    await deleteCovenant(id);
    await deleteCovenant(off.id);
  });

  it("runs a request with nothing to decompose as one plain strike", async () => {
    const { id } = await createCovenant({});
    const res = await strike({ covenant_id: id, prompt: "What is the capital of France?", max_tokens: 8, fusion: { strategy: "auto" } });
    expect(res.status).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body.fusion).toBeUndefined();
    expect(body.pool_id).not.toBe("fused");
  });
});
