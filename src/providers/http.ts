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
  const url = transport.baseUrl.replace(/\/+$/, "") + path;
  const init: RequestInit = {
    method: opts.method ?? "GET",
    headers: opts.body === undefined ? opts.headers : { "content-type": "application/json", ...opts.headers },
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
  return new UpstreamError(provider, 0, "network_error", `${provider} unreachable at ${url}: ${(err as Error)?.message ?? err}`);
}

/** Sends one request and parses a 2xx JSON body (the deadline covers the body too), or throws the upstream's error. */
export async function sendJson<T>(provider: string, transport: Transport, path: string, opts: CallOptions): Promise<T> {
  const { signal, clear } = deadline(opts.timeoutMs);
  try {
    const res = await send(provider, transport, path, opts, signal);
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
