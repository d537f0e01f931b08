import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentChunkJson } from "../src/api/openai-stream";
import { createCovenant } from "./support/covenants";
import { call } from "./support/gateway";

interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { completion_tokens: number };
  homeskillet?: { pool_id: string };
}

/** The `data:` payloads of an SSE body, in order. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice(6));
}

describe("streaming chat completions", () => {
  it.each([
    ["the local node", { fallback: ["local"], models: ["mistral-7b"] }, "local"],
    ["a Hosted.AI pool", { models: ["gemma-2b-it"] }, "standard-us-east"],
  ])("streams from %s in OpenAI's chunk format, ending with [DONE]", async (_label, covenant, pool) => {
    const { id } = await createCovenant(covenant);
    const res = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": id },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "Count to five." }], max_tokens: 12, stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text.trim().length).toBeGreaterThan(0);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(["stop", "length"]).toContain(finish!.choices[0]!.finish_reason);
    expect(finish!.homeskillet!.pool_id).toBe(pool);
    const usage = chunks.find((c) => c.usage);
    expect(usage!.usage!.completion_tokens).toBeGreaterThan(0);
    expect(usage!.choices).toEqual([]);
  });

  it("answers a failure before any token with a real error status, not a 200 stream", async () => {
    const { id } = await createCovenant({ models: ["qwen-70b"], fallback: ["local"] });
    const res = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": id },
      body: JSON.stringify({ model: "qwen-70b", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "upstreams_exhausted", type: "server_error" } });
  });
});

describe("a content chunk from its template", () => {
  it("is exactly the chunk object's JSON, whatever the text, model and id", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.integer({ min: 0, max: 4_000_000_000 }), (content, model, id, created) => {
        const object = {
          id,
          object: "chat.completion.chunk",
          created,
          model,
          system_fingerprint: null,
          choices: [{ index: 0, delta: { content }, finish_reason: null, logprobs: null }],
        };
        expect(contentChunkJson(id, created, model, content)).toBe(JSON.stringify(object));
      }),
    );
  });
});
