/**
 * Structured logs: one JSON line per edge request and one per upstream call, tied together by a
 * W3C trace id. Lines are built from named fields only (never by spreading a request, a header
 * set or a body), so keys, tokens and prompt text cannot slip in. The one exception is opt-in per
 * covenant: a `strike_content` line with the prompt and completion (logging.content).
 */
import { SpanKind, SpanStatusCode, context, createContextKey, type Span } from "@opentelemetry/api";
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { configureTracing, edgeParent, flushAfter, inSpan, tracingEnabled, type TracingEnv } from "./tracing";
import { traceFrom, type TraceContext } from "./trace-context";
import { logLevelFrom, writesLine, type LogLevel } from "./log-level";

export { newSpanId, traceFrom, traceparent, type TraceContext } from "./trace-context";

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
  /** The key that asked (`key_…` or `config:<tenant>`): who, never the secret. */
  key_id?: string;
  covenant?: string;
  strike_id?: string;
  /** The client's own id for its end user (OpenAI's `user` / `safety_identifier`), as it sent it. */
  end_user?: string;
  error_type?: string;
}

export interface UpstreamLine {
  kind: "upstream";
  ts: string;
  trace_id: string;
  span_id: string;
  tenant?: string;
  covenant?: string;
  /** The strike (or `<strike>.<fragment>`) the call was made for, when it was made for one. */
  strike_id?: string;
  /** `hostedai` or `localnode`. */
  provider: string;
  /** What was asked: `token`, `pools`, `allocate`, `infer`, `release`, `metrics`, `models`. */
  op: string;
  /** The pool the call was about, when it was about one. */
  target?: string;
  allocation_id?: string;
  model?: string;
  /** HTTP status; 0 when no answer came (timeout, connection lost). */
  status: number;
  outcome: Outcome;
  error_type?: string;
  /** The operator's detail of a failure (the address called, the runtime's error): logs only, never an answer. */
  error_detail?: string;
  duration_ms: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  /** What the upstream said the call cost (an inference, a release's bill). */
  cost_usd?: number;
}

/**
 * A strike's prompt and completion, written only for covenants that opt in (`logging.content`):
 * the one line that may carry prompt text, tied to the request by its trace id.
 */
export interface StrikeContentLine {
  kind: "strike_content";
  ts: string;
  trace_id?: string;
  tenant: string;
  covenant: string;
  strike_id: string;
  model?: string;
  outcome: "ok" | "error";
  error_type?: string;
  prompt: string;
  completion?: string;
  /** Set when the prompt or completion was cut to CONTENT_LOG_LIMIT characters. */
  truncated?: true;
}

/** Characters of prompt and of completion a content line keeps. */
export const CONTENT_LOG_LIMIT = 4096;

const clip = (text: string) => (text.length > CONTENT_LOG_LIMIT ? text.slice(0, CONTENT_LOG_LIMIT) : text);

/** Writes a strike's content line (see StrikeContentLine); the caller checks the covenant allows it. */
export function logStrikeContent(e: {
  traceparent?: string;
  tenant: string;
  covenant: string;
  strikeId: string;
  model?: string;
  outcome: "ok" | "error";
  errorType?: string;
  prompt: string;
  completion?: string;
}): void {
  // The request's trace, when the edge sent one; never a made-up id that would lead nowhere.
  const trace = e.traceparent ? traceFrom(e.traceparent) : undefined;
  const truncated = e.prompt.length > CONTENT_LOG_LIMIT || (e.completion?.length ?? 0) > CONTENT_LOG_LIMIT;
  emit({
    kind: "strike_content",
    ts: new Date().toISOString(),
    trace_id: trace?.parentSpanId ? trace.traceId : undefined,
    tenant: e.tenant,
    covenant: e.covenant,
    strike_id: e.strikeId,
    model: e.model,
    outcome: e.outcome,
    error_type: e.errorType,
    prompt: clip(e.prompt),
    completion: e.completion === undefined ? undefined : clip(e.completion),
    ...(truncated ? { truncated: true as const } : {}),
  });
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

let level: LogLevel = "info";

/**
 * Reads `HOMESKILLET_LOG_LEVEL` (see log-level.ts). Called by the edge on every request and by the
 * covenant object when it starts, so both sides of a strike write the lines the operator asked for.
 */
export function configureLogging(env: { HOMESKILLET_LOG_LEVEL?: string }): void {
  level = logLevelFrom(env.HOMESKILLET_LOG_LEVEL);
}

/**
 * Writes one line of JSON, when the log level wants it; JSON.stringify itself leaves undefined
 * fields out, so lines stay short.
 */
export function emit(line: RequestLine | UpstreamLine | StrikeContentLine): void {
  if (!writesLine(level, line.kind, line.outcome)) return;
  sink(JSON.stringify(line));
}

/** Annotations a route adds to its request's line (covenant, strike id, error type). */
type Annotations = Pick<RequestLine, "tenant" | "covenant" | "strike_id" | "end_user" | "error_type">;
const annotations = new WeakMap<Request, { trace: TraceContext; fields: Annotations }>();
/** The same annotations, reachable from code that has no Request, only the request's context. */
const REQUEST_FIELDS = createContextKey("homeskillet.request-fields");

/** The trace of a request the logger has seen; undefined otherwise. */
export function traceOf(req: Request): TraceContext | undefined {
  return annotations.get(req)?.trace;
}

/** Adds fields to the request's log line, e.g. `annotate(c.req.raw, { covenant: id })`. */
export function annotate(req: Request, fields: Annotations): void {
  const entry = annotations.get(req);
  if (entry) Object.assign(entry.fields, fields);
}

/**
 * Adds fields to the line of the request whose work is running now (the strike service, MCP tools:
 * code that is handed a caller, not a Request). Outside a logged request it does nothing.
 */
export function annotateRequest(fields: Annotations): void {
  const entry = context.active().getValue(REQUEST_FIELDS) as Annotations | undefined;
  if (entry) Object.assign(entry, fields);
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
 * The path of a request's URL, as `new URL(url).pathname` gives it (still percent-encoded), without
 * parsing the URL again: the runtime hands requests over with their URL already normalised.
 */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = start;
  while (end < url.length && url.charCodeAt(end) !== 0x3f && url.charCodeAt(end) !== 0x23) end++; // ? #
  return url.slice(start, end);
}

/** The route that matched (`/v1/covenants/:id`), for the span name; the path when none did. */
function routeOf(c: HonoContext): string {
  const routes = c.req.matchedRoutes.filter((r) => r.method !== "ALL");
  return routes.at(-1)?.path ?? pathOf(c.req.url);
}

function echoTraceId(c: HonoContext, traceId: string): void {
  try {
    c.res.headers.set("x-homeskillet-trace-id", traceId);
  } catch {
    // Immutable headers (a response passed through from elsewhere): answer with a copy.
    const copy = new Response(c.res.body, c.res);
    copy.headers.set("x-homeskillet-trace-id", traceId);
    c.res = copy;
  }
}

function executionContext(c: HonoContext): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined; // app.request() in unit tests has none
  }
}

