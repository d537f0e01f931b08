// POST /v1/classify through the gateway, as a client calls it.
import { describe, expect, it } from "vitest";
import { Classification } from "../src/schema";
import { call } from "./support/gateway";

function classifyCall(body: unknown, init: { key?: string | null; headers?: Record<string, string> } = {}): Promise<Response> {
  return call("/v1/classify", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

async function expectError(res: Response, status: number, type: string, param?: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { type: string; message: string; param?: string } };
  expect(body.error.type).toBe(type);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (param !== undefined) expect(body.error.param).toBe(param);
}

describe("POST /v1/classify", () => {
  it("classifies a prompt and returns the classification alone", async () => {
    const res = await classifyCall({ prompt: "Write a Python function that merges two sorted lists." });
    expect(res.status).toBe(200);
    const body = await res.json();
    const parsed = Classification.safeParse(body);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.label).toBe("coding");
    expect(Object.keys(body as object).sort()).toEqual(
      ["classifier", "complexity", "confident", "label", "latency_class", "output_tokens", "probabilities", "prompt_tokens"].sort(),
    );
    expect(parsed.data?.confident).toBe(true);
  });

  it("classifies messages the way a strike flattens them", async () => {
    const res = await classifyCall({
      messages: [
        { role: "system", content: "You answer briefly." },
        { role: "user", content: "Who painted the Mona Lisa?" },
      ],
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Classification).label).toBe("knowledge");
  });

  it("answers emoji, binary-looking and scripts without spaces with a classification", async () => {
    for (const prompt of ["🚀🚀 👩‍👩‍👧", "\u0000\u0001\u0002\u00ff".repeat(50), "请介绍长城", "abc\ud800"]) {
      const res = await classifyCall({ prompt });
      expect(res.status).toBe(200);
      expect(Classification.safeParse(await res.json()).success).toBe(true);
    }
  });

  it("a large prompt under the body limit is classified", async () => {
    const res = await classifyCall({ prompt: "Summarise these notes. ".repeat(30_000) });
    expect(res.status).toBe(200);
    const c = (await res.json()) as Classification;
    expect(c.prompt_tokens).toBeGreaterThan(100_000);
  });

  it.each([
    [{}, "messages"],
    [{ prompt: "a", messages: [{ role: "user", content: "b" }] }, "prompt"],
    [{ prompt: "" }, "prompt"],
    [{ prompt: 42 }, "prompt"],
    [{ messages: [] }, "messages"],
    [{ messages: [{ role: "wizard", content: "x" }] }, "messages.0.role"],
    [{ prompt: "hi", model: "qwen-14b" }, undefined],
  ])("bad field %j → 400 naming it", async (body, param) => {
    await expectError(await classifyCall(body), 400, "invalid_request", param);
  });

  it("malformed JSON → 400", async () => {
    await expectError(await classifyCall('{"prompt": "hi",'), 400, "invalid_json");
  });

  it("a body that is not UTF-8 → 400 invalid_encoding", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"prompt": "caf'), 0xe9, ...new TextEncoder().encode('"}')]);
    const res = await call("/v1/classify", { method: "POST", body: bytes, headers: { "content-type": "application/json" } });
    await expectError(res, 400, "invalid_encoding");
  });

  it("a body that is not JSON → 415", async () => {
    await expectError(await classifyCall("prompt=hi", { headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type", "content-type");
  });

  it("an oversize body → 413", async () => {
    await expectError(await classifyCall({ prompt: "x".repeat(1024 * 1024 + 10) }), 413, "payload_too_large");
  });

  it("needs an API key", async () => {
    expect((await classifyCall({ prompt: "hi" }, { key: null })).status).toBe(401);
  });
});
