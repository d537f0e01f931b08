import type { StrikeEvent } from "../covenant";

/**
 * The covenant's NDJSON lines, read as the chunks they came in: `nextBatch` gives each read's
 * complete lines together, so a consumer can answer a chunk of tokens with one write
 * (src/covenant/ndjson-source.ts hands over the tokens that pile up while the edge is busy as one
 * chunk). A plain class rather than async generators: every generator layer is a promise hop on
 * every chunk of every stream.
 *
 * `onBroken` hears when the stream broke or ended without its final line (the covenant object is
 * gone, and with it whoever would settle the key's hold); a reader that simply stops reading
 * (`cancel`) is not a break: the covenant settles when it notices.
 */
export class NdjsonReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffered = "";
  /** Lines parsed but not yet handed out by `next`. */
  private queue: StrikeEvent[] = [];
  private ended = false;
  private finished = false;

  constructor(
    body: ReadableStream<Uint8Array>,
    private readonly onBroken?: () => Promise<void>,
  ) {
    this.reader = body.getReader();
  }

  /** The lines of the next chunk (after any `next` left over), or undefined at the end. */
  async nextBatch(): Promise<StrikeEvent[] | undefined> {
    if (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      return batch;
    }
    while (!this.finished) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await this.reader.read();
      } catch (err) {
        this.finished = true;
        if (!this.ended) await this.onBroken?.();
        throw err;
      }
      if (read.done) {
        this.finished = true;
        if (!this.ended) await this.onBroken?.();
        return undefined;
      }
      this.buffered += this.decoder.decode(read.value, { stream: true });
      const last = this.buffered.lastIndexOf("\n");
      if (last < 0) continue;
      const batch: StrikeEvent[] = [];
      for (const text of this.buffered.slice(0, last).split("\n")) {
        if (!text) continue;
        const line = JSON.parse(text) as StrikeEvent;
        if (line.event === "done" || line.event === "error") this.ended = true;
        batch.push(line);
      }
      this.buffered = this.buffered.slice(last + 1);
      if (batch.length) return batch;
    }
    return undefined;
  }

  /** One line at a time, for reading a stream's head. */
  async next(): Promise<StrikeEvent | undefined> {
    if (!this.queue.length) this.queue = (await this.nextBatch()) ?? [];
    return this.queue.shift();
  }

  /** Stop reading: the covenant object's stream is let go. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    void this.reader.cancel().catch(() => {});
  }

  /** Every line, one at a time, cancelling the stream if the loop stops early. */
  async *lines(): AsyncGenerator<StrikeEvent> {
    try {
      for (let batch = await this.nextBatch(); batch; batch = await this.nextBatch()) yield* batch;
    } finally {
      this.cancel();
    }
  }
}
