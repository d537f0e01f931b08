/**
 * Failed upstream calls, for the metrics: what kind of failure a call met (pure), and where a
 * covenant object hears of it. Every call to an upstream ends in `UpstreamCallRecord.finish`
 * (src/telemetry/upstream.ts), which knows the operation, the error and the status; the covenant
 * object that made the call puts its sink in the active context (TracedCovenantObject), and the
 * record reads it when the call starts, as it reads who the work is for.
 */
import { context, createContextKey, type Context } from "@opentelemetry/api";

/** `error`: the upstream refused or failed; `timeout`: no answer in time (or a stream stalled); `preempted`: the slice was taken away. */
export type FailureKind = "error" | "timeout" | "preempted";

export interface UpstreamFailure {
  /** `hostedai` or `local` (the local node). */
  provider: string;
  /** The call's operation: `allocate`, `infer`, `release`, `token`, `pools`, `list`, `get`, `metrics`, `models`. */
  operation: string;
  kind: FailureKind;
  /** The error type the call ended with (the upstream's own, or ours: timeout, network_error, ...). */
  errorType: string;
  /** The pool, when the call or the attempt it ran under names it; `local` for the local node. */
  pool?: string;
  allocationId?: string;
}

export type UpstreamSink = (failure: UpstreamFailure) => void;

const SINK = createContextKey("homeskillet.upstream-sink");
const ATTEMPT_POOL = createContextKey("homeskillet.attempt-pool");

export function withUpstreamSink(ctx: Context, sink: UpstreamSink | undefined): Context {
  return sink ? ctx.setValue(SINK, sink) : ctx;
}

export function upstreamSinkActive(ctx: Context = context.active()): UpstreamSink | undefined {
  return ctx.getValue(SINK) as UpstreamSink | undefined;
}

/** Inside an attempt on a pool, every call (allocate, infer, the release after it) is about that pool. */
export function withAttemptPool(ctx: Context, pool: string): Context {
  return ctx.setValue(ATTEMPT_POOL, pool);
}

export function attemptPoolActive(ctx: Context = context.active()): string | undefined {
  return ctx.getValue(ATTEMPT_POOL) as string | undefined;
}

/**
 * The kind of a failed call, from its error type and HTTP status (0: no answer). A stream the
 * reader cancelled was cancelled on a deadline (no first token in time, or a stall: see
 * src/covenant/stream-reader.ts), so it timed out.
 */
export function failureKind(errorType: string, status: number): FailureKind {
  if (errorType.includes("preempt")) return "preempted";
  if (errorType === "timeout" || errorType === "stream_stalled" || errorType === "cancelled" || status === 504 || status === 408) return "timeout";
  return "error";
}
