import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCovenant } from "./support/covenants";
import { call, liveAllocationsOf, strike } from "./support/gateway";

async function expectError(res: Response, status: number, type: string, param?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { type: string; message: string; param?: string } };
  expect(body.error.type).toBe(type);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}

describe("bad input gets a 4xx JSON error naming the problem", () => {
  it("malformed JSON", async () => {
    await expectError(await call("/v1/strikes", { method: "POST", body: '{"prompt": "hi",' }), 400, "invalid_json");
  });

  it("a body that is not JSON", async () => {
    await expectError(await call("/v1/strikes", { method: "POST", body: "prompt=hi", headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type", "content-type");
  });

  it("unknown model", async () => {
    const body = await expectError(await strike({ model: "gpt-9", prompt: "hi" }), 400, "unknown_model", "model");
    expect(body.error.message).toContain("mistral-7b");
  });

  it("neither messages nor prompt", async () => {
    await expectError(await strike({ model: "mistral-7b" }), 400, "invalid_request", "messages");
  });

  it("both messages and prompt", async () => {
    await expectError(await strike({ prompt: "a", messages: [{ role: "user", content: "b" }] }), 400, "invalid_request", "prompt");
  });

  it.each([
    [{ prompt: "hi", max_tokens: "many" }, "max_tokens"],
    [{ prompt: "hi", max_tokens: 0 }, "max_tokens"],
    [{ prompt: "hi", max_tokens: 1.5 }, "max_tokens"],
    [{ prompt: "hi", temperature: 3 }, "temperature"],
    [{ prompt: 42 }, "prompt"],
    [{ messages: [{ role: "wizard", content: "x" }] }, "messages.0.role"],
    [{ messages: [] }, "messages"],
    [{ prompt: "hi", latency_sensitive: "yes" }, "latency_sensitive"],
    [{ prompt: "hi", covenant_id: "../other-tenant" }, "covenant_id"],
    [{ prompt: "hi", surprise: true }, undefined],
  ])("wrong field %j", async (body, param) => {
    await expectError(await strike(body), 400, "invalid_request", param);
  });

  it("a JSON value that is not an object", async () => {
    await expectError(await call("/v1/strikes", { method: "POST", body: "[1,2,3]" }), 400, "invalid_request");
  });

  it("oversize body", async () => {
    const res = await strike({ prompt: "x".repeat(1024 * 1024 + 10) });
    await expectError(res, 413, "payload_too_large");
  });

  it("never answers random bodies with a 5xx, and leaks nothing", async () => {
    const { id: covenant } = await createCovenant({ policy: "seed" });
    const field = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }));
    const bodies = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json(),
      fc.record(
        {
          covenant_id: fc.oneof(fc.constant(covenant), field),
          model: fc.oneof(fc.constantFrom("gemma-2b-it", "mistral-7b", "qwen-70b"), field),
          prompt: fc.oneof(fc.string({ maxLength: 40 }), field),
          messages: fc.oneof(fc.array(fc.record({ role: fc.constantFrom("user", "system", "robot"), content: field }), { maxLength: 3 }), field),
          max_tokens: fc.oneof(fc.integer({ min: -5, max: 10 }), field),
          temperature: fc.oneof(fc.double({ min: -1, max: 3, noNaN: true }), field),
          latency_sensitive: fc.oneof(fc.boolean(), field),
        },
        { requiredKeys: [] },
      ).map((o) => JSON.stringify(o)),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const res = await call("/v1/strikes", { method: "POST", body });
        expect(res.status).toBeLessThan(500);
        const json = (await res.json()) as { error?: { type: string; message: string } };
        if (res.status !== 200) expect(json.error?.message).toBeTruthy();
      }),
      { numRuns: 60, seed: 20261123 },
    );
    expect(await liveAllocationsOf(covenant)).toEqual([]);
  });
});
