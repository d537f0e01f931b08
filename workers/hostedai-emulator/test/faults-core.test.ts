// The pure parts of fault injection and preemption, and FAULTS_JSON read at start.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { HostedAiCluster } from "../src/cluster";
import { faultsFromEnv } from "../src/fault-desk";
import { type FaultConfig, FaultConfigSchema, decideGate } from "../src/faults";
import { planEviction } from "../src/preemption";
import { testEnv } from "./harness";

const POOLS = new Set(["standard-us-east", "premium-us-east"]);
const config = (partial: object): FaultConfig => FaultConfigSchema.parse(partial);
/** A draw that replays fixed numbers and records how many were taken. */
const drawing = (...values: number[]) => {
  const taken: number[] = [];
  return { draw: () => { const v = values[taken.length] ?? 0.99; taken.push(v); return v; }, taken };
};

describe("decideGate", () => {
  const inference = { endpoint: "inference", poolId: "standard-us-east", tokenGeneration: 0 } as const;

  it("puts a partition before everything, and draws nothing for it", () => {
    const d = drawing();
    const verdict = decideGate(config({ partition: "reset", errors: [{ rate: 1, status: 500 }] }), inference, 0, d.draw);
    expect(verdict).toEqual({ decision: { kind: "reset" }, injected: ["partition"] });
    expect(d.taken).toEqual([]);
  });

  it("draws once per matching random rule, in order timeouts, rate limits, errors, and stops at the first hit", () => {
    const c = config({
      timeouts: [{ endpoint: "inference", rate: 0.1 }],
      rate_limit: [{ endpoint: "allocate", rate: 1 }, { rate: 0.5, retry_after_s: 7 }],
      errors: [{ rate: 1, status: 503 }],
    });
    const d = drawing(0.5, 0.4);
    const verdict = decideGate(c, inference, 0, d.draw);
    expect(d.taken).toEqual([0.5, 0.4]);
    expect(verdict.decision).toMatchObject({ kind: "error", error: { status: 429, type: "rate_limited", retry_after_seconds: 7 } });
    expect(verdict.injected).toEqual(["rate_limit"]);
  });

  it("adds the latency of every matching rule, also to a request that then fails", () => {
    const c = config({
      latency: [{ added_ms: 10 }, { endpoint: "inference", added_ms: 5 }, { pool: "premium-us-east", added_ms: 1000 }],
      errors: [{ rate: 0.5, status: 500 }],
    });
    expect(decideGate(c, inference, 0, drawing(0.7).draw).decision).toEqual({ kind: "pass", addedLatencyMs: 15, tokenGeneration: 0 });
    expect(decideGate(c, inference, 0, drawing(0.2).draw)).toMatchObject({
      decision: { kind: "error", addedLatencyMs: 15, error: { status: 500, type: "injected_fault" } },
      injected: ["latency", "errors"],
    });
  });

  it("expires tokens of an older generation, and lets only a partition reach requests no rule can name", () => {
    expect(decideGate(config({}), inference, 1, drawing().draw).decision).toMatchObject({ kind: "error", error: { type: "token_expired" } });
    const all = config({ errors: [{ rate: 1, status: 500 }], timeouts: [{ rate: 1 }] });
    expect(decideGate(all, { endpoint: null }, 0, drawing().draw).decision.kind).toBe("pass");
    expect(decideGate(config({ partition: "hang" }), { endpoint: null }, 0, drawing().draw).decision.kind).toBe("hang");
  });

  it("matches a pool rule only where the request's pool is known and equal", () => {
    const c = config({ errors: [{ pool: "standard-us-east", rate: 1, status: 500 }] });
    expect(decideGate(c, { endpoint: "pools" }, 0, drawing().draw).decision.kind).toBe("pass");
    expect(decideGate(c, { ...inference, poolId: "premium-us-east" }, 0, drawing().draw).decision.kind).toBe("pass");
    expect(decideGate(c, inference, 0, drawing(0.5).draw).decision.kind).toBe("error");
  });
});

describe("planEviction", () => {
  const gpu = (id: string, free_vram_mb: number, free_tflops: number) => ({ id, vram_mb: 24576, tflops: 125, free_vram_mb, free_tflops });
  const victim = (id: string, gpu_id: string, vram_mb: number, tflops: number, sequence: number) => ({ id, gpu_id, vram_mb, tflops, sequence });

  it("frees one GPU with the fewest evictions, the largest slices first", () => {
    const gpus = [gpu("g0", 0, 0), gpu("g1", 0, 0)];
    const victims = [
      victim("a", "g0", 12288, 60, 1), victim("b", "g0", 12288, 65, 2),
      victim("c", "g1", 4096, 25, 3), victim("d", "g1", 20480, 100, 4),
    ];
    expect(planEviction(gpus, victims, { vram_mb: 16384, tflops: 80 })).toEqual(["d"]);
    expect(planEviction(gpus, victims, { vram_mb: 24576, tflops: 125 })).toEqual(["b", "a"]);
  });

  it("evicts the newest of equal slices, and nothing when no GPU can be freed enough", () => {
    const gpus = [gpu("g0", 0, 0)];
    const victims = [victim("old", "g0", 12288, 62.5, 1), victim("new", "g0", 12288, 62.5, 2)];
    expect(planEviction(gpus, victims, { vram_mb: 1024, tflops: 10 })).toEqual(["new"]);
    expect(planEviction([gpu("g0", 0, 0)], [victim("x", "g0", 1024, 10, 1)], { vram_mb: 2048, tflops: 20 })).toBeUndefined();
    expect(planEviction(gpus, victims, { vram_mb: 30000, tflops: 1 })).toBeUndefined();
  });
});

describe("FAULTS_JSON", () => {
  it("is validated like PUT /admin/faults, naming the field of a bad one", () => {
    expect(faultsFromEnv(undefined, POOLS).errors).toEqual([]);
    expect(faultsFromEnv('{"pools_down":["premium-us-east"]}', POOLS).pools_down).toEqual(["premium-us-east"]);
    expect(() => faultsFromEnv("{", POOLS)).toThrow(/not valid JSON/);
    expect(() => faultsFromEnv('{"timeouts":[{"rate":3}]}', POOLS)).toThrow(/timeouts\.0\.rate/);
    expect(() => faultsFromEnv('{"pools_down":["atlantis"]}', POOLS)).toThrow(/pools_down\.0/);
  });

  it("is in force when the cluster starts", async () => {
    const stub = testEnv.CLUSTER.get(testEnv.CLUSTER.idFromName("faults-json-at-start"));
    const faults = await runInDurableObject(stub, async (_instance, state) => {
      // A cluster starting for the first time with FAULTS_JSON set.
      state.storage.sql.exec("DELETE FROM kv");
      const started = new HostedAiCluster(state, { ...testEnv, FAULTS_JSON: '{"partition":"hang","stream_cut_after_tokens":5}' });
      return started.getFaults();
    });
    expect(faults).toMatchObject({ partition: "hang", stream_cut_after_tokens: 5, errors: [] });
  });
});
