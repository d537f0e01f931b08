import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { covenantStatus, covenantUsage, createCovenant, deleteCovenant, eventually } from "../support/covenants";
import { hostedaiCounters, hostedaiFaults, localFaults, localNodeCounters, preemptRunningInference } from "../support/faults";
import { failOnceThenPass } from "../support/fault-draws";
import { call, liveAllocationsOf, strike } from "../support/gateway";
import { hostedaiDirect } from "../support/hostedai";
import { billedInferencesOf } from "../support/money";

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

/** Failed upstream calls the deployment's /metrics has counted, all targets and types. */
async function upstreamFailuresCounted(): Promise<number> {
  const text = await (await call("/metrics")).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("homeskillet_upstream_failures_total{"))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

async function strikes(covenantId: string, n: number, model = "gemma-2b-it") {
  const responses = await Promise.all(Array.from({ length: n }, (_, i) => strike({ covenant_id: covenantId, model, prompt: `chaos ${i}`, max_tokens: 8 })));
  return Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })));
}

describe("upstream faults", () => {
  it("absorbs a 30 % inference error rate: every strike answered once, none lost or run twice, none leaked", async () => {
    const { id } = await createCovenant({});
    const [countedBefore, injectedBefore] = [await upstreamFailuresCounted(), (await hostedaiCounters()).faults_injected_total.errors ?? 0];
    const localBefore = (await localNodeCounters()).requests_total;
    await hostedaiFaults.set({ errors: [{ endpoint: "inference", rate: 0.3, status: 500 }] });
    const results = await strikes(id, 30);
    expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
    const ids = results.map((r) => StrikeResponse.parse(r.body).id);
    expect(new Set(ids).size).toBe(30);
    expect((await covenantUsage(id)).strikes).toBe(30);
    // Each answer ran exactly once where it says it did, by the emulators' own counts: Hosted.AI
    // ran one inference per answer from a pool (an injected failure runs none), the local node
    // booked one per answer from it (a strike that failed three times on the pool falls back there).
    const answers = results.map((r) => StrikeResponse.parse(r.body));
    const onPools = answers.filter((a) => a.pool_id !== "local").map((a) => a.allocation_id).sort();
    expect((await billedInferencesOf(id)).map((i) => i.allocation_id).sort()).toEqual(onPools);
    expect((await localNodeCounters()).requests_total - localBefore).toBe(answers.length - onPools.length);
    const injected = (await hostedaiCounters()).faults_injected_total.errors! - injectedBefore;
    expect(injected).toBeGreaterThan(0);
    // Every failed call was retried or fallen back from, and each is counted in the metrics.
    expect((await upstreamFailuresCounted()) - countedBefore).toBe(injected);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("keeps retrying releases that fail, even after the covenant is deleted: nothing leaks", async () => {
    const { id } = await createCovenant({ lease: { idle_timeout_s: 60 } });
    expect((await strikes(id, 3))[0]!.status).toBe(200);
    expect((await liveAllocationsOf(id)).length).toBeGreaterThan(0);
    await hostedaiFaults.set({ errors: [{ endpoint: "release", rate: 1, status: 500 }] });
    await deleteCovenant(id);
    expect((await liveAllocationsOf(id)).length).toBeGreaterThan(0);
    await hostedaiFaults.clear();
    const left = await eventually(() => liveAllocationsOf(id), (live) => live.length === 0, 15_000);
    expect(left).toEqual([]);
  });

  it("falls back when the cheapest pool is down", async () => {
    // Any pool type, so that gemma-2b-it has pools beyond its matrix's standard one to fall back to.
    const { id } = await createCovenant({ qos: { pool_type: "any" } });
    await hostedaiFaults.set({ pools_down: ["standard-us-east"] });
    const [r] = await strikes(id, 1);
    expect(r!.status).toBe(200);
    expect(StrikeResponse.parse(r!.body).pool_id).not.toBe("standard-us-east");
    await deleteCovenant(id);
  });

  it("honours 429 Retry-After: the retry reaches Hosted.AI no sooner than it said, and answers", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    // The strike's first allocation is refused with Retry-After: 1, its second is not.
    const { spend, rate } = failOnceThenPass();
    await hostedaiFaults.set({ rate_limit: [{ endpoint: "allocate", rate, retry_after_s: 1 }] });
    const direct = await hostedaiDirect();
    for (let i = 0; i < spend; i++) {
      const res = await env.HOSTEDAI.fetch("http://hostedai.test/api/v1/allocations", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${direct.token}` },
        body: JSON.stringify({ pool_id: "standard-us-east", requirements: { min_tflops: 5, min_vram_mb: 2048 }, duration_seconds: 60, preemptible: false }),
      });
      if (res.status === 201) await direct.release(((await res.json()) as { allocation_id: string }).allocation_id);
    }
    const limitedBefore = (await hostedaiCounters()).faults_injected_total.rate_limit ?? 0;
    const res = await strike({ covenant_id: id, model: "qwen-14b", prompt: "told to wait", max_tokens: 8 });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await hostedaiCounters()).faults_injected_total.rate_limit! - limitedBefore).toBe(1);
    // The emulator's clock: when each of this strike's allocation requests (its trace) arrived.
    const trace = res.headers.get("x-homeskillet-trace-id")!;
    const { requests } = (await (await env.HOSTEDAI.fetch("http://hostedai.test/admin/traceparents")).json()) as { requests: { method: string; path: string; traceparent: string | null; at: string }[] };
    const allocations = requests.filter((r) => r.method === "POST" && r.path === "/api/v1/allocations" && r.traceparent?.split("-")[1] === trace);
    expect(allocations).toHaveLength(2);
    expect(Date.parse(allocations[1]!.at) - Date.parse(allocations[0]!.at)).toBeGreaterThanOrEqual(1_000);
    await deleteCovenant(id);
  });

  it("replaces a token the upstream expired mid-flight, transparently", async () => {
    const { id } = await createCovenant({});
    expect((await strikes(id, 1))[0]!.status).toBe(200);
    const before = (await hostedaiCounters()).tokens_issued;
    await hostedaiFaults.expireTokens();
    expect((await strikes(id, 1))[0]!.status).toBe(200);
    expect((await hostedaiCounters()).tokens_issued).toBe(before + 1);
    await deleteCovenant(id);
  });

  it("opens a pool's breaker under repeated faults, serves from the next pool, and closes it after a good probe", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"], fallback: ["premium-us-east", "standard-us-east"], qos: { pool_type: "any" } });
    await hostedaiFaults.set({ errors: [{ pool: "premium-us-east", endpoint: "allocate", rate: 1, status: 500 }] });
    for (const r of await strikes(id, 1, "qwen-14b")) expect(StrikeResponse.parse(r.body).pool_id).toBe("standard-us-east");
    for (const r of await strikes(id, 1, "qwen-14b")) expect(StrikeResponse.parse(r.body).pool_id).toBe("standard-us-east");
    const open = (await covenantStatus(id)).breakers.find((b) => b.target === "premium-us-east");
    expect(open).toMatchObject({ state: "open" });
    expect(open!.last_failure).toContain("injected_fault");

    await hostedaiFaults.clear();
    await new Promise((r) => setTimeout(r, Date.parse(open!.open_until!) - Date.now() + 50));
    const [probe] = await strikes(id, 1, "qwen-14b");
    expect(StrikeResponse.parse(probe!.body).pool_id).toBe("premium-us-east");
    expect((await covenantStatus(id)).breakers.find((b) => b.target === "premium-us-east")).toMatchObject({ state: "closed" });
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("re-runs a strike whose preemptible allocation is preempted mid-inference, and drops the lease", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"] });
    const running = strike({ covenant_id: id, model: "mistral-7b", prompt: "a long answer please", max_tokens: 400 });
    // Let its inference start on its preemptible slice, then take the slice away.
    const preempted = await preemptRunningInference(id);
    expect(preempted.length).toBeGreaterThan(0);
    const res = await running;
    expect(res.status, await res.clone().text()).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(preempted).not.toContain(body.allocation_id);
    const leases = (await covenantStatus(id)).leases.map((l) => l.allocation_id);
    for (const gone of preempted) expect(leases).not.toContain(gone);
    expect((await hostedaiCounters()).preempted_total).toBeGreaterThan(0);
    await deleteCovenant(id);
  });
});
