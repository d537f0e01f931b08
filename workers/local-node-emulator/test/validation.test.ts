// Bad input is answered with a 4xx naming the field, never a 5xx.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { readJsonBody } from "../src/body";
import { ApiError } from "../src/errors";
import { call, hello, postJson, resetDevice } from "./helpers";

// No modelled latency: these tests are about answers, not timing.
beforeAll(() => resetDevice(0));

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function expectError(response: Response, status: number, param: string | null): Promise<ErrorBody> {
  expect(response.status).toBe(status);
  const body = await response.json<ErrorBody>();
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.param).toBe(param);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

describe("malformed bodies", () => {
  it("rejects invalid JSON, an empty body and a non-object", async () => {
    await expectError(await postJson("/v1/chat/completions", "{\"messages\": ["), 400, null);
    await expectError(await call("/v1/chat/completions", { method: "POST" }), 400, null);
    await expectError(await postJson("/v1/chat/completions", "[1, 2]"), 400, null);
    await expectError(await postJson("/v1/chat/completions", "null"), 400, null);
  });

  it("rejects bodies over 1 MB with 413", async () => {
    const huge = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(1024 * 1024) }] });
    const body = await expectError(await postJson("/v1/chat/completions", huge), 413, null);
    expect(body.error.code).toBe("request_too_large");
  });

  it("stops reading an oversized body sent without a Content-Length", async () => {
    // Called directly: across a real connection the aborted upload would only add log noise.
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 20) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const request = new Request("http://localhost/v1/chat/completions", { method: "POST", body });
    expect(request.headers.get("content-length")).toBeNull();
    const error = await readJsonBody(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(413);
    expect(sent).toBeLessThan(20);
  });
});

describe("field validation", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["missing messages", {}, "messages"],
    ["messages not an array", { messages: "hi" }, "messages"],
    ["empty messages", { messages: [] }, "messages"],
    ["unknown role", { messages: [{ role: "wizard", content: "hi" }] }, "messages[0].role"],
    ["numeric content", { messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
    ["image part", { messages: [{ role: "user", content: [{ type: "image_url", image_url: "x" }] }] }, "messages[0].content"],
    ["zero max_tokens", { messages: hello, max_tokens: 0 }, "max_tokens"],
    ["fractional max_tokens", { messages: hello, max_tokens: 1.5 }, "max_tokens"],
    ["max_tokens too large", { messages: hello, max_tokens: 32769 }, "max_tokens"],
    ["string max_tokens", { messages: hello, max_tokens: "10" }, "max_tokens"],
    ["temperature above 2", { messages: hello, temperature: 2.5 }, "temperature"],
    ["negative temperature", { messages: hello, temperature: -0.1 }, "temperature"],
    ["string stream", { messages: hello, stream: "yes" }, "stream"],
    ["numeric model", { messages: hello, model: 7 }, "model"],
    ["bad include_usage", { messages: hello, stream: true, stream_options: { include_usage: "y" } }, "stream_options.include_usage"],
  ];

  for (const [name, body, param] of cases) {
    it(`400 for ${name}, naming ${param}`, async () => {
      await expectError(await postJson("/v1/chat/completions", body), 400, param);
    });
  }

  it("says which required field is missing", async () => {
    const body = await expectError(await postJson("/v1/chat/completions", { model: "gemma-2b-it" }), 400, "messages");
    expect(body.error.code).toBe("missing_required_parameter");
  });

  it("ignores unknown fields and explicit nulls, as OpenAI clients expect", async () => {
    const response = await postJson("/v1/chat/completions", {
      messages: hello,
      max_tokens: 5,
      temperature: null,
      top_p: null,
      frequency_penalty: 0,
      user: "someone",
    });
    expect(response.status).toBe(200);
  });

  it("validates the legacy prompt", async () => {
    await expectError(await postJson("/v1/completions", { prompt: 42 }), 400, "prompt");
    await expectError(await postJson("/v1/completions", {}), 400, "prompt");
  });
});

describe("random bodies", () => {
  const chatLike = fc.record(
    {
      model: fc.oneof(fc.constantFrom("gemma-2b-it", "mistral-7b", "default_model"), fc.string(), fc.integer(), fc.constant(null)),
      messages: fc.oneof(
        fc.array(
          fc.record(
            {
              role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool"), fc.string()),
              content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constantFrom("text", "image"), text: fc.string() })), fc.anything()),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
        fc.anything(),
      ),
      max_tokens: fc.oneof(fc.integer({ min: -5, max: 40 }), fc.double(), fc.string(), fc.constant(null)),
      temperature: fc.oneof(fc.double({ min: -1, max: 3 }), fc.string(), fc.constant(null)),
      stream: fc.oneof(fc.boolean(), fc.anything()),
      stream_options: fc.oneof(fc.record({ include_usage: fc.oneof(fc.boolean(), fc.anything()) }), fc.anything()),
      stop: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 6 }), fc.anything()),
    },
    { requiredKeys: [] },
  );

  it("never answer 5xx on /v1/chat/completions", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(chatLike, fc.anything()), async (body) => {
        const response = await postJson("/v1/chat/completions", JSON.stringify(body) ?? "undefined");
        const text = await response.text();
        expect(response.status, text).toBeLessThan(500);
        if (response.status >= 400) {
          const parsed = JSON.parse(text) as ErrorBody;
          expect(typeof parsed.error.message).toBe("string");
        }
      }),
      { numRuns: 150 },
    );
  });

  it("never answer 5xx on raw byte soup", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.constantFrom("/v1/chat/completions", "/v1/completions", "/admin/config"), async (bytes, path) => {
        const response = await call(path, { method: "POST", body: bytes });
        await response.arrayBuffer();
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 100 },
    );
  });
});
