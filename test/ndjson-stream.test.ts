// The covenant's NDJSON between object and edge: lines that pile up while the reader is busy go
// as one chunk, in order, none lost; the edge reads them back as the chunks they came in, however
// the bytes were split on the way.
import { describe, expect, it } from "vitest";
import { NdjsonReader } from "../src/api/ndjson-reader";
import { NdjsonSource } from "../src/covenant/ndjson-source";
import type { StrikeEvent } from "../src/covenant";

const token = (text: string): StrikeEvent => ({ event: "token", text, model: "m" });
const decoder = new TextDecoder();

function bytes(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
}

describe("NdjsonSource", () => {
  const lineOf = (e: StrikeEvent) => `${JSON.stringify(e)}\n`;

  it("gives a waiting read the first line at once and the lines written meanwhile as one chunk", async () => {
    const source = new NdjsonSource<StrikeEvent>(() => {});
    const reader = source.readable.getReader();
    const first = reader.read();
    source.line(token("a"));
    expect(decoder.decode((await first).value)).toBe(lineOf(token("a")));
    // Nobody reading: these pile up and go together.
    for (const t of ["b", "c", "d"]) source.line(token(t));
    expect(decoder.decode((await reader.read()).value)).toBe(["b", "c", "d"].map((t) => lineOf(token(t))).join(""));
    // The end waits for a read to take the last line, then the stream is closed.
    const done = { event: "error", status: 502, error: { type: "x", message: "y" } } as StrikeEvent;
    source.line(done);
    let ended = false;
    const end = source.end().then(() => (ended = true));
    await Promise.resolve();
    expect(ended).toBe(false);
    expect(decoder.decode((await reader.read()).value)).toBe(lineOf(done));
    await end;
    expect(ended).toBe(true);
    expect((await reader.read()).done).toBe(true);
  });

  it("tells when the reader went away, and ends at once after it", async () => {
    const reasons: unknown[] = [];
    const source = new NdjsonSource<StrikeEvent>((r) => reasons.push(r));
    source.line(token("a"));
    await source.readable.cancel("gone");
    expect(reasons).toEqual(["gone"]);
    source.line(token("b"));
    await source.end();
  });

  it("passes a failure on to the reader", async () => {
    const source = new NdjsonSource<StrikeEvent>(() => {});
    const reader = source.readable.getReader();
    source.error(new Error("broken"));
    await expect(reader.read()).rejects.toThrow("broken");
  });
});

describe("NdjsonReader", () => {
  const lines = [token("a"), token("b"), { event: "done", strike_id: "stk_1", strike: {} } as unknown as StrikeEvent];
  const text = lines.map((l) => JSON.stringify(l) + "\n").join("");
  const batches = async (reader: NdjsonReader) => {
    const got: StrikeEvent[][] = [];
    for (let b = await reader.nextBatch(); b; b = await reader.nextBatch()) got.push(b);
    return got;
  };

  it("gives each chunk's complete lines together, whatever the split", async () => {
    for (let cut = 1; cut < text.length; cut += 7) {
      const got = await batches(new NdjsonReader(bytes(text.slice(0, cut), text.slice(cut))));
      expect(got.flat()).toEqual(lines);
      expect(got.length).toBeLessThanOrEqual(2);
    }
    expect(await batches(new NdjsonReader(bytes(text)))).toEqual([lines]);
  });

  it("calls a stream that ends without its final line broken, and one that has it not", async () => {
    let broken = 0;
    for await (const _ of new NdjsonReader(bytes(text), async () => void broken++).lines()) void _;
    expect(broken).toBe(0);
    for await (const _ of new NdjsonReader(bytes(JSON.stringify(token("a")) + "\n"), async () => void broken++).lines()) void _;
    expect(broken).toBe(1);
  });

  it("hands out the head line by line, then the rest of its chunk and the chunks after", async () => {
    const reader = new NdjsonReader(bytes(text.split("\n").slice(0, 2).join("\n") + "\n", JSON.stringify(token("c")) + "\n"));
    expect(await reader.next()).toEqual(token("a"));
    expect(await batches(reader)).toEqual([[token("b")], [token("c")]]);
  });

  it("lets the covenant's stream go when the reader stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify(token("a")) + "\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const reader = new NdjsonReader(body);
    expect(await reader.next()).toEqual(token("a"));
    reader.cancel();
    expect(cancelled).toBe(true);
  });
});
