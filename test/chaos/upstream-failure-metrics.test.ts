// Failed upstream calls by operation and kind, against the emulator's own account of the faults
// it injected: allocation errors, inference timeouts, preemption mid-inference and failed
// releases each land in homeskillet_upstream_failures_total{operation, kind, pool}, as many as
// the emulator says it caused.
import { afterEach, describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { createCovenant, deleteCovenant, eventually } from "../support/covenants";
import { hostedaiCounters, hostedaiFaults, preemptRunningInference } from "../support/faults";
import { call, liveAllocationsOf, strike } from "../support/gateway";
import { inferencesOf } from "../support/upstream";

afterEach(async () => {
  await hostedaiFaults.clear();
});

/** homeskillet_upstream_failures_total by `operation kind pool` (pool "" when the call named none). */
async function failures(): Promise<Map<string, number>> {
  const text = await (await call("/metrics")).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^homeskillet_upstream_failures_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.set(`${labels.operation} ${labels.kind} ${labels.pool ?? ""}`, Number(m[2]));
  }
  return out;
}

/** How many calls of `operation` and `kind` failed between two readings, on one pool or (pool omitted) all. */
function grew(before: Map<string, number>, after: Map<string, number>, operation: string, kind: string, pool?: string): number {
  let n = 0;
  for (const [key, v] of after) {
    const [op, k, p] = key.split(" ");
    if (op === operation && k === kind && (pool === undefined || p === pool)) n += v - (before.get(key) ?? 0);
  }
  return n;
}

async function strikes(covenantId: string, n: number, model: string) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await strike({ covenant_id: covenantId, model, prompt: `failure metrics ${i} ${crypto.randomUUID()}`, max_tokens: 8 });
    out.push({ status: res.status, body: (await res.json()) as Record<string, unknown> });
  }
  return out;
}

describe("failed upstream calls by operation and kind", () => {
  it("counts each allocation the emulator failed as allocate/error on its pool", async () => {
    // Any pool type, so that qwen-14b may fall back from its premium pool to a standard one.
    const { id } = await createCovenant({ models: ["qwen-14b"], fallback: ["premium-us-east", "standard-us-east"], qos: { pool_type: "any" } });
    const [before, injectedBefore] = [await failures(), (await hostedaiCounters()).faults_injected_total.errors ?? 0];
    await hostedaiFaults.set({ errors: [{ pool: "premium-us-east", endpoint: "allocate", rate: 1, status: 500 }] });
    for (const r of await strikes(id, 2, "qwen-14b")) expect(StrikeResponse.parse(r.body).pool_id).toBe("standard-us-east");
    await hostedaiFaults.clear();
    const injected = (await hostedaiCounters()).faults_injected_total.errors! - injectedBefore;
    expect(injected).toBeGreaterThan(0);
    // Nothing more is injected now; the count settles at the emulator's.
    const after = await eventually(failures, (m) => grew(before, m, "allocate", "error", "premium-us-east") === injected);
    expect(grew(before, after, "allocate", "error", "premium-us-east")).toBe(injected);
    expect(grew(before, after, "allocate", "error", "standard-us-east")).toBe(0);
    expect(grew(before, after, "infer", "timeout")).toBe(0);
    await deleteCovenant(id);
  });

  it("counts each inference the emulator let hang as infer/timeout on its pool", async () => {
    // Any pool type, so that qwen-14b may fall back from its premium pool to a standard one.
    const { id } = await createCovenant({ models: ["qwen-14b"], fallback: ["premium-us-east", "standard-us-east"], qos: { pool_type: "any" } });
    const [before, injectedBefore] = [await failures(), (await hostedaiCounters()).faults_injected_total.timeouts ?? 0];
    await hostedaiFaults.set({ timeouts: [{ pool: "premium-us-east", endpoint: "inference", rate: 1 }] });
    const [r] = await strikes(id, 1, "qwen-14b");
    expect(r!.status, JSON.stringify(r!.body)).toBe(200);
    expect(StrikeResponse.parse(r!.body).pool_id).toBe("standard-us-east");
    await hostedaiFaults.clear();
    const injected = (await hostedaiCounters()).faults_injected_total.timeouts! - injectedBefore;
    expect(injected).toBeGreaterThan(0);
    const after = await eventually(failures, (m) => grew(before, m, "infer", "timeout", "premium-us-east") === injected);
    expect(grew(before, after, "infer", "timeout", "premium-us-east")).toBe(injected);
    expect(grew(before, after, "infer", "error")).toBe(0);
    await deleteCovenant(id);
  });

  it("counts each inference lost to preemption as infer/preempted on its pool", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"] });
    const before = await failures();
    const running = strike({ covenant_id: id, model: "mistral-7b", prompt: `a long answer please ${crypto.randomUUID()}`, max_tokens: 400 });
    const preempted = await preemptRunningInference(id);
    expect(preempted.length).toBeGreaterThan(0);
    const res = await running;
    expect(res.status, await res.clone().text()).toBe(200);
    // The emulator's own record of this covenant's inferences that preemption cut short.
    const lost = (await inferencesOf(id)).filter((i) => i.outcome === "preempted");
    expect(lost.length).toBeGreaterThan(0);
    const after = await failures();
    for (const pool of new Set(lost.map((i) => i.pool_id))) {
      expect(grew(before, after, "infer", "preempted", pool), pool).toBe(lost.filter((i) => i.pool_id === pool).length);
    }
    expect(grew(before, after, "infer", "preempted")).toBe(lost.length);
    await deleteCovenant(id);
  });

  it("counts each release the emulator failed as release/error, and the first of each on its lease's pool", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"], lease: { isolation: "per_strike" } });
    const [before, injectedBefore] = [await failures(), (await hostedaiCounters()).faults_injected_total.errors ?? 0];
    await hostedaiFaults.set({ errors: [{ endpoint: "release", rate: 1, status: 500 }] });
    const done = await strikes(id, 2, "gemma-2b-it");
    const pools = done.map((r) => StrikeResponse.parse(r.body).pool_id);
    await hostedaiFaults.clear();
    // The releases still owed are retried by the alarm, and now succeed: nothing leaks.
    expect(await eventually(() => liveAllocationsOf(id), (live) => live.length === 0, 15_000)).toEqual([]);
    const injected = (await hostedaiCounters()).faults_injected_total.errors! - injectedBefore;
    expect(injected).toBeGreaterThanOrEqual(2);
    const after = await eventually(failures, (m) => grew(before, m, "release", "error") === injected);
    expect(grew(before, after, "release", "error")).toBe(injected);
    // The release at the end of each strike knows its lease's pool (a later retry of a release
    // already booked may not).
    for (const pool of new Set(pools)) {
      expect(grew(before, after, "release", "error", pool), pool).toBeGreaterThanOrEqual(pools.filter((p) => p === pool).length);
    }
    await deleteCovenant(id);
  });
});
