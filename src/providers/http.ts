import { tracedUpstream, type UpstreamCallInfo, type UpstreamResult } from "../telemetry/upstream";
import { UpstreamError, upstreamErrorFrom } from "./errors";

/**
 * How a provider reaches its upstream: a service binding when one is configured (tests, emulators
 * deployed beside the gateway), otherwise the public fetch. The base URL is used either way so
 * paths and Host headers stay identical to production.
 */
export interface Transport {
  baseUrl: string;
  fetcher?: Fetcher;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** What is asked (`allocate`, `infer`, …): names the call's span and log line. */
  op?: string;
  /** What the call is about, for its span and log line. */
  about?: Pick<UpstreamCallInfo, "allocationId" | "pool" | "model">;
  /** The W3C trace context to send (the upstream call's own span as parent). */
  traceparent?: string;
}

/**
 * A per-call deadline that is cleared as soon as the call is done. (AbortSignal.timeout cannot be
 * cancelled: every call would leave a live timer behind for its whole timeout.)
 */
export function deadline(timeoutMs: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("deadline passed", "TimeoutError")), timeoutMs);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * Sends one request under `signal`; network failures and timeouts become UpstreamErrors, the
 * response is returned as is.
 */
export async function send(provider: string, transport: Transport, path: string, opts: CallOptions, signal: AbortSignal): Promise<Response> {
  // Trailing slashes go by a scan (test/audit: /\/+$/ is quadratic in a run of slashes).
  let end = transport.baseUrl.length;
  while (end > 0 && transport.baseUrl.charCodeAt(end - 1) === 0x2f) end--;
  const url = transport.baseUrl.slice(0, end) + path;
  const headers = { ...(opts.body !== undefined && { "content-type": "application/json" }), ...opts.headers, ...(opts.traceparent && { traceparent: opts.traceparent }) };
  const init: RequestInit = {
    method: opts.method ?? "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal,
  };
  try {
    return transport.fetcher ? await transport.fetcher.fetch(url, init) : await fetch(url, init);
  } catch (err) {
    throw asUpstreamError(provider, err, `${path} within ${opts.timeoutMs} ms`, url);
  }
}

function asUpstreamError(provider: string, err: unknown, what: string, url: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new UpstreamError(provider, 0, "timeout", `${provider} did not answer ${what}`);
  }
  // The address and the runtime's words about it (a tunnel host, a private IP) are the operator's:
  // they go to the upstream log line, never into an answer, an attempt or a breaker's last failure.
  return new UpstreamError(provider, 0, "network_error", `${provider} unreachable`, undefined, `${url}: ${(err as Error)?.message ?? err}`);
}

/**
 * Sends one request and parses a 2xx JSON body (the deadline covers the body too), or throws the
 * upstream's error. Every call gets a span and a log line (src/telemetry/upstream.ts), and sends
 * the span's `traceparent` so the upstream can continue the trace.
 */
export function sendJson<T>(provider: string, transport: Transport, path: string, opts: CallOptions): Promise<T> {
  const method = opts.method ?? "GET";
  return tracedUpstream(
    { provider, op: opts.op ?? method.toLowerCase(), method, path: path.split("?")[0], ...opts.about },
    (call) => receiveJson<T>(provider, transport, path, { ...opts, traceparent: call.traceparent }, (status) => call.status(status)),
    answerFields,
  );
}

async function receiveJson<T>(provider: string, transport: Transport, path: string, opts: CallOptions, sawStatus: (status: number) => void): Promise<T> {
  const { signal, clear } = deadline(opts.timeoutMs);
  try {
    const res = await send(provider, transport, path, opts, signal);
    sawStatus(res.status);
    if (!res.ok) throw await upstreamErrorFrom(provider, res);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw asUpstreamError(provider, err, `${path} within ${opts.timeoutMs} ms`, transport.baseUrl + path);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UpstreamError(provider, res.status, "bad_response", `${provider} sent a body that is not JSON for ${path}`);
    }
  } finally {
    clear();
  }
}

/**
 * What a span and log line record of an answer, read from the fields both upstreams use
 * (`allocation_id`, `pool_id`, `usage`, `cost_usd`); never the text.
 */
export function answerFields(body: unknown): UpstreamResult {
  if (typeof body !== "object" || body === null) return {};
  const b = body as { allocation_id?: unknown; pool_id?: unknown; cost_usd?: unknown; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  return {
    allocationId: typeof b.allocation_id === "string" ? b.allocation_id : undefined,
    pool: typeof b.pool_id === "string" ? b.pool_id : undefined,
    costUsd: num(b.cost_usd),
    promptTokens: num(b.usage?.prompt_tokens),
    completionTokens: num(b.usage?.completion_tokens),
  };
}
