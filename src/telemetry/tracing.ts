/**
 * Distributed tracing, instrumented with the OpenTelemetry API and exported with the OpenTelemetry
 * SDK over OTLP/HTTP (src/telemetry/otlp.ts) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Without an endpoint no tracer provider is
 * registered: spans are the API's non-recording ones, nothing is buffered or sent, and only the
 * trace context itself travels (so logs and upstream `traceparent` headers still carry a trace id).
 *
 * The active context lives in AsyncLocalStorage (workerd provides it under `nodejs_compat`), so a
 * span started around a strike is the parent of every upstream call made on its behalf without
 * passing it through the covenant's code. Across the edge → Durable Object RPC hop the context
 * travels as a `traceparent` string in the strike's input.
 */
import {
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type Sampler } from "@opentelemetry/sdk-trace";
import { pulledStream, type StreamHooks } from "../streams";
import { VERSION } from "../version";
import { ExportOnFlushProcessor, OtlpJsonExporter, parseOtlpHeaders } from "./otlp";
import { newSpanId, randomHex, traceFrom } from "./trace-context";

/** The configuration tracing reads (see wrangler.toml and the README's Tracing section). */
export interface TracingEnv {
  /** Base URL of an OTLP/HTTP collector; spans go to `<base>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** The traces URL itself, used as given (wins over the base URL). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  /** `key=value,key2=value2` sent with every export (e.g. a collector's API key). */
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_EXPORTER_OTLP_TRACES_HEADERS?: string;
  /** `service.name` of the exported spans; `homeskillet` by default. */
  OTEL_SERVICE_NAME?: string;
  /**
   * Which traces are recorded, with OpenTelemetry's names: `always_on`, `always_off`,
   * `traceidratio` (the default), or `parentbased_` before any of them. Only a parent-based
   * sampler lets a caller's sampled flag decide; by default the deployment decides alone.
   */
  OTEL_TRACES_SAMPLER?: string;
  /** The ratio (0..1) for `traceidratio` samplers; 1 by default. */
  OTEL_TRACES_SAMPLER_ARG?: string;
  /** Ms spans wait for others to share an export (1000 by default). */
  OTEL_BSP_SCHEDULE_DELAY?: string;
  /** Spans per export; a full batch is sent at once (512 by default). */
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE?: string;
  /** Spans held at most while waiting; more are dropped (8192 by default). */
  OTEL_BSP_MAX_QUEUE_SIZE?: string;
}

// One context manager per isolate, registered when this module loads: contexts must flow even
// when no spans are exported, because logs and upstream `traceparent` headers read them.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** A ProxyTracer: it delegates to the SDK's tracer once one is registered, else records nothing. */
const tracer = trace.getTracer("homeskillet", VERSION);

let processor: ExportOnFlushProcessor | undefined;
let configured = false;

/** Where spans are exported, or undefined when tracing is off (no or an unusable endpoint). */
export function tracesUrl(env: TracingEnv): string | undefined {
  const explicit = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // Trailing slashes go by a scan (test/audit: /\/+$/ is quadratic in a run of slashes).
  let end = base?.length ?? 0;
  while (end > 0 && base!.charCodeAt(end - 1) === 0x2f) end--;
  const url = explicit || (base ? `${base.slice(0, end)}/v1/traces` : "");
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the tracing configuration once per isolate (the edge's first request, a Durable Object's
 * construction) and, when an endpoint is set, registers the SDK.
 */
export function configureTracing(env: TracingEnv): void {
  if (configured) return;
  configured = true;
  const url = tracesUrl(env);
  if (!url) return;
  const headers = { ...parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), ...parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) };
  processor = new ExportOnFlushProcessor(new OtlpJsonExporter({ url, headers }), {
    delayMs: positive(env.OTEL_BSP_SCHEDULE_DELAY),
    maxBatch: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
    maxBuffered: positive(env.OTEL_BSP_MAX_QUEUE_SIZE),
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME?.trim() || "homeskillet", "service.version": VERSION }),
    sampler: samplerFrom(env),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(provider);
}

/**
 * The sampler `OTEL_TRACES_SAMPLER` names. A client's `traceparent` always gives its trace id (so
 * its trace continues), but whether we record and export is ours to decide: a caller that sets
 * the sampled flag on every request must not be able to switch on recording for a deployment that
 * samples 1 %. Parent-based sampling is there for operators who want it and say so.
 */
export function samplerFrom(env: Pick<TracingEnv, "OTEL_TRACES_SAMPLER" | "OTEL_TRACES_SAMPLER_ARG">): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || "traceidratio";
  const raw = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  const ratio = Number.isFinite(raw) ? Math.min(1, Math.max(0, raw)) : 1;
  const parentBased = name.startsWith("parentbased_");
  const root = parentBased ? name.slice("parentbased_".length) : name;
  const base: Sampler =
    root === "always_off" ? new AlwaysOffSampler() : root === "always_on" || ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio);
  return parentBased ? new ParentBasedSampler({ root: base }) : base;
}

function positive(raw: string | undefined): number | undefined {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isFinite(n) && n >= 0 ? n : undefined;
}

