// Bounded fan-out: however many objects a tenant creates, no more than `limit` calls are in flight.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findLimit, mapLimit } from "../src/concurrency";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mapLimit", () => {
  it("never has more than `limit` calls in flight, and keeps the items' order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(3), { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), async (delays, limit) => {
        let inFlight = 0;
        let peak = 0;
        const out = await mapLimit(delays, limit, async (d, i) => {
          peak = Math.max(peak, ++inFlight);
          await tick(d);
          inFlight--;
          return i * 2;
        });
        expect(peak).toBeLessThanOrEqual(limit);
        if (delays.length > 0) expect(peak).toBeGreaterThanOrEqual(Math.min(1, limit));
        expect(out).toEqual(delays.map((_, i) => i * 2));
      }),
      { numRuns: 40 },
    );
  });

  it("refuses a limit below one rather than running nothing", async () => {
    await expect(mapLimit([1], 0, async (x) => x)).rejects.toThrow(RangeError);
  });
});

describe("findLimit", () => {
  it("starts no new call once an answer is found", async () => {
    const asked: number[] = [];
    const items = Array.from({ length: 400 }, (_, i) => i);
    const found = await findLimit(items, 8, async (i) => {
      asked.push(i);
      await tick(1);
      return i === 5 ? `found ${i}` : undefined;
    });
    expect(found).toBe("found 5");
    // The first eight start together; at most one more batch's worth begins before 5 answers.
    expect(asked.length).toBeLessThanOrEqual(16);
  });

  it("is undefined when nothing matches", async () => {
    expect(await findLimit([1, 2, 3], 2, async () => undefined)).toBeUndefined();
  });
});
