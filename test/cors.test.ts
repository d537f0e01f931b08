// CORS is off unless the deployment names origins; then a browser's preflight needs no key, and
// answers expose what clients read (rate-limit headers, the trace id).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/api";
import type { Env } from "../src/env";
import { KEYS } from "./support/gateway";

const app = createApp();
const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
const request = (origins: string | undefined, path: string, init: RequestInit) =>
  Promise.resolve(app.request(`https://homeskillet.test${path}`, init, { ...(env as unknown as Env), HOMESKILLET_CORS_ORIGINS: origins }, ctx));

const preflight = { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" } };

describe("CORS", () => {
  it("is off by default: no CORS headers, and a preflight is not answered as one", async () => {
    const res = await request(undefined, "/v1/models", { headers: { origin: "https://app.example", authorization: `Bearer ${KEYS.dev}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await request(undefined, "/v1/strikes", preflight)).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows the configured origins only, preflight without a key, and exposes the headers clients read", async () => {
    const origins = "https://app.example, https://other.example/";
    const pre = await request(origins, "/v1/strikes", preflight);
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();

    const ok = await request(origins, "/v1/models", { headers: { origin: "https://other.example", authorization: `Bearer ${KEYS.dev}` } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://other.example");
    const exposed = ok.headers.get("access-control-expose-headers") ?? "";
    for (const h of ["retry-after", "x-ratelimit-remaining-requests", "x-homeskillet-trace-id"]) expect(exposed).toContain(h);

    const stranger = await request(origins, "/v1/models", { headers: { origin: "https://evil.example", authorization: `Bearer ${KEYS.dev}` } });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    // CORS never stands in for authentication.
    expect((await request(origins, "/v1/models", { headers: { origin: "https://app.example" } })).status).toBe(401);
  });
});
