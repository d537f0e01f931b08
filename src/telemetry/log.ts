/**
 * Structured logs: one JSON line per edge request and one per upstream call, tied together by a
 * W3C trace id. Lines are built from named fields only (never by spreading a request, a header
 * set or a body), so keys, tokens and prompt text cannot slip in.
 */
import type { MiddlewareHandler } from "hono";

export interface TraceContext {
  /** 32 lowercase hex: the client's, when it sent a valid `traceparent`, else new. */
  traceId: string;
  /** 16 lowercase hex: this hop's span. */
  spanId: string;
  /** The client's span, when it sent one. */
  parentSpanId?: string;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Continues the caller's trace from a `traceparent` header (W3C Trace Context), or starts one.
 * Invalid headers (version ff, all-zero ids, wrong shape, or extra fields on version 00) start a
 * new trace, as the specification requires.
 */
export function traceFrom(header: string | null | undefined): TraceContext {
  const m = header?.trim().toLowerCase().match(TRACEPARENT);
  const spanId = randomHex(8);
  if (m) {
    const [, version, traceId, parent, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
    const valid = version !== "ff" && !(version === "00" && rest) && !/^0+$/.test(traceId) && !/^0+$/.test(parent);
    if (valid) return { traceId, spanId, parentSpanId: parent, sampled: (parseInt(flags, 16) & 1) === 1 };
  }
  return { traceId: randomHex(16), spanId, sampled: false };
}

/** The `traceparent` to send upstream: same trace, `spanId` as the parent (a child span's id when given). */
export function traceparent(trace: TraceContext, spanId = trace.spanId): string {
  return `00-${trace.traceId}-${spanId}-${trace.sampled ? "01" : "00"}`;
}

export function newSpanId(): string {
  return randomHex(8);
}

export type Outcome = "ok" | "client_error" | "error";

export interface RequestLine {
  kind: "request";
  ts: string;
  trace_id: string;
  span_id: string;
  method: string;
  /** Path only: a query string may carry anything. */
  path: string;
  status: number;
  outcome: Outcome;
  duration_ms: number;
  tenant?: string;
  covenant?: string;
  strike_id?: string;
  error_type?: string;
}

export interface UpstreamLine {
  kind: "upstream";
  ts: string;
  trace_id: string;
  span_id: string;
  tenant?: string;
  covenant?: string;
  /** `hostedai` or `localnode`. */
  provider: string;
  /** What was asked: `token`, `pools`, `allocate`, `infer`, `release`, `metrics`, `models`. */
  op: string;
  target?: string;
  allocation_id?: string;
  /** HTTP status; 0 when no answer came (timeout, connection lost). */
  status: number;
  outcome: Outcome;
  error_type?: string;
  duration_ms: number;
  prompt_tokens?: number;
  completion_tokens?: number;
}

export function outcomeOf(status: number): Outcome {
  if (status === 0 || status >= 500) return "error";
  return status >= 400 ? "client_error" : "ok";
}

/** Where lines go: Workers Logs / `wrangler tail` read console output. Replaceable in tests. */
let sink: (line: string) => void = (line) => console.log(line);

export function setLogSink(next: (line: string) => void): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}

/** Drops undefined fields so lines stay short, and writes one line of JSON. */
export function emit(line: RequestLine | UpstreamLine): void {
  const compact = Object.fromEntries(Object.entries(line).filter(([, v]) => v !== undefined));
  sink(JSON.stringify(compact));
}

/** Annotations a route adds to its request's line (covenant, strike id, error type). */
type Annotations = Pick<RequestLine, "tenant" | "covenant" | "strike_id" | "error_type">;
const annotations = new WeakMap<Request, { trace: TraceContext; fields: Annotations }>();

/** The trace of a request the logger has seen (for propagation upstream); undefined otherwise. */
export function traceOf(req: Request): TraceContext | undefined {
  return annotations.get(req)?.trace;
}

/** Adds fields to the request's log line, e.g. `annotate(c.req.raw, { covenant: id })`. */
export function annotate(req: Request, fields: Annotations): void {
  const entry = annotations.get(req);
  if (entry) Object.assign(entry.fields, fields);
}

/** The JSON error type of a response, read from a clone so the client still gets the body. */
async function errorTypeOf(res: Response): Promise<string | undefined> {
  if (res.status < 400 || !res.headers.get("content-type")?.includes("json")) return undefined;
  try {
    const body = (await res.clone().json()) as { error?: { type?: unknown } };
    return typeof body.error?.type === "string" ? body.error.type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Edge middleware: one line per request when it ends, and the trace id echoed back to the client
 * (`x-homeskillet-trace-id`) so a user's report can be found in the logs. Register it first.
 */
export const requestLogger: MiddlewareHandler = async (c, next) => {
  const started = Date.now();
  const trace = traceFrom(c.req.header("traceparent"));
  const entry = { trace, fields: {} as Annotations };
  annotations.set(c.req.raw, entry);
  // Set before the handler runs: Hono carries it onto whatever response the handler returns.
  c.header("x-homeskillet-trace-id", trace.traceId);
  let status = 500;
  try {
    await next();
    status = c.res.status;
  } finally {
    const tenant = entry.fields.tenant ?? (c.get("tenant") as string | undefined);
    const errorType = entry.fields.error_type ?? (status >= 400 ? await errorTypeOf(c.res) : undefined);
    emit({
      kind: "request",
      ts: new Date(started).toISOString(),
      trace_id: trace.traceId,
      span_id: trace.spanId,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status,
      outcome: outcomeOf(status),
      duration_ms: Date.now() - started,
      tenant,
      covenant: entry.fields.covenant,
      strike_id: entry.fields.strike_id,
      error_type: errorType,
    });
  }
};

export type UpstreamFields = Omit<UpstreamLine, "kind" | "ts" | "span_id" | "status" | "outcome" | "duration_ms" | "error_type" | "trace_id"> & {
  trace?: TraceContext;
};

/**
 * Runs one upstream call and logs it: status from the result (`statusOf`) or from the error
 * (`status` on provider errors, else 0), with its own span id under the request's trace.
 */
export async function loggedUpstream<T>(
  fields: UpstreamFields,
  call: (span: { traceparent?: string }) => Promise<T>,
  statusOf: (result: T) => number = () => 200,
): Promise<T> {
  const started = Date.now();
  const spanId = newSpanId();
  const { trace, ...rest } = fields;
  const base = { kind: "upstream" as const, ts: new Date(started).toISOString(), trace_id: trace?.traceId ?? randomHex(16), span_id: spanId, ...rest };
  try {
    const result = await call({ traceparent: trace ? traceparent(trace, spanId) : undefined });
    const status = statusOf(result);
    emit({ ...base, status, outcome: outcomeOf(status), duration_ms: Date.now() - started });
    return result;
  } catch (err) {
    const e = err as { status?: unknown; type?: unknown };
    const status = typeof e.status === "number" ? e.status : 0;
    emit({ ...base, status, outcome: outcomeOf(status), error_type: typeof e.type === "string" ? e.type : "exception", duration_ms: Date.now() - started });
    throw err;
  }
}
