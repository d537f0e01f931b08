import { describe, expect, it } from "vitest";
import { call, KEYS, strike } from "./support/gateway";

describe("service endpoints", () => {
  it("answers /healthz without a key", async () => {
    const res = await call("/healthz", { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", service: "homeskillet" });
  });

  it("lists models with their requirements", async () => {
    const res = await call("/v1/models");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string; vram_mb: number }[] };
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual(["gemma-2b-it", "mistral-7b", "qwen-14b", "qwen-32b", "qwen-70b"]);
    expect(body.data.find((m) => m.id === "qwen-14b")?.vram_mb).toBe(14 * 1024);
  });

  it("publishes an OpenAPI document generated from the schemas", async () => {
    const res = await call("/openapi.json", { key: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/strikes", "/v1/models"]));
    expect(Object.keys(doc.components.schemas.StrikeRequest?.properties ?? {})).toEqual(
      expect.arrayContaining(["covenant_id", "model", "messages", "prompt", "max_tokens", "temperature", "latency_sensitive"]),
    );
  });
});

describe("authentication", () => {
  it("refuses a request without a key", async () => {
    const res = await strike({ prompt: "hi" }, null);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(await res.json()).toMatchObject({ error: { type: "unauthorized" } });
  });

  it("refuses an unknown key", async () => {
    const res = await call("/v1/models", { key: "hsk_not_a_real_key" });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: "unauthorized", message: "invalid API key" } });
  });

  it("accepts tenant keys given in plain and as sha256 hashes", async () => {
    for (const key of [KEYS.acme, KEYS.globex, KEYS.dev]) {
      expect((await call("/v1/models", { key })).status).toBe(200);
    }
  });

  it("404s unknown routes with a JSON error", async () => {
    const res = await call("/v1/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: "not_found" } });
  });
});
