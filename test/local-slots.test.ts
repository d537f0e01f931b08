// The local node's slots per covenant object: at most `max` strikes on the node at once, the rest
// served in the order they came, each waiting only as long as its deadline allows.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOCAL_NODE_MAX_CONCURRENCY, LocalSlots, localConcurrencyFrom } from "../src/covenant/local-slots";

const tick = () => new Promise((r) => setTimeout(r, 0));
const far = () => Date.now() + 60_000;

describe("LocalSlots", () => {
  it("hands out up to max at once, then one per freed slot, first come first served", async () => {
    const slots = new LocalSlots(2);
    const a = (await slots.take(far()))!;
    const b = (await slots.take(far()))!;
    const granted: string[] = [];
    const pending = ["c", "d", "e"].map((name) => slots.take(far()).then((free) => (granted.push(name), free!)));
    await tick();
    expect([slots.busy, slots.waiting, granted]).toEqual([2, 3, []]);
    a();
    a(); // freeing twice frees once
    await tick();
    expect(granted).toEqual(["c"]);
    b();
    await tick();
    expect(granted).toEqual(["c", "d"]);
    // A newcomer while "e" waits queues behind it, even when a slot is free at that moment.
    (await pending[0]!)();
    const late = slots.take(far()).then((free) => (granted.push("late"), free!));
    await tick();
    expect(granted).toEqual(["c", "d", "e"]);
    for (const free of await Promise.all([pending[1]!, pending[2]!])) free();
    await late.then((free) => free());
    expect(granted).toEqual(["c", "d", "e", "late"]);
    expect([slots.busy, slots.waiting]).toEqual([0, 0]);
  });

  it("gives up at the deadline or on abort, and the one that gave up leaves the queue", async () => {
    const slots = new LocalSlots(1);
    const held = (await slots.take(far()))!;
    expect(await slots.take(Date.now() + 20)).toBeUndefined();
    const abort = new AbortController();
    const aborted = slots.take(far(), abort.signal);
    await tick();
    abort.abort();
    expect(await aborted).toBeUndefined();
    expect(await slots.take(Date.now() - 1)).toBeUndefined();
    expect(slots.waiting).toBe(0);
    held();
    expect(slots.busy).toBe(0);
    const next = await slots.take(far());
    expect(next).toBeTypeOf("function");
  });

  it("never has more than max on the node, and serves everyone in the order they asked (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 12 }), async (max, holds) => {
        const slots = new LocalSlots(max);
        let onNode = 0;
        let most = 0;
        const order: number[] = [];
        await Promise.all(
          holds.map(async (ticks, i) => {
            const free = await slots.take(far());
            expect(free).toBeTypeOf("function");
            order.push(i);
            most = Math.max(most, ++onNode);
            for (let t = 0; t < ticks; t++) await tick();
            onNode--;
            free!();
          }),
        );
        // Every strike holds its slot for at least one turn of the event loop, so the first `max`
        // are on the node together before any leaves.
        expect(most).toBe(Math.min(max, holds.length));
        expect(order).toEqual(holds.map((_, i) => i));
        expect([slots.busy, slots.waiting]).toEqual([0, 0]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("LOCAL_NODE_MAX_CONCURRENCY", () => {
  it.each([
    [undefined, DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["", DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["0", DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["1025", DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["2.5", DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["many", DEFAULT_LOCAL_NODE_MAX_CONCURRENCY],
    ["1", 1],
    [" 8 ", 8],
    ["1024", 1024],
  ])("reads %j as %i", (raw, expected) => {
    expect(localConcurrencyFrom(raw)).toBe(expected);
  });
});
