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

/**
 * Buffers ended spans and exports them when asked (`forceFlush`, called at the end of each request
 * inside `waitUntil`). At most one export runs at a time; flushes asked for meanwhile share the next
 * one, so under load many requests' spans travel in one POST instead of one POST each.
 */
export class ExportOnFlushProcessor implements SpanProcessor {
  private buffer: ReadableSpan[] = [];
  private exporting: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Spans dropped because the buffer was full (an unreachable collector, a burst). */
  dropped = 0;

  constructor(
    private readonly exporter: Pick<OtlpJsonExporter, "send">,
    private readonly maxBuffered = 8192,
    private readonly maxBatch = 1024,
  ) {}

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
    // Spans that end while a batch is on its way join the next batch of the same export.
    while (this.buffer.length > 0) {
      await this.exporter.send(this.buffer.splice(0, this.maxBatch));
    }
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
