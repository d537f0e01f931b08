// readUpstream's deadlines: no first token, a stall after tokens, and tokens that keep coming
// (each moves the idle deadline). Behaviour only: which error, after how many tokens.
import { describe, expect, it } from "vitest";
import { MidStreamError, readUpstream } from "../src/covenant/stream-reader";
import { UpstreamError } from "../src/providers/errors";
import type { UpstreamStreamEvent } from "../src/providers/stream";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream that sends `tokens` with `gapMs` between them, then `done` (or nothing, and stays open). */
function upstream(tokens: string[], gapMs: number, finish: boolean): { stream: ReadableStream<UpstreamStreamEvent>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<UpstreamStreamEvent>({
    async start(controller) {
      for (const text of tokens) {
        await sleep(gapMs);
        if (cancelled) return;
        controller.enqueue({ type: "token", text });
      }
      if (finish) controller.enqueue({ type: "done", finishReason: "stop" } as UpstreamStreamEvent);
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

describe("readUpstream deadlines", () => {
  it("fails with timeout, an UpstreamError, when no first token comes", async () => {
    const { stream, cancelled } = upstream([], 0, false);
    const err = await readUpstream("local", stream, { firstTokenMs: 20, idleMs: 1000, onToken: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).type).toBe("timeout");
    expect(cancelled()).toBe(true);
  });

  it("fails with stream_stalled, a MidStreamError with the tokens sent, when tokens stop", async () => {
    const { stream, cancelled } = upstream(["a", "b"], 1, false);
    const seen: string[] = [];
    const err = await readUpstream("local", stream, { firstTokenMs: 1000, idleMs: 30, onToken: (t) => seen.push(t) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MidStreamError);
    expect((err as MidStreamError).type).toBe("stream_stalled");
    expect((err as MidStreamError).tokensSent).toBe(2);
    expect(seen).toEqual(["a", "b"]);
    expect(cancelled()).toBe(true);
  });

  it("reads a stream whose whole length passes the idle deadline, as long as each gap is shorter", async () => {
    const { stream } = upstream(["a", "b", "c", "d", "e", "f"], 10, true);
    const read = await readUpstream("local", stream, { firstTokenMs: 1000, idleMs: 40, onToken: () => {} });
    expect(read).toMatchObject({ text: "abcdef", tokens: 6, finishReason: "stop" });
  });
});
