// Every dollar reconciles under faults: a strike whose first inference failed and was retried, a
// lease preempted mid-inference, a release that failed and was retried by the alarm. Each time,
// what the covenant booked (usage API, ledger rows, pools) is what Hosted.AI's emulator billed
// for its allocations, to 1e-9 USD (test/support/money.ts); the fault-free mix is
// test/money-reconcile.test.ts.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { covenantStatus, createCovenant, eventually } from "../support/covenants";
import { failOnceThenPass } from "../support/fault-draws";
import { hostedaiCounters, hostedaiFaults, preemptRunningInference } from "../support/faults";
import { liveAllocationsOf, strike } from "../support/gateway";
import { hostedaiDirect } from "../support/hostedai";
import { billedAllocationsOf, billedInferencesOf, expectBooksMatchBills, USD_TOLERANCE } from "../support/money";

afterEach(async () => {
  await hostedaiFaults.clear();
});

const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

async function allReleased(id: string, timeoutMs = 20_000): Promise<void> {
  const st = await eventually(() => covenantStatus(id), (s) => s.leases.length === 0, timeoutMs);
  expect(st.leases).toEqual([]);
  expect(await eventually(() => liveAllocationsOf(id), (l) => l.length === 0, timeoutMs)).toEqual([]);
}

/** Runs `n` inferences on an allocation of the test's own, to spend the fault sequence's draws. */
async function spendInferenceDraws(n: number): Promise<void> {
  if (n === 0) return;
  const direct = await hostedaiDirect();
  const { allocation_id } = await direct.allocate({ pool_id: "standard-us-east", requirements: { min_tflops: 5, min_vram_mb: 2048 }, duration_seconds: 60, preemptible: false });
  for (let i = 0; i < n; i++) {
    await env.HOSTEDAI.fetch(`http://hostedai.test/api/v1/inference/${allocation_id}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${direct.token}` },
      body: JSON.stringify({ model: "gemma-2b-it", prompt: "spend a draw", max_tokens: 1 }),
    });
  }
  await direct.release(allocation_id);
}

describe("money reconciles under faults", () => {
  it("a strike whose first inference got a 503 and whose retry answered: charged once, the failed try's time booked", async () => {
    const from = hourAgo();
    // Only the pool: a failure is retried there, not answered by the local node.
    const { id } = await createCovenant({ models: ["gemma-2b-it"], fallback: ["standard-us-east"], lease: { idle_timeout_s: 1, max_warm_leases: 0 }, cache: { mode: "off" } });
    const { spend, rate } = failOnceThenPass();
    await hostedaiFaults.set({ errors: [{ endpoint: "inference", rate, status: 503 }] });
    await spendInferenceDraws(spend);
    const injectedBefore = (await hostedaiCounters()).faults_injected_total.errors!;
    const res = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "fails once, then answers", max_tokens: 32 });
    expect(res.status, await res.clone().text()).toBe(200);
    const s = StrikeResponse.parse(await res.json());
    // The emulator's own count: exactly one 503, and one inference ran (an injected failure runs none).
    expect((await hostedaiCounters()).faults_injected_total.errors! - injectedBefore).toBe(1);
    await hostedaiFaults.clear();
    const inferences = await billedInferencesOf(id);
    expect(inferences).toHaveLength(1);
    expect(inferences[0]!.allocation_id).toBe(s.allocation_id);
    // The strike pays for the inference that answered, as billed; nothing for the failed try.
    expect(Math.abs(s.cost_usd - inferences[0]!.cost_usd), `charged ${s.cost_usd}, billed ${inferences[0]!.cost_usd}`).toBeLessThanOrEqual(USD_TOLERANCE);
    await allReleased(id);
    await expectBooksMatchBills(id, from);
  });

  it("a lease preempted mid-inference: the strike runs again elsewhere, and the lost allocation's bill is booked", async () => {
    const from = hourAgo();
    const { id } = await createCovenant({ models: ["mistral-7b"], lease: { idle_timeout_s: 5, max_warm_leases: 0 }, cache: { mode: "off" } });
    const first = StrikeResponse.parse(await (await strike({ covenant_id: id, model: "mistral-7b", prompt: "make a lease", max_tokens: 8 })).json());
    // Held a second and a half before it is lost: a bill of whole seconds, not of the time held.
    await new Promise((r) => setTimeout(r, 1_500));
    const running = strike({ covenant_id: id, model: "mistral-7b", prompt: "a long answer please", max_tokens: 400 });
    const preempted = await preemptRunningInference(id);
    expect(preempted).toContain(first.allocation_id);
    const res = await running;
    expect(res.status, await res.clone().text()).toBe(200);
    expect(preempted).not.toContain(StrikeResponse.parse(await res.json()).allocation_id);
    await allReleased(id);
    const { bills } = await expectBooksMatchBills(id, from);
    expect(bills.find((b) => b.allocation_id === first.allocation_id)).toMatchObject({ status: "preempted" });
  });

  it("a release that failed and was retried by the alarm: the bill booked is the one Hosted.AI sent on the retry", async () => {
    const from = hourAgo();
    const { id } = await createCovenant({ models: ["gemma-2b-it"], lease: { idle_timeout_s: 1, max_warm_leases: 0 }, cache: { mode: "off" } });
    const injectedBefore = (await hostedaiCounters()).faults_injected_total.errors ?? 0;
    await hostedaiFaults.set({ errors: [{ endpoint: "release", rate: 1, status: 500 }] });
    const res = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "released late", max_tokens: 16 });
    expect(res.status, await res.clone().text()).toBe(200);
    // The idle release fails; the lease is gone from the covenant, the allocation still held upstream.
    await eventually(() => hostedaiCounters(), (c) => (c.faults_injected_total.errors ?? 0) > injectedBefore, 20_000);
    await allReleasedFromCovenant(id);
    expect((await liveAllocationsOf(id)).length).toBe(1);
    await hostedaiFaults.clear();
    await allReleased(id);
    const { bills } = await expectBooksMatchBills(id, from);
    expect(bills).toHaveLength(1);
    expect(await billedAllocationsOf(id)).toHaveLength(1);
  });
});

async function allReleasedFromCovenant(id: string): Promise<void> {
  const st = await eventually(() => covenantStatus(id), (s) => s.leases.length === 0, 20_000);
  expect(st.leases).toEqual([]);
}
