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

/** Sends one request; network failures and timeouts become UpstreamErrors, the response is returned as is. */
export async function send(provider: string, transport: Transport, path: string, opts: CallOptions): Promise<Response> {
  const url = transport.baseUrl.replace(/\/+$/, "") + path;
  const init: RequestInit = {
    method: opts.method ?? "GET",
    headers: opts.body === undefined ? opts.headers : { "content-type": "application/json", ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(opts.timeoutMs),
  };
  try {
    return transport.fetcher ? await transport.fetcher.fetch(url, init) : await fetch(url, init);
  } catch (err) {
    const name = (err as Error)?.name;
    if (name === "TimeoutError" || name === "AbortError") {
      throw new UpstreamError(provider, 0, "timeout", `${provider} did not answer ${path} within ${opts.timeoutMs} ms`);
    }
    throw new UpstreamError(provider, 0, "network_error", `${provider} unreachable at ${url}: ${(err as Error)?.message ?? err}`);
  }
}

/** Sends one request and parses a 2xx JSON body, or throws the upstream's error. */
export async function sendJson<T>(provider: string, transport: Transport, path: string, opts: CallOptions): Promise<T> {
  const res = await send(provider, transport, path, opts);
  if (!res.ok) throw await upstreamErrorFrom(provider, res);
  try {
    return (await res.json()) as T;
  } catch {
    throw new UpstreamError(provider, res.status, "bad_response", `${provider} sent a body that is not JSON for ${path}`);
  }
}
