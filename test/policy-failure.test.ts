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
    expect(countsAgainstBreaker(503, "local_node_busy")).toBe(false);
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
    expect(isRetryable(503, "local_node_busy")).toBe(false);
    expect(isRetryable(400, "invalid_request")).toBe(false);
  });

  // The documented backoff: full jitter, uniform in [0, cap) with cap = min(2 s, 50 ms × 2^attempt);
  // at least the upstream's Retry-After; never past the deadline. `unit` is the caller's random draw.
  const cap = (attempt: number) => Math.min(2_000, 50 * 2 ** attempt);

  it("backs off with full jitter: the draw spreads delays across [0, cap), the cap doubling from 50 ms to 2 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((a) => retryDelayMs(a, undefined, 60_000, 0.5))).toEqual([25, 50, 100, 200, 400, 800, 1_000, 1_000]);
    // Different draws, different delays: the lowest draw waits nothing, the highest just under the cap.
    const units = Array.from({ length: 100 }, (_, i) => i / 100);
    for (const attempt of [0, 2, 5, 8]) {
      const delays = units.map((u) => retryDelayMs(attempt, undefined, 60_000, u));
      expect(delays[0]).toBe(0);
      expect(delays.at(-1)).toBeCloseTo(cap(attempt) * 0.99, 9);
      expect(Math.max(...delays)).toBeLessThan(cap(attempt));
      expect(new Set(delays).size, "every draw its own delay").toBe(units.length);
      delays.slice(1).forEach((d, i) => expect(d).toBeGreaterThan(delays[i]!));
      // Spread evenly: each quarter of [0, cap) gets a quarter of the draws.
      for (let q = 0; q < 4; q++) expect(delays.filter((d) => d >= (q * cap(attempt)) / 4 && d < ((q + 1) * cap(attempt)) / 4)).toHaveLength(25);
    }
    expect(retryDelayMs(3, undefined, 60_000, 0.999)).toBeCloseTo(399.6, 9);
  });

  it("honours Retry-After: waits exactly that long when the jitter would be shorter, and the jitter when it is longer", () => {
    for (const unit of [0, 0.3, 0.999]) {
      expect(retryDelayMs(0, 1, 60_000, unit)).toBe(1_000);
      expect(retryDelayMs(2, 3, 60_000, unit)).toBe(3_000);
      expect(retryDelayMs(10, 30, 60_000, unit)).toBe(30_000);
    }
    // A cap of 2 s and a draw of 0.9: 1.8 s of jitter is already past a Retry-After of 1 s.
    expect(retryDelayMs(6, 1, 60_000, 0.9)).toBe(1_800);
    expect(retryDelayMs(6, 1, 60_000, 0.25)).toBe(1_000);
    // Retry-After: 0 is no floor at all.
    expect(retryDelayMs(3, 0, 60_000, 0.5)).toBe(200);
  });

  it("never waits past the deadline, Retry-After or not", () => {
    expect(retryDelayMs(0, 30, 5_000, 0.5)).toBe(5_000);
    expect(retryDelayMs(10, undefined, 700, 0.99)).toBe(700);
    expect(retryDelayMs(2, 1, 0, 0.5)).toBe(0);
    expect(retryDelayMs(2, 1, -250, 0.5)).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }), fc.integer({ min: -1_000, max: 60_000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (attempt, retryAfter, remaining, unit) => {
        const d = retryDelayMs(attempt, retryAfter, remaining, unit);
        const room = Math.max(0, remaining);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(room);
        // Within the deadline: at least Retry-After, and never more than the larger of it and the cap.
        const floor = (retryAfter ?? 0) * 1_000;
        if (room >= floor) expect(d).toBeGreaterThanOrEqual(floor);
        if (room >= Math.max(floor, cap(attempt))) expect(d).toBeLessThan(Math.max(floor + 1, cap(attempt)));
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
