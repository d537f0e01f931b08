/**
 * Every call to an upstream (Hosted.AI, the local node) gets a CLIENT span, a `traceparent` naming
 * that span for the upstream to continue, and one JSON log line when it ends — with the trace id,
 * tenant, covenant and strike of whatever work it was made for (read from the active context).
 */
import { SpanKind, SpanStatusCode, type Attributes, type Span } from "@opentelemetry/api";
import { emit, outcomeOf, type Outcome } from "./log";
import type { StreamHooks } from "../streams";
import { failSpan, spanIds, startSpan, tracingEnabled, whoIsActive } from "./tracing";
import { attemptPoolActive, failureKind, upstreamSinkActive } from "./upstream-failures";

export interface UpstreamCallInfo {
  /** `hostedai` or `local` (the local node). */
  provider: string;
  /** What was asked: `token`, `pools`, `allocate`, `infer`, `release`, `metrics`, `list`, `get`, `models`. */
  op: string;
  method?: string;
  /** The request path (ids, never a query string or a body). */
  path?: string;
  allocationId?: string;
  pool?: string;
  model?: string;
}

/** What the caller learns from an answer: the allocation granted, the tokens, the cost. */
export interface UpstreamResult {
  allocationId?: string;
  pool?: string;
  promptTokens?: number;
  completionTokens?: number;
  costUsd?: number;
}

/** Handed to the code that sends the request. */
export interface UpstreamCall {
  /** The W3C `traceparent` to send: this call's span as the parent. */
  traceparent: string;
  /** Records the HTTP status the upstream answered with. */
  status(code: number): void;
}

/**
 * One upstream call's span and log line, and when it fails, its count in the metrics of the
 * covenant object it was made for. `finish` ends them exactly once; later calls are ignored (a
 * stream can end, be cancelled and fail in any order).
 */
export class UpstreamCallRecord implements UpstreamCall {
  readonly traceparent: string;
  private readonly span: Span;
  private readonly ids: { traceId: string; spanId: string };
  private readonly started = Date.now();
  private readonly result: UpstreamResult = {};
  /** Read when the call starts: a stream may end in some other piece of work's context. */
  private readonly who = whoIsActive();
  /** Where a failure is counted, and the pool of the attempt the call runs under (both from the context). */
  private readonly sink = upstreamSinkActive();
  private readonly attemptPool = attemptPoolActive();
  private httpStatus = 0;
  private done = false;

  constructor(private readonly info: UpstreamCallInfo) {
    // Tenant, covenant and strike are on the covenant span this call runs under (and on the log
    // line): not repeated on every call's span. With tracing off nothing would read them.
    const attributes: Attributes | undefined = tracingEnabled()
      ? {
          "homeskillet.upstream.provider": info.provider,
          "homeskillet.upstream.op": info.op,
          ...(info.method && { "http.request.method": info.method }),
          ...(info.allocationId && { "homeskillet.allocation_id": info.allocationId }),
          ...(info.pool && { "homeskillet.pool": info.pool }),
          ...(info.model && { "gen_ai.request.model": info.model }),
        }
      : undefined;
    this.span = startSpan(`${info.provider} ${info.op}`, { kind: SpanKind.CLIENT, attributes });
    const ids = spanIds(this.span);
    this.ids = ids;
    this.traceparent = `00-${ids.traceId}-${ids.spanId}-${ids.sampled ? "01" : "00"}`;
  }

  status(code: number): void {
    this.httpStatus = code;
  }

  /** Adds what the answer said (tokens, cost, the allocation granted). */
  learn(result: UpstreamResult): void {
    const into = this.result as Record<string, unknown>;
    for (const key in result) {
      const value = result[key as keyof UpstreamResult];
      if (value !== undefined) into[key] = value;
    }
  }

