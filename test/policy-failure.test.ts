import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyCovenantChange,
  BREAKER_BASE_OPEN_MS,
  BREAKER_FAILURE_THRESHOLD,
  breakerAllows,
  closedBreaker,
  countsAgainstBreaker,
  defaultContract,
  isRetryable,
  modelCatalogue,
  planTargets,
  recordFailure,
  recordSuccess,
  retryDelayMs,
  startProbe,
  type PoolSnapshot,
} from "../src/policy";

const T0 = 1_800_000_000_000;
const models = modelCatalogue();
const base = defaultContract("c", models, "x");
const withChange = (change: Parameters<typeof applyCovenantChange>[1]) => {
  const r = applyCovenantChange(base, change, models, "x");
  if (!r.ok) throw new Error(r.message);
  return r.contract;
};

describe("circuit breaker", () => {
  it("opens after consecutive failures, lets one probe through after the cool-down, closes on success", () => {
    let b = closedBreaker(T0);
    for (let i = 0; i < BREAKER_FAILURE_THRESHOLD - 1; i++) b = recordFailure(b, T0, "boom");
    expect(b.phase).toBe("closed");
    b = recordFailure(b, T0, "boom");
    expect(b.phase).toBe("open");
    expect(breakerAllows(b, T0 + 1)).toEqual({ allowed: false, retryAt: T0 + BREAKER_BASE_OPEN_MS });
    expect(breakerAllows(b, T0 + BREAKER_BASE_OPEN_MS)).toEqual({ allowed: true, probe: true });
    b = startProbe(b, T0 + BREAKER_BASE_OPEN_MS);
    expect(breakerAllows(b, T0 + BREAKER_BASE_OPEN_MS)).toMatchObject({ allowed: false });
    b = recordSuccess(b, T0 + BREAKER_BASE_OPEN_MS + 10);
    expect(b).toMatchObject({ phase: "closed", consecutiveFailures: 0, trips: 0 });
  });

  it("doubles the cool-down when a probe fails", () => {
    let b = closedBreaker(T0);
    for (let i = 0; i < BREAKER_FAILURE_THRESHOLD; i++) b = recordFailure(b, T0, "boom");
    b = startProbe(b, T0 + BREAKER_BASE_OPEN_MS);
    b = recordFailure(b, T0 + BREAKER_BASE_OPEN_MS, "still down");
    expect(b.openUntil).toBe(T0 + 3 * BREAKER_BASE_OPEN_MS);
  });

  it("a success in between resets the count", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 50 }), (outcomes) => {
        let b = closedBreaker(T0);
        let run = 0;
        for (const ok of outcomes) {
          if (b.phase !== "closed") break;
          b = ok ? recordSuccess(b, T0) : recordFailure(b, T0, "x");
          run = ok ? 0 : run + 1;
          expect(b.phase === "open").toBe(run >= BREAKER_FAILURE_THRESHOLD);
        }
      }),
    );
  });

  it("counts faults, not a full pool, a rate limit or a bad request", () => {
    expect(countsAgainstBreaker(500, "http_500")).toBe(true);
    expect(countsAgainstBreaker(0, "timeout")).toBe(true);
    expect(countsAgainstBreaker(503, "pool_unavailable")).toBe(true);
    expect(countsAgainstBreaker(503, "capacity_exhausted")).toBe(false);
    expect(countsAgainstBreaker(429, "rate_limited")).toBe(false);
    expect(countsAgainstBreaker(422, "insufficient_vram")).toBe(false);
  });
});

describe("retries", () => {
  it("retries faults on the same target, moves on from a full pool or a bad request", () => {
    expect(isRetryable(502, "http_502")).toBe(true);
    expect(isRetryable(0, "network_error")).toBe(true);
    expect(isRetryable(429, "rate_limited")).toBe(true);
    expect(isRetryable(409, "allocation_gone")).toBe(true);
    expect(isRetryable(503, "capacity_exhausted")).toBe(false);
    expect(isRetryable(400, "invalid_request")).toBe(false);
  });

  it("backs off with jitter, honours Retry-After, never passes the deadline", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }), fc.integer({ min: 0, max: 60_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (attempt, retryAfter, remaining, unit) => {
        const d = retryDelayMs(attempt, retryAfter, remaining, unit);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(remaining);
        if (retryAfter !== undefined) expect(d).toBe(Math.min(Math.max(d, retryAfter * 1000), remaining));
      }),
    );
  });
});

describe("fallback chain", () => {
  const pool = (id: string, tier: PoolSnapshot["tier"], price: number, status: PoolSnapshot["status"] = "available"): PoolSnapshot => ({
    id, tier, status, vramMbPerGpu: 81920, tflopsPerGpu: 312, freeVramMb: 500_000, freeTflops: 5000, pricePerGpuHour: price,
  });
  const pools = [pool("standard-a", "standard", 2.4), pool("premium-a", "premium", 4.9), pool("dedicated-a", "dedicated", 6.5, "down")];
  const qwen = models.get("qwen-14b")!;

  // Any pool type, so that the chain has more than one pool for the model.
  const anyType = withChange({ qos: { pool_type: "any" } });

  it("orders pools cheapest first and ends with the local node", () => {
    const { targets } = planTargets("homeskillet", anyType, qwen, false, pools, true);
    expect(targets.map((t) => t.id)).toEqual(["standard-a", "premium-a", "local"]);
  });

  it("keeps a model on its matrix pool type by default, and says why the others are out", () => {
    const { targets, excluded } = planTargets("homeskillet", base, qwen, false, pools, true);
    expect(targets.map((t) => t.id)).toEqual(["premium-a", "local"]);
    expect(excluded).toEqual([{ id: "standard-a", reason: expect.stringContaining("qos.pool_type") }]);
  });

  it("follows the covenant's order, puts local where it is listed, and says what it ruled out", () => {
    const c = withChange({ qos: { pool_type: "any" }, fallback: ["premium-a", "local", "standard-a", "dedicated-a", "ghost"] });
    const { targets, excluded } = planTargets("homeskillet", c, qwen, false, pools, true);
    expect(targets.map((t) => t.id)).toEqual(["premium-a", "local", "standard-a"]);
    expect(excluded.map((e) => e.id).sort()).toEqual(["dedicated-a", "ghost"]);
    expect(excluded.find((e) => e.id === "dedicated-a")!.reason).toContain("down");
    expect(excluded.find((e) => e.id === "ghost")!.reason).toContain("unknown");
  });

  it("drops pricier fallbacks when the covenant forbids them", () => {
    const c = withChange({ qos: { pool_type: "any" }, cost: { pricier_fallback: false } });
    const { targets, excluded } = planTargets("homeskillet", c, qwen, false, pools, false);
    expect(targets.map((t) => t.id)).toEqual(["standard-a"]);
    expect(excluded[0]).toMatchObject({ id: "premium-a" });
    expect(excluded[0]!.reason).toContain("pricier");
  });

  it("leaves the local node out of the seed baseline unless listed", () => {
    expect(planTargets("seed", base, qwen, false, pools, true).targets.map((t) => t.id)).toEqual(["standard-a"]);
  });
});
