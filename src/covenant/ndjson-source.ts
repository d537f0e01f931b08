/**
 * A stream of NDJSON lines that hands a reader everything written since its last read as one
 * chunk. A reader keeping up gets each line at once; a busy one (the edge at saturation) gets the
 * tokens that piled up meanwhile together, so every stage after this one runs once per chunk
 * rather than once per token. A pull source rather than a TransformStream and its writer: no
 * write promise and no pipe between the two sides on every token.
 */
export class NdjsonSource<T> {
  readonly readable: ReadableStream<Uint8Array>;
  private readonly encoder = new TextEncoder();
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private buffered = "";
  /** A read is waiting and nothing was buffered for it: the next line goes to it at once. */
  private pulled: (() => void) | null = null;
  private ending: (() => void) | null = null;
  private done = false;

  /** `onCancel` hears when the reader went away: nothing written after that is read. */
  constructor(onCancel: (reason: unknown) => void) {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          if (this.buffered || this.ending) return this.hand();
          return new Promise<void>((resolve) => (this.pulled = resolve));
        },
        cancel: (reason) => {
          this.done = true;
          this.buffered = "";
          this.pulled?.();
          this.ending?.();
          onCancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Queues one line; a waiting read takes it now. */
  line(value: T): void {
    if (this.done) return;
    this.buffered += JSON.stringify(value) + "\n";
    if (this.pulled) this.hand();
  }

  /** Ends the stream after what is queued; settles when a read has taken the last of it (or the reader is gone). */
  end(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.ending = resolve;
      if (this.pulled) this.hand();
    });
  }

  /** Fails the stream: the reader sees the error. */
  error(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.controller.error(reason);
  }

  private hand(): void {
    const waiting = this.pulled;
    this.pulled = null;
    if (this.buffered) {
      this.controller.enqueue(this.encoder.encode(this.buffered));
      this.buffered = "";
    }
    if (this.ending) {
      this.done = true;
      this.controller.close();
      this.ending();
      this.ending = null;
    }
    waiting?.();
  }
}
