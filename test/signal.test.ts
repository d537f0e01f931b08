// The covenant's wake-ups: a freed slot wakes one waiter, offered on in the order they began
// waiting to those waiting since before it was freed; a change for all wakes all; waiters that
// time out or are aborted leave.
import { describe, expect, it } from "vitest";
import { Signal, type Wake } from "../src/covenant/signal";

const tick = () => new Promise((r) => setTimeout(r, 0));

function waiter(signal: Signal, name: string, log: string[], timeoutMs = 60_000, abort?: AbortSignal) {
  let wake: Wake | "pending" = "pending";
  void signal.next(timeoutMs, abort).then((w) => {
    wake = w;
    log.push(name);
  });
  return { get wake() { return wake; } };
}

describe("Signal", () => {
  it("wakes the longest waiter for one freed slot, and hands it on only to those waiting before it was freed", async () => {
    const signal = new Signal();
    const log: string[] = [];
    const a = waiter(signal, "a", log);
    const b = waiter(signal, "b", log);
    const c = waiter(signal, "c", log);
    signal.notifyOne();
    await tick();
    expect(log).toEqual(["a"]);
    expect(signal.waiting).toBe(2);
    // a cannot use the slot: it waits again (after the wake-up was given) and hands it on.
    waiter(signal, "a again", log);
    signal.passOn(a.wake as Wake);
    await tick();
    expect(log).toEqual(["a", "b"]);
    // Nobody can: it goes round those waiting before, never back to one that began after.
    expect(b.wake).toEqual(a.wake);
    signal.passOn(b.wake as Wake);
    await tick();
    expect(log).toEqual(["a", "b", "c"]);
    signal.passOn(c.wake as Wake);
    await tick();
    expect(log).toEqual(["a", "b", "c"]);
    expect(signal.waiting).toBe(1);
  });

  it("wakes everyone for a change that may matter to any of them, with no wake-up to hand on", async () => {
    const signal = new Signal();
    const log: string[] = [];
    const waiters = ["a", "b", "c"].map((n) => waiter(signal, n, log));
    signal.notify();
    await tick();
    expect(log).toEqual(["a", "b", "c"]);
    expect(waiters.map((w) => w.wake)).toEqual([undefined, undefined, undefined]);
    expect(signal.waiting).toBe(0);
  });

  it("lets waiters that timed out or were aborted leave, so a wake-up is never spent on them", async () => {
    const signal = new Signal();
    const log: string[] = [];
    const abort = new AbortController();
    waiter(signal, "short", log, 1);
    waiter(signal, "aborted", log, 60_000, abort.signal);
    waiter(signal, "patient", log);
    abort.abort();
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(["aborted", "short"]);
    signal.notifyOne();
    await tick();
    expect(log).toEqual(["aborted", "short", "patient"]);
  });

  it("wakes a thousand waiters one by one, in the order they began", async () => {
    const signal = new Signal();
    const woken: number[] = [];
    for (let i = 0; i < 1000; i++) void signal.next(60_000).then(() => woken.push(i));
    for (let i = 0; i < 1000; i++) signal.notifyOne();
    await tick();
    expect(woken).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
