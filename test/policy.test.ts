import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capacityBackoffMs, DEFAULT_MODELS, modelCatalogue, SEED_PREEMPTIBLE_VRAM_MB, seedChoice, seedPlacement, type ModelSpec, type PoolSnapshot } from "../src/policy";

const models = modelCatalogue();
const model = (id: string) => models.get(id)!;

function pool(id: string, tier: PoolSnapshot["tier"], over: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return { id, tier, status: "available", vramMbPerGpu: 81920, tflopsPerGpu: 312, freeVramMb: 81920 * 4, freeTflops: 1248, pricePerGpuHour: 2, ...over };
}

const POOLS = [
  pool("standard-us-east", "standard", { preemptiblePricePerGpuHour: 0.6 }),
  pool("premium-us-east", "premium"),
  pool("dedicated-us-east", "dedicated"),
];

describe("seed rule", () => {
  it("latency-sensitive → dedicated; VRAM < 8000 MB → preemptible (on a standard pool); otherwise standard", () => {
    expect(seedChoice(model("qwen-70b"), true)).toEqual({ tier: "dedicated", preemptible: false });
    expect(seedChoice(model("gemma-2b-it"), true)).toEqual({ tier: "dedicated", preemptible: false });
    expect(seedChoice(model("gemma-2b-it"), false)).toEqual({ tier: "standard", preemptible: true });
    expect(seedChoice(model("mistral-7b"), false)).toEqual({ tier: "standard", preemptible: true });
    expect(seedChoice(model("qwen-14b"), false)).toEqual({ tier: "standard", preemptible: false });
    expect(seedChoice(model("qwen-70b"), false)).toEqual({ tier: "standard", preemptible: false });
  });

  it("draws the line at the document's 8000 MB, not 8 GiB", () => {
    expect(SEED_PREEMPTIBLE_VRAM_MB).toBe(8000);
    const sized = (vramMb: number): ModelSpec => ({ ...model("mistral-7b"), vramMb });
    expect(seedChoice(sized(7999), false).preemptible).toBe(true);
    expect(seedChoice(sized(8000), false).preemptible).toBe(false);
    expect(seedChoice(sized(8100), false).preemptible).toBe(false);
  });

  it("places on a pool of the tier that is up and big enough, most free VRAM first", () => {
    const pools = [
      pool("standard-a", "standard", { freeVramMb: 1000 }),
      pool("standard-b", "standard", { freeVramMb: 9000 }),
      pool("standard-c", "standard", { freeVramMb: 99999, status: "down" }),
    ];
    const r = seedPlacement(model("qwen-14b"), false, pools);
    expect(r).toMatchObject({ kind: "place", placement: { poolId: "standard-b", preemptible: false, requirements: { min_vram_mb: 14336, min_tflops: 20 } } });
  });

  it("asks for a preemptible allocation on a standard pool, as the document's own example does", () => {
    expect(seedPlacement(model("gemma-2b-it"), false, POOLS)).toMatchObject({ kind: "place", placement: { tier: "standard", poolId: "standard-us-east", preemptible: true } });
    expect(seedPlacement(model("gemma-2b-it"), true, POOLS)).toMatchObject({ kind: "place", placement: { poolId: "dedicated-us-east", preemptible: false } });
  });

  it("asks for an ordinary allocation where the covenant or the model forbids preemptible ones", () => {
    expect(seedPlacement(model("gemma-2b-it"), false, POOLS, false)).toMatchObject({ kind: "place", placement: { poolId: "standard-us-east", preemptible: false } });
  });

  it("says why when no pool of the tier can hold the model", () => {
    const small = [pool("standard-small", "standard", { vramMbPerGpu: 24576 })];
    const r = seedPlacement(model("qwen-32b"), false, small);
    expect(r.kind).toBe("no_pool");
    if (r.kind === "no_pool") expect(r.reason).toContain("qwen-32b");
  });

  it("is deterministic for any pool listing", () => {
    const snapshot = fc.record({
      id: fc.string({ minLength: 1, maxLength: 8 }),
      tier: fc.constantFrom("standard", "premium", "dedicated", "spot") as fc.Arbitrary<PoolSnapshot["tier"]>,
      status: fc.constantFrom("available", "degraded", "down") as fc.Arbitrary<PoolSnapshot["status"]>,
      vramMbPerGpu: fc.integer({ min: 0, max: 100_000 }),
      tflopsPerGpu: fc.integer({ min: 0, max: 1000 }),
      freeVramMb: fc.integer({ min: 0, max: 1_000_000 }),
      freeTflops: fc.integer({ min: 0, max: 10_000 }),
      pricePerGpuHour: fc.double({ min: 0, max: 10, noNaN: true }),
    });
    fc.assert(
      // Pool ids are unique in any real listing.
      fc.property(fc.uniqueArray(snapshot, { maxLength: 8, selector: (p) => p.id }), fc.constantFrom(...DEFAULT_MODELS), fc.boolean(), (pools, m, ls) => {
        const a = seedPlacement(m, ls, pools);
        expect(seedPlacement(m, ls, [...pools].reverse())).toEqual(a);
        if (a.kind === "place") {
          const chosen = pools.find((p) => p.id === a.placement.poolId)!;
          expect(chosen.tier).toBe(seedChoice(m, ls).tier);
          expect(a.placement.preemptible).toBe(seedChoice(m, ls).preemptible);
          expect(chosen.status).not.toBe("down");
          expect(chosen.vramMbPerGpu).toBeGreaterThanOrEqual(m.vramMb);
        }
      }),
    );
  });
});

describe("capacity backoff", () => {
  it("grows, caps at 2 s and at Retry-After, never passes the deadline", () => {
    expect(capacityBackoffMs(0, undefined, 10_000, 1)).toBe(100);
    expect(capacityBackoffMs(3, undefined, 10_000, 1)).toBe(800);
    expect(capacityBackoffMs(20, undefined, 10_000, 1)).toBe(2000);
    expect(capacityBackoffMs(20, 1, 10_000, 1)).toBe(1000);
    expect(capacityBackoffMs(20, undefined, 300, 1)).toBe(300);
    expect(capacityBackoffMs(3, undefined, 10_000, 0)).toBe(400);
  });
});