/**
 * Edge middleware: one span per request (continuing the client's W3C `traceparent` when it is
 * valid, else a new trace), one log line when it ends, and the trace id echoed back to the client
 * (`x-homeskillet-trace-id`) so a user's report can be found in the logs and the traces. Spans are
 * exported after the response, inside `waitUntil`. Register it first.
 */
export const requestLogger: MiddlewareHandler = async (c, next) => {
  configureTracing((c.env ?? {}) as TracingEnv);
  configureLogging((c.env ?? {}) as { HOMESKILLET_LOG_LEVEL?: string });
  const started = Date.now();
  const fields: Annotations = {};
  const path = pathOf(c.req.url);
  const parent = edgeParent(c.req.header("traceparent")).setValue(REQUEST_FIELDS, fields);
  const attributes = tracingEnabled() ? { "http.request.method": c.req.method, "url.path": path } : undefined;
  try {
    await inSpan(`${c.req.method} ${path}`, { kind: SpanKind.SERVER, attributes }, (span) => serve(c, next, span, fields, started, path), parent);
  } finally {
    flushAfter(executionContext(c));
  }
};

async function serve(c: HonoContext, next: () => Promise<void>, span: Span, fields: Annotations, started: number, path: string): Promise<void> {
  const sc = span.spanContext();
  const trace: TraceContext = { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & 1) === 1 };
  annotations.set(c.req.raw, { trace, fields });
  // Set before the handler runs: Hono carries it onto whatever response the handler returns.
  c.header("x-homeskillet-trace-id", trace.traceId);
  let status = 500;
  try {
    await next();
    status = c.res.status;
    // A handler that built its own Response (a stream) bypassed Hono's prepared headers.
    if (!c.res.headers.has("x-homeskillet-trace-id")) echoTraceId(c, trace.traceId);
  } finally {
    const tenant = fields.tenant ?? (c.get("tenant") as string | undefined);
    const keyId = (c.get("principal") as { keyId?: string } | undefined)?.keyId;
    const errorType = fields.error_type ?? (status >= 400 ? await errorTypeOf(c.res) : undefined);
    if (span.isRecording()) {
      const route = routeOf(c);
      span.updateName(`${c.req.method} ${route}`);
      span.setAttributes({
        "http.route": route,
        "http.response.status_code": status,
        ...(tenant && { "homeskillet.tenant": tenant }),
        ...(keyId && { "homeskillet.key_id": keyId }),
        ...(fields.covenant && { "homeskillet.covenant": fields.covenant }),
        ...(fields.strike_id && { "homeskillet.strike_id": fields.strike_id }),
        ...(fields.end_user && { "enduser.id": fields.end_user }),
        ...(errorType && { "error.type": errorType }),
      });
      // A server span fails on 5xx only: a 4xx is the client's error, answered correctly.
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    emit({
      kind: "request",
      ts: new Date(started).toISOString(),
      trace_id: trace.traceId,
      span_id: trace.spanId,
      method: c.req.method,
      path,
      status,
      outcome: outcomeOf(status),
      duration_ms: Date.now() - started,
      tenant,
      key_id: keyId,
      covenant: fields.covenant,
      strike_id: fields.strike_id,
      ...(fields.end_user ? { end_user: fields.end_user } : {}),
      error_type: errorType,
    });
  }
}
