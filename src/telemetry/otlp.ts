/**
 * Span export over OTLP/HTTP with JSON bodies, sent with `fetch` (the only network API a Worker
 * has), and a span processor shaped for Workers: spans wait in memory until the request (or the
 * Durable Object call) that made them ends, and are then exported inside `ctx.waitUntil`, so none
 * is lost when an isolate goes idle and no timer has to outlive a request.
 */
import { TraceFlags, type Context } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace";

export interface OtlpExporterOptions {
  /** The traces endpoint itself, e.g. `https://collector:4318/v1/traces`. */
  url: string;
  /** Sent with every export (a collector's API key, a tenant header). */
  headers: Record<string, string>;
  timeoutMs?: number;
  /** Replaceable in tests. */
  fetch?: typeof fetch;
}

/** How long one export may take before it is given up (the spans in it are then dropped). */
const EXPORT_TIMEOUT_MS = 10_000;
/** A collector that is down should be mentioned, not once per request. */
const WARN_EVERY_MS = 60_000;

export class OtlpJsonExporter implements SpanExporter {
  private failures = 0;
  private lastWarnAt = 0;

  constructor(private readonly opts: OtlpExporterOptions) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    void this.send(spans).then(done);
  }

  /** Posts the spans as one OTLP `ExportTraceServiceRequest`; never rejects. */
  async send(spans: ReadableSpan[]): Promise<ExportResult> {
    if (spans.length === 0) return { code: ExportResultCode.SUCCESS };
    const body = JsonTraceSerializer.serializeRequest(spans);
    if (!body) return this.failed(new Error("spans could not be serialised"));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("OTLP export timed out")), this.opts.timeoutMs ?? EXPORT_TIMEOUT_MS);
    try {
      const res = await (this.opts.fetch ?? fetch)(this.opts.url, {
        method: "POST",
        headers: { ...this.opts.headers, "content-type": "application/json" },
        body,
        signal: controller.signal,
      });
      // The answer is at most a partial-success note: read it so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? { code: ExportResultCode.SUCCESS } : this.failed(new Error(`OTLP collector answered ${res.status}`));
    } catch (err) {
      return this.failed(err instanceof Error ? err : new Error(String(err)));
    } finally {
      clearTimeout(timer);
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  private failed(error: Error): ExportResult {
    this.failures++;
    const now = Date.now();
    if (now - this.lastWarnAt >= WARN_EVERY_MS) {
      this.lastWarnAt = now;
      console.warn(`homeskillet: span export to ${this.opts.url} failed (${this.failures} so far): ${error.message}`);
    }
    return { code: ExportResultCode.FAILED, error };
  }
}

export interface ExportScheduleOptions {
  /** How long spans may wait for others to share their export (OTEL_BSP_SCHEDULE_DELAY). */
  delayMs?: number;
  /** Spans per export; a full batch goes at once (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  maxBatch?: number;
  /** Spans held at most; beyond, new ones are dropped and counted (OTEL_BSP_MAX_QUEUE_SIZE). */
  maxBuffered?: number;
}

/**
 * Buffers ended spans and exports them in batches. A request (or object call) that ends asks for
 * an export within `delayMs` (`exportSoon`) and hands that promise to `ctx.waitUntil`, which keeps
 * the isolate alive until its spans are sent; every request ending meanwhile shares the same
 * export, so spans cost one POST per interval rather than one per request. At most one export runs
 * at a time.
 */
export class ExportOnFlushProcessor implements SpanProcessor {
  private buffer: ReadableSpan[] = [];
  private exporting: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private scheduled: Promise<void> | undefined;
  /** The pending export some call's `waitUntil` already keeps alive. */
  private keptAlive: Promise<void> | undefined;
  private readonly delayMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  /** Spans dropped because the buffer was full (an unreachable collector, a burst). */
  dropped = 0;

  constructor(
    private readonly exporter: Pick<OtlpJsonExporter, "send">,
    opts: ExportScheduleOptions = {},
  ) {
    this.delayMs = opts.delayMs ?? 1000;
    this.maxBatch = opts.maxBatch ?? 512;
    this.maxBuffered = Math.max(opts.maxBuffered ?? 8192, this.maxBatch);
  }

  /** Resolves once the spans ended so far are exported: within `delayMs`, sooner for a full batch. */
  exportSoon(): Promise<void> {
    if (this.buffer.length >= this.maxBatch || this.delayMs <= 0) return this.forceFlush();
    this.scheduled ??= new Promise<void>((resolve) => setTimeout(resolve, this.delayMs)).then(() => {
      this.scheduled = undefined;
      return this.forceFlush();
    });
    return this.scheduled;
  }

  /**
   * `exportSoon`, kept alive by the calling request's `waitUntil` only when no earlier call
   * already keeps that export alive: calls that end while an export is pending share it, and
   * every span buffered by the time it runs goes with it. One `waitUntil` per export rather than
   * per call, since each costs the runtime tens of µs and every strike ends two calls.
   */
  exportAfter(ctx: { waitUntil(promise: Promise<unknown>): void }): void {
    const pending = this.exportSoon();
    if (pending === this.keptAlive) return;
    this.keptAlive = pending;
    ctx.waitUntil(pending);
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    // An unsampled span is never exported (the SDK still hands it over when it records).
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.buffer.push(span);
  }

  /** Resolves once every span ended before the call has been exported (or given up); never rejects. */
  forceFlush(): Promise<void> {
    if (this.exporting) {
      this.queued ??= this.exporting.then(() => {
        this.queued = undefined;
        return this.forceFlush();
      });
      return this.queued;
    }
    if (this.buffer.length === 0) return Promise.resolve();
    this.exporting = this.exportBuffered().finally(() => {
      this.exporting = undefined;
    });
    return this.exporting;
  }

  shutdown(): Promise<void> {
    return this.forceFlush();
  }

  private async exportBuffered(): Promise<void> {
    // What is buffered now, no more: spans that end meanwhile wait for the next export, or under
    // steady load this would chase every new span with a POST of its own.
    const spans = this.buffer;
    this.buffer = [];
    for (let i = 0; i < spans.length; i += this.maxBatch) await this.exporter.send(spans.slice(i, i + this.maxBatch));
  }
}

/** `OTEL_EXPORTER_OTLP_HEADERS` syntax: `key=value,key2=value2`, values percent-encoded. */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    let value = pair.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: keep it as written.
    }
    if (key) headers[key] = value;
  }
  return headers;
}
