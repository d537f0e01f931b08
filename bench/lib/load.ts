// One fixed-duration load run with autocannon, reduced to the figures the benches report.
// Latencies are collected per response (autocannon's own histogram has 1 ms resolution,
// too coarse for a pass-through worker at concurrency 1).
import autocannon from "autocannon";

export interface LoadTarget {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  connections: number;
  durationS: number;
  timeoutS: number;
}

export interface LoadResult {
  /** successful (2xx) responses per second */
  rps: number;
  ok: number;
  /** 2xx latency percentiles, ms */
  p50: number;
  p99: number;
  /** non-2xx responses + timeouts + connection errors */
  errors: number;
  /** what the errors were: status code, "timeout" or "conn" → count */
  errorKinds: Record<string, number>;
  durationS: number;
}

export function runLoad(target: LoadTarget, opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? "GET",
        headers: target.headers ?? {},
        ...(target.body !== undefined && { body: target.body }),
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationS,
        timeout: opts.timeoutS,
      },
      (err, result) => {
        if (err) return reject(err);
        const errorKinds: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
          if (!code.startsWith("2")) errorKinds[code] = count;
        }
        if (result.timeouts) errorKinds.timeout = result.timeouts;
        if (result.errors - result.timeouts) errorKinds.conn = result.errors - result.timeouts;
        const sorted = Float64Array.from(latencies).sort();
        resolve({
          rps: result["2xx"] / result.duration,
          ok: result["2xx"],
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          errors: result.non2xx + result.errors,
          errorKinds,
          durationS: result.duration,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Linearly interpolated quantile of an ascending array; NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Count, p50, p95, p99 and mean of a set of latencies in milliseconds. */
export function latencyStats(ms: readonly number[]): { n: number; p50: number; p95: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

/** A JSON request to a local service, failing with its status and body; `{}` for an empty answer. */
export async function callJson<T = unknown>(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<T> {
  const res = await fetch(url, { method: init.method ?? "GET", headers: { "content-type": "application/json", ...init.headers }, body: init.body ?? null, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
