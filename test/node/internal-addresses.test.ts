// With the local node down, what a tenant sees names the failure, never the address the gateway
// tried (in production a tunnel host). This file starts a system of its own whose local node is a
// port nobody listens on, as a node that went away would be.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";
import { freePort } from "./support.ts";

const key = "hsk_node_addresses_0001";
let system: LocalSystem;
let deadPort: number;

beforeAll(async () => {
  // A free port nobody listens on: a node that went away.
  deadPort = await freePort();
  system = await startSystem({
    mode: "miniflare",
    workers: ["gateway", "hostedai"],
    ports: { gateway: 0, hostedai: 0 },
    quiet: true,
    devKey: key,
    gatewayVars: { LOCAL_NODE_URL: `http://127.0.0.1:${deadPort}` },
  });
});

afterAll(() => system?.stop());

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${system.gateway}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers } });

describe("internal addresses stay with the operator", () => {
  it("a strike on a dead local node fails with a generic message and a type", async () => {
    const created = await api("/v1/covenants", { method: "POST", body: JSON.stringify({ id: "local-only", fallback: ["local"] }) });
    expect(created.status).toBe(201);
    const res = await api("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: "local-only", model: "gemma-2b-it", prompt: "hi", max_tokens: 4 }) });
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(500);
    const body = JSON.parse(text) as { error: { attempts?: { type: string; message: string }[] } };
    const attempts = body.error.attempts ?? [];
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.some((a) => a.type === "network_error" && /local.*unreachable/.test(a.message))).toBe(true);
    for (const leaked of ["127.0.0.1", String(deadPort), "http://", "/v1/models"]) expect(text).not.toContain(leaked);

    const status = await (await api("/v1/covenants/local-only")).text();
    expect(status).toContain("network_error");
    for (const leaked of ["127.0.0.1", String(deadPort), "http://"]) expect(status).not.toContain(leaked);
  });
});
