// The OpenAI-compatible surface of mlx_lm.server: models, chat completions, legacy completions.
import { beforeEach, describe, expect, it } from "vitest";
import { call, hello, postJson, resetDevice, stats } from "./helpers";

beforeEach(() => resetDevice());

interface ChatCompletion {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string };
    finish_reason: string;
    logprobs: null;
  }>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function chat(body: Record<string, unknown>): Promise<ChatCompletion> {
  const response = await postJson("/v1/chat/completions", body);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return response.json<ChatCompletion>();
}

describe("GET /v1/models", () => {
  it("lists the configured models in OpenAI's list shape", async () => {
    const response = await call("/v1/models");
    expect(response.status).toBe(200);
    const body = await response.json<{ object: string; data: Array<{ id: string; object: string; created: number }> }>();
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual(["gemma-2b-it", "mistral-7b"]);
    for (const model of body.data) {
      expect(model.object).toBe("model");
      expect(Number.isInteger(model.created)).toBe(true);
    }
  });

  it("filters by the id after the prefix, as mlx_lm.server does", async () => {
    const body = await (await call("/v1/models/mistral-7b")).json<{ data: Array<{ id: string }> }>();
    expect(body.data.map((m) => m.id)).toEqual(["mistral-7b"]);
    const none = await (await call("/v1/models/nope")).json<{ data: unknown[] }>();
    expect(none.data).toEqual([]);
    const malformed = await call("/v1/models/%E0%A4%A");
    expect(malformed.status).toBe(200);
    expect((await malformed.json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("answers /health", async () => {
    expect(await (await call("/health")).json()).toEqual({ status: "ok" });
  });
});

describe("POST /v1/chat/completions", () => {
  it("returns a chat.completion with mlx_lm.server's fields", async () => {
    const body = await chat({ model: "gemma-2b-it", messages: hello, max_tokens: 32 });
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("gemma-2b-it");
    expect(typeof body.system_fingerprint).toBe("string");
    expect(Math.abs(body.created - Date.now() / 1000)).toBeLessThan(60);
    expect(body.choices).toHaveLength(1);
    const [choice] = body.choices;
    expect(choice).toMatchObject({ index: 0, message: { role: "assistant" }, logprobs: null });
    expect(choice!.message.content.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(choice!.finish_reason);
  });

  it("is deterministic for the same request and differs for another prompt", async () => {
    const request = { model: "gemma-2b-it", messages: hello, max_tokens: 40, temperature: 0.7 };
    const a = await chat(request);
    const b = await chat(request);
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(b.usage).toEqual(a.usage);
    expect(b.id).not.toBe(a.id);
    const other = await chat({ ...request, messages: [{ role: "user", content: "Something else." }] });
    expect(other.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it("treats text-part content like the same string", async () => {
    const asString = await chat({ messages: [{ role: "user", content: "ab" }], max_tokens: 16 });
    const asParts = await chat({
      messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }],
      max_tokens: 16,
    });
    expect(asParts.choices[0]!.message.content).toBe(asString.choices[0]!.message.content);
  });

  it("reports usage: prompt bytes / 4, one token per word, 60-100% of max_tokens", async () => {
    const messages = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Name three rivers." },
    ];
    const body = await chat({ model: "mistral-7b", messages, max_tokens: 50 });
    const flattened = "system: You are terse.\nuser: Name three rivers.";
    expect(body.usage.prompt_tokens).toBe(Math.ceil(new TextEncoder().encode(flattened).length / 4));
    const words = body.choices[0]!.message.content.split(" ").length;
    expect(body.usage.completion_tokens).toBe(words);
    expect(words).toBeGreaterThanOrEqual(30);
    expect(words).toBeLessThanOrEqual(50);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.choices[0]!.finish_reason).toBe(words === 50 ? "length" : "stop");
  });

  it("defaults to max_tokens 256 and the model loaded at startup", async () => {
    const body = await chat({ messages: hello });
    expect(body.model).toBe("gemma-2b-it");
    expect(body.usage.completion_tokens).toBeGreaterThanOrEqual(Math.ceil(256 * 0.6));
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(256);
    const aliased = await chat({ model: "default_model", messages: hello });
    expect(aliased.choices[0]!.message.content).toBe(body.choices[0]!.message.content);
  });

  it("honours stop sequences", async () => {
    const full = await chat({ messages: hello, max_tokens: 60 });
    const content = full.choices[0]!.message.content;
    const stopAt = content.indexOf(" ", 10);
    const stop = content.slice(stopAt, stopAt + 4);
    const cut = await chat({ messages: hello, max_tokens: 60, stop: [stop] });
    expect(cut.choices[0]!.message.content).toBe(content.slice(0, content.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe("stop");
  });

  it("answers an unknown model with 404 model_not_found and books nothing", async () => {
    const response = await postJson("/v1/chat/completions", { model: "qwen-70b", messages: hello });
    expect(response.status).toBe(404);
    const body = await response.json<{ error: { code: string; param: string; type: string; message: string } }>();
    expect(body.error).toMatchObject({ code: "model_not_found", param: "model", type: "invalid_request_error" });
    expect(body.error.message).toContain("qwen-70b");
    expect((await stats()).requests_total).toBe(0);
  });

  it("also serves the unversioned /chat/completions path", async () => {
    const response = await postJson("/chat/completions", { messages: hello, max_tokens: 4 });
    expect(response.status).toBe(200);
  });
});

describe("POST /v1/completions (legacy)", () => {
  it("returns a text_completion", async () => {
    const response = await postJson("/v1/completions", { model: "gemma-2b-it", prompt: "Once upon a time", max_tokens: 20 });
    expect(response.status).toBe(200);
    const body = await response.json<{
      id: string;
      object: string;
      choices: Array<{ index: number; text: string; finish_reason: string; logprobs: null }>;
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    }>();
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.object).toBe("text_completion");
    expect(body.choices[0]).toMatchObject({ index: 0, logprobs: null });
    expect(body.choices[0]!.text.split(" ").length).toBe(body.usage.completion_tokens);
    expect(body.usage.prompt_tokens).toBe(4); // 16 bytes
  });
});

describe("unknown routes", () => {
  it("answer 404 in the OpenAI error shape", async () => {
    const response = await call("/v1/embeddings", { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
    const body = await response.json<{ error: { type: string; code: string } }>();
    expect(body.error.code).toBe("not_found");
  });
});