  /** Ends the call: successfully, or with an error (an UpstreamError's status and type are read). */
  finish(error?: unknown, errorType?: string): void {
    if (this.done) return;
    this.done = true;
    const e = error as { status?: unknown; type?: unknown; detail?: unknown } | undefined;
    let status = this.httpStatus;
    let outcome: Outcome;
    let type: string | undefined;
    if (error === undefined && errorType === undefined) {
      outcome = outcomeOf(status || 200);
    } else {
      if (typeof e?.status === "number") status = e.status;
      type = errorType ?? (typeof e?.type === "string" ? e.type : "exception");
      // A failure after a 2xx (a stream that broke) is still a failure of the call.
      outcome = status >= 400 && status < 500 ? "client_error" : "error";
    }
    const r = this.result;
    if (this.span.isRecording()) {
      this.span.setAttributes({
        ...(status && { "http.response.status_code": status }),
        ...(r.allocationId && { "homeskillet.allocation_id": r.allocationId }),
        ...(r.pool && { "homeskillet.pool": r.pool }),
        ...(r.promptTokens !== undefined && { "gen_ai.usage.input_tokens": r.promptTokens }),
        ...(r.completionTokens !== undefined && { "gen_ai.usage.output_tokens": r.completionTokens }),
        ...(r.costUsd !== undefined && { "homeskillet.cost_usd": r.costUsd }),
      });
      if (type !== undefined) failSpan(this.span, error ?? {}, type);
      else if (outcome === "error") this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
    if (type !== undefined && this.sink) {
      const pool = r.pool ?? this.info.pool ?? (this.info.provider === "local" ? "local" : this.attemptPool);
      this.sink({
        provider: this.info.provider,
        operation: this.info.op,
        kind: failureKind(type, status),
        errorType: type,
        ...(pool ? { pool } : {}),
        ...((r.allocationId ?? this.info.allocationId) ? { allocationId: r.allocationId ?? this.info.allocationId } : {}),
      });
    }
    const who = this.who;
    emit({
      kind: "upstream",
      ts: new Date(this.started).toISOString(),
      trace_id: this.ids.traceId,
      span_id: this.ids.spanId,
      tenant: who.tenant,
      covenant: who.covenant,
      strike_id: who.strikeId,
      provider: this.info.provider,
      op: this.info.op,
      target: r.pool ?? this.info.pool,
      allocation_id: r.allocationId ?? this.info.allocationId,
      model: this.info.model,
      status,
      outcome,
      error_type: type,
      ...(typeof e?.detail === "string" && { error_detail: e.detail }),
      duration_ms: Date.now() - this.started,
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      cost_usd: r.costUsd,
    });
  }
}

/**
 * Runs one upstream call under its own span and log line. `learn` reads what the answer said
 * (tokens, cost, ids) for both.
 */
export async function tracedUpstream<T>(info: UpstreamCallInfo, call: (c: UpstreamCall) => Promise<T>, learn?: (result: T) => UpstreamResult): Promise<T> {
  const record = new UpstreamCallRecord(info);
  try {
    const result = await call(record);
    if (learn) record.learn(learn(result));
    record.finish();
    return result;
  } catch (err) {
    record.finish(err);
    throw err;
  }
}

/** What one event of an upstream stream says: usage and cost, an error, the end of the answer. */
export type StreamEventNote = UpstreamResult & { errorType?: string; final?: boolean };

/**
 * An upstream call whose answer is a stream: the span and line end with its final or error event,
 * or when the stream ends or the reader cancels it before either, with what `observe` learnt.
 * `open` wires the hooks it is given into the stream it returns (sseEvents takes them; any other
 * stream can be passed through relayStream), so no relay stands between the upstream and its reader.
 */
export async function tracedUpstreamStream<E>(
  info: UpstreamCallInfo,
  open: (c: UpstreamCall, hooks: StreamHooks<E>) => Promise<ReadableStream<E>>,
  observe: (event: E) => StreamEventNote | undefined,
): Promise<ReadableStream<E>> {
  const record = new UpstreamCallRecord(info);
  const hooks: StreamHooks<E> = {
    onEvent(event) {
      const note = observe(event);
      if (!note) return;
      const { errorType, final, ...result } = note;
      record.learn(result);
      if (errorType) record.finish(undefined, errorType);
      else if (final) record.finish();
    },
    // Ended without a final event: the upstream cut it short, or the reader gave up on it (a
    // deadline passed). Either way the call did not complete; after a final event this is a no-op.
    onEnd: (how) => (how instanceof Error ? record.finish(how) : record.finish(undefined, how === "done" ? "stream_cut" : "cancelled")),
  };
  try {
    return await open(record, hooks);
  } catch (err) {
    record.finish(err);
    throw err;
  }
}
