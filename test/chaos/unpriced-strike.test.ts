// A covenant with a cost limit prices each strike from Hosted.AI's pool listing before it admits
// it. When a covenant object has never had a listing and cannot get one now, there is no pool
// price: the strike may run where it costs nothing (the local node), and never on a pool checked
// against the budget as if it were free.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { createCovenant, deleteCovenant } from "../support/covenants";
import { failOnceThenPass } from "../support/fault-draws";
import { hostedaiCounters, hostedaiFaults, localNodeCounters } from "../support/faults";
import { liveAllocationsOf, strike } from "../support/gateway";
import { hostedaiDirect } from "../support/hostedai";
import { THREE_QUESTIONS } from "../support/prompts";
import { billedInferencesOf } from "../support/money";

afterEach(() => hostedaiFaults.clear());

const localRequests = async () => (await localNodeCounters()).requests_total;
const injectedErrors = async () => (await hostedaiCounters()).faults_injected_total.errors ?? 0;

/** Pool listings straight to the emulator, to spend the fault sequence's draws before the one meant for the covenant. */
async function listPoolsDirectly(times: number): Promise<void> {
  const direct = await hostedaiDirect();
  for (let i = 0; i < times; i++) {
    await env.HOSTEDAI.fetch("http://hostedai.test/api/v1/pools", { headers: { authorization: `Bearer ${direct.token}` } });
  }
}

describe("a strike that cannot be priced", () => {
  it("runs only on the local node when the covenant's first pool listing fails, even once the next one answers", async () => {
    const { id } = await createCovenant({ cost: { budget_usd_per_day: 0.002 }, lease: { idle_timeout_s: 1 } });
    const [injectedBefore, localBefore] = [await injectedErrors(), await localRequests()];
    // The covenant's first listing fails and the one after it answers: a strike admitted without a
    // price must not take that later listing as leave to allocate. (Strikes that arrive after the
    // failure get the next listing, and are priced by it.)
    const { spend, rate } = failOnceThenPass();
    await hostedaiFaults.set({ errors: [{ endpoint: "pools", rate, status: 500 }] });
    await listPoolsDirectly(spend);

    const r = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "unpriced", max_tokens: 8 });
    expect(r.status).toBe(200);
    const answer = StrikeResponse.parse(await r.json());
    expect(answer.pool_id).toBe("local");
    expect(answer.cost_usd).toBe(0);
    // By the emulators' own counts: one listing failed, the local node ran the strike, Hosted.AI
    // allocated and billed nothing for this covenant.
    expect((await injectedErrors()) - injectedBefore).toBe(1);
    expect((await localRequests()) - localBefore).toBe(1);
    expect(await liveAllocationsOf(id)).toEqual([]);
    expect(await billedInferencesOf(id)).toEqual([]);
    await deleteCovenant(id);
  });

  it("is refused with a 503 that says why when the local node cannot serve it, and runs on a pool once priced", async () => {
    const { id } = await createCovenant({ cost: { budget_usd_per_day: 0.002 }, lease: { idle_timeout_s: 1 } });
    await hostedaiFaults.set({ errors: [{ endpoint: "pools", rate: 1, status: 500 }] });
    const refused = await strike({ covenant_id: id, model: "qwen-14b", prompt: "unpriced, large", max_tokens: 8 });
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { attempts: { target: string; type: string }[] } };
    expect(body.error.attempts).toContainEqual(expect.objectContaining({ target: "hostedai", type: "pricing_unavailable" }));
    expect(JSON.stringify(body)).not.toMatch(/https?:|127\.0\.0\.1/);
    expect(await liveAllocationsOf(id)).toEqual([]);

    // Once the listing answers again, strikes are priced and go to pools as before.
    await hostedaiFaults.clear();
    const ok = await strike({ covenant_id: id, model: "qwen-14b", prompt: "priced", max_tokens: 8 });
    expect(ok.status).toBe(200);
    const answer = StrikeResponse.parse(await ok.json());
    expect(answer.pool_id).not.toBe("local");
    expect((await billedInferencesOf(id)).map((i) => i.allocation_id)).toEqual([answer.allocation_id]);
    await deleteCovenant(id);
  });

  it("is refused with 503 pricing_unavailable when the covenant names pools and no local node", async () => {
    const { id } = await createCovenant({ fallback: ["standard-us-east"], cost: { max_usd_per_strike: 0.01 } });
    await hostedaiFaults.set({ errors: [{ endpoint: "pools", rate: 1, status: 500 }] });
    const res = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "nowhere priced", max_tokens: 8 });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("pricing_unavailable");
    expect(body.error.message).toMatch(/cost limits/);
    expect(await liveAllocationsOf(id)).toEqual([]);
    await deleteCovenant(id);
  });

  it("runs a fused plan priced without a listing on the local node only, fragment by fragment", async () => {
    // Models the local node serves, so every fragment has somewhere free to go.
    const { id } = await createCovenant({ models: ["gemma-2b-it", "mistral-7b"], cost: { budget_usd_per_day: 0.01 }, lease: { idle_timeout_s: 1 } });
    const localBefore = await localRequests();
    // The plan's listing fails; the fragments' own placements would get the next one.
    const { spend, rate } = failOnceThenPass();
    await hostedaiFaults.set({ errors: [{ endpoint: "pools", rate, status: 500 }] });
    await listPoolsDirectly(spend);

    const res = await strike({ covenant_id: id, prompt: THREE_QUESTIONS, max_tokens: 16, fusion: { strategy: "split" } });
    expect(res.status).toBe(200);
    const answer = StrikeResponse.parse(await res.json());
    const fragments = answer.fusion!.fragments;
    expect(fragments).toHaveLength(3);
    expect(fragments.map((f) => [f.status, f.pool_id])).toEqual(Array(3).fill(["ok", "local"]));
    expect((await localRequests()) - localBefore).toBe(3);
    expect(await liveAllocationsOf(id)).toEqual([]);
    expect(await billedInferencesOf(id)).toEqual([]);
    await deleteCovenant(id);
  });
});