export function tracingEnabled(): boolean {
  return processor !== undefined;
}

/** Exports every span ended so far; hand the promise to `ctx.waitUntil`. Never rejects. */
export function flushSpans(): Promise<void> {
  return processor?.forceFlush() ?? Promise.resolve();
}

/**
 * Exports the spans of the current request or call after its answer, batched with whatever else
 * ends within the schedule delay; a `waitUntil` keeps the isolate alive until they are sent.
 */
export function flushAfter(ctx: { waitUntil(promise: Promise<unknown>): void } | undefined): void {
  if (processor && ctx) processor.exportAfter(ctx);
}

// ---- who a piece of work is for: read by upstream spans and log lines --------------------------

export interface Who {
  tenant?: string;
  covenant?: string;
  strikeId?: string;
}

const WHO = createContextKey("homeskillet.who");

export function whoIsActive(ctx: Context = context.active()): Who {
  return (ctx.getValue(WHO) as Who | undefined) ?? {};
}

export function withWho(ctx: Context, who: Who): Context {
  return ctx.setValue(WHO, { ...whoIsActive(ctx), ...who });
}

// ---- spans ---------------------------------------------------------------------------------------

/**
 * Runs `fn` inside a new active span under `parent` (the active context by default). An exception
 * marks the span as failed and is rethrown; the span always ends.
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
  if (!processor) {
    try {
      return untraced(fn, parent);
    } catch (err) {
      return Promise.reject(err); // as from the async function the traced path runs
    }
  }
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Tracing off: what the API's no-op tracer would do, without its cost on every strike. Its span
 * would be a non-recording span carrying the parent's span context, made active in a copy of the
 * parent context; the parent's own span carries the same ids (or none, as the no-op's would), so it
 * stands in, and the parent is made active only when it is not already. Every span method is a
 * no-op on it, as on the span it replaces.
 */
function untraced<T>(fn: (span: Span) => T, parent: Context): T {
  const span = trace.getSpan(parent) ?? NO_SPAN;
  return parent === context.active() ? fn(span) : context.with(parent, fn, undefined, span);
}
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** `inSpan` for synchronous work (the classifier). */
export function inSpanSync<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T {
  if (!processor) return untraced(fn, context.active());
  return tracer.startActiveSpan(name, options, (span) => {
    try {
      return fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span that is not made active (nothing runs inside it that could start children). */
export function startSpan(name: string, options: SpanOptions, parent: Context = context.active()): Span {
  return tracer.startSpan(name, options, parent);
}

/** Marks a span failed with the error's type (an UpstreamError's `type`, else its class name). */
export function failSpan(span: Span, err: unknown, type?: string): void {
  const e = err as { type?: unknown; status?: unknown; name?: unknown; message?: unknown } | undefined;
  const errorType = type ?? (typeof e?.type === "string" ? e.type : typeof e?.name === "string" ? e.name : "error");
  span.setAttribute("error.type", errorType);
  if (typeof e?.status === "number") span.setAttribute("homeskillet.upstream.status", e.status);
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof e?.message === "string" ? e.message.slice(0, 200) : errorType });
}

// ---- W3C trace context across hops -------------------------------------------------------------

/** The `traceparent` naming the active span, to send to the next hop; undefined without a trace. */
export function activeTraceparent(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpanContext(ctx);
  if (!sc || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
}

/**
 * The context an incoming `traceparent` describes (a remote parent), or the root context when it
 * is missing or invalid — an invalid header starts a new trace, it is never an error.
 */
export function contextFromTraceparent(header: string | null | undefined): Context {
  const t = traceFrom(header);
  if (!t.parentSpanId) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: t.traceId,
    spanId: t.parentSpanId,
    traceFlags: t.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

/**
 * The parent of an edge request's span. With tracing on it is the client's context (or none: the
 * SDK starts a trace). With tracing off there is no SDK to make ids, so this hop's own span
 * context is made here: the client's trace id (or a new one) with a new span id.
 */
export function edgeParent(header: string | null | undefined): Context {
  if (tracingEnabled()) return contextFromTraceparent(header);
  const t = traceFrom(header);
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: t.traceId, spanId: t.spanId, traceFlags: t.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE });
}

/**
 * Ids for a span's log line and outgoing `traceparent`. A non-recording span (tracing off) only
 * carries its parent's ids, so it gets a span id of its own here, and a trace id when it has none.
 */
export function spanIds(span: Span): { traceId: string; spanId: string; sampled: boolean } {
  const sc = span.spanContext();
  const sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  if (span.isRecording()) return { traceId: sc.traceId, spanId: sc.spanId, sampled };
  return { traceId: isSpanContextValid(sc) ? sc.traceId : randomHex(16), spanId: newSpanId(), sampled };
}

/**
 * The same stream, read through: `onEvent` sees each chunk, `onEnd` hears once how it ended (read
 * to the end, failed, or cancelled by its reader), so a span can last as long as a stream does.
 */
export function relayStream<E>(source: ReadableStream<E>, hooks: StreamHooks<E>): ReadableStream<E> {
  return pulledStream<E, E>(source, (event, enqueue) => enqueue(event), { hooks });
}
