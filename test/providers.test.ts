import { describe, expect, it } from "vitest";
import { UpstreamError } from "../src/providers/errors";
import { HostedAiClient, isCapacityExhausted } from "../src/providers/hostedai";
import { setLogSink } from "../src/telemetry/log";

/** A scripted upstream: each call answers with the next response (or throws), and calls are recorded. */
function scripted(...answers: Array<Response | Error | ((init?: RequestInit) => Promise<Response>)>) {
  const calls: { url: string; method: string; auth: string | null }[] = [];
  const fetcher = {
    async fetch(input: RequestInfo | URL, init?: RequestInit) {
      const req = new Request(input, init);
      calls.push({ url: req.url, method: req.method, auth: req.headers.get("authorization") });
      const next = answers.shift();
      if (!next) throw new Error("no scripted answer left");
      if (next instanceof Error) throw next;
      return typeof next === "function" ? next(init) : next;
    },
    connect() {
      throw new Error("not used");
    },
  } as unknown as Fetcher;
  return { fetcher, calls };
}

const token = (t: string, expiresIn = 3600) => Response.json({ access_token: t, token_type: "Bearer", expires_in: expiresIn });
const err = (status: number, type: string, headers: Record<string, string> = {}) =>
  Response.json({ error: { type, message: `upstream says ${type}` } }, { status, headers });

function client(fetcher: Fetcher, timeoutMs = 1000) {
  // A unique base URL per client keeps the isolate-wide token cache from leaking between tests.
  return new HostedAiClient({ baseUrl: `https://hostedai-${crypto.randomUUID()}.test`, apiKey: "k", fetcher, timeoutMs });
}

describe("Hosted.AI connector", () => {
  it("sends the JWT it obtained and reuses it", async () => {
    const { fetcher, calls } = scripted(token("jwt-1"), Response.json({ pools: [] }), Response.json({ pools: [] }));
    const c = client(fetcher);
    await c.listPools();
    await c.listPools();
    expect(calls.map((x) => x.url.replace(/^https:\/\/[^/]+/, ""))).toEqual(["/api/v1/auth/token", "/api/v1/pools", "/api/v1/pools"]);
    expect(calls[1]?.auth).toBe("Bearer jwt-1");
    expect(calls[2]?.auth).toBe("Bearer jwt-1");
  });

  it("replaces a refused token once and retries", async () => {
    const { fetcher, calls } = scripted(token("old"), err(401, "token_expired"), token("new"), Response.json({ pools: [] }));
    await client(fetcher).listPools();
    expect(calls.map((x) => x.auth)).toEqual([null, "Bearer old", null, "Bearer new"]);
  });

  it("reports a full pool as retryable capacity exhaustion with Retry-After", async () => {
    const { fetcher } = scripted(token("t"), err(503, "capacity_exhausted", { "retry-after": "2" }));
    const e = await client(fetcher)
      .allocate({ pool_id: "p", requirements: { min_tflops: 1, min_vram_mb: 1 }, duration_seconds: 60, preemptible: false })
      .catch((x) => x);
    expect(isCapacityExhausted(e)).toBe(true);
    expect(e).toMatchObject({ status: 503, retryAfterS: 2, gatewayStatus: 503, retryable: true });
  });

  it("maps upstream faults to 502 and silence to 504", async () => {
    const broken = scripted(token("t"), new Response("oops", { status: 500 }));
    const e500 = await client(broken.fetcher).listPools().catch((x) => x);
    expect(e500).toBeInstanceOf(UpstreamError);
    expect(e500).toMatchObject({ status: 500, gatewayStatus: 502, type: "http_500" });
    // A body that is not the upstream's JSON error (a proxy's page) is the operator's to read, not the tenant's.
    expect(e500.message).not.toContain("oops");
    expect(e500.detail).toContain("oops");

    const down = scripted(token("t"), new TypeError("connection refused"));
    const lines: Record<string, unknown>[] = [];
    const restore = setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const eDown = await client(down.fetcher).listPools().catch((x) => x);
    restore();
    const logged = lines.find((l) => l.kind === "upstream" && l.error_type === "network_error");
    expect(String(logged?.error_detail)).toMatch(/^https:\/\/hostedai-.*\.test\/.*connection refused/);
    expect(eDown).toMatchObject({ status: 0, type: "network_error", gatewayStatus: 502, message: "hostedai unreachable" });
    // The address tried and the runtime's words stay in `detail`, which only the upstream log line carries.
    expect(eDown.detail).toContain(".test/");
    expect(eDown.detail).toContain("connection refused");

    // Hangs until the connector gives up and aborts, as a real stalled connection would.
    const hang = (init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
    const slow = scripted(token("t"), hang);
    const eSlow = await client(slow.fetcher, 50).listPools().catch((x) => x);
    expect(eSlow).toMatchObject({ type: "timeout", gatewayStatus: 504 });
  });

  it("refuses a 2xx body that is not JSON", async () => {
    const { fetcher } = scripted(token("t"), new Response("<html>", { status: 200 }));
    expect(await client(fetcher).listPools().catch((x) => x)).toMatchObject({ type: "bad_response" });
  });
});
