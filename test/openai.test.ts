import { describe, expect, it } from "vitest";
import { ChatCompletion } from "../src/schema";
import { createCovenant } from "./support/covenants";
import { call } from "./support/gateway";

const chat = (body: unknown, init: { key?: string | null; headers?: Record<string, string> } = {}) =>
  call("/v1/chat/completions", { method: "POST", body: JSON.stringify(body), ...init });

async function expectOpenAiError(res: Response, status: number, code: string, param: string | null) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(body.error).toMatchObject({ code, param });
  expect(typeof body.error.type).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe("POST /v1/chat/completions", () => {
  it("answers in the OpenAI shape with Homeskillet's extras alongside", async () => {
    const res = await chat({ model: "gemma-2b-it", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], max_tokens: 12 });
    expect(res.status).toBe(200);
    const body = ChatCompletion.parse(await res.json());
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.homeskillet.pool_id).toBe("standard-us-east");
    expect(res.headers.get("x-homeskillet-strike-id")).toBe(body.homeskillet.strike_id);
  });

  it("lets the covenant choose with model auto, and takes the covenant from a header", async () => {
    // No routes: every strike that names no model goes to the covenant's default.
    const { id } = await createCovenant({ models: ["qwen-14b", "gemma-2b-it"], default_model: "qwen-14b", routes: [] });
    const res = await chat({ model: "auto", messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }], max_completion_tokens: 8 }, { headers: { "x-homeskillet-covenant": id } });
    expect(res.status).toBe(200);
    const body = ChatCompletion.parse(await res.json());
    expect(body.model).toBe("qwen-14b");
    expect(body.homeskillet.covenant_id).toBe(id);
  });

  it("accepts the parameters it cannot honour at their off values (see openai-params.test.ts for each)", async () => {
    const res = await chat({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }], user: "u-1", top_p: 1, logit_bias: {}, frequency_penalty: 0 });
    expect(res.status).toBe(200);
  });

  it("reports every error in OpenAI's shape", async () => {
    await expectOpenAiError(await chat({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }] }, { key: null }), 401, "unauthorized", null);
    await expectOpenAiError(await chat({ model: "gpt-9", messages: [{ role: "user", content: "x" }] }), 400, "unknown_model", "model");
    await expectOpenAiError(await chat({ model: "gemma-2b-it", messages: [] }), 400, "invalid_request", "messages");
    await expectOpenAiError(await chat({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }], n: 2 }), 400, "unsupported_parameter", "n");
    await expectOpenAiError(await chat({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }] }, { headers: { "x-homeskillet-covenant": "no such/one" } }), 400, "invalid_request", "x-homeskillet-covenant");
    await expectOpenAiError(await chat({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }] }, { headers: { "x-homeskillet-covenant": "never-made" } }), 404, "covenant_not_found", "covenant_id");
    const malformed = await call("/v1/chat/completions", { method: "POST", body: "{" });
    await expectOpenAiError(malformed, 400, "invalid_json", null);
  });
});
