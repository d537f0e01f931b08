// Streaming: SSE chunks in mlx_lm.server's format, produced over time and ended by [DONE].
import { beforeEach, describe, expect, it } from "vitest";
import { hello, postJson, resetDevice, sseData, stats } from "./helpers";

beforeEach(() => resetDevice());

interface Chunk {
  id: string;
  object: string;
  model: string;
  created: number;
  system_fingerprint: string;
  choices: Array<{ index: number; delta: { role?: string; content?: string }; finish_reason: string | null; logprobs: null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function streamed(body: Record<string, unknown>): Promise<{ response: Response; events: string[] }> {
  const response = await postJson("/v1/chat/completions", { ...body, stream: true });
  expect(response.status).toBe(200);
  return { response, events: sseData(await response.text()) };
}

describe("stream: true", () => {
  it("sends chat.completion.chunk events, a finishing chunk, then data: [DONE]", async () => {
    const { response, events } = await streamed({ model: "gemma-2b-it", messages: hello, max_tokens: 24 });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^chatcmpl-/);
    for (const chunk of chunks) {
      expect(chunk.object).toBe("chat.completion.chunk");
      expect(chunk.model).toBe("gemma-2b-it");
      expect(chunk.choices).toHaveLength(1);
      expect(chunk.choices[0]).toMatchObject({ index: 0, logprobs: null });
      expect(chunk.usage).toBeUndefined();
    }
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const last = chunks.at(-1)!;
    expect(["stop", "length"]).toContain(last.choices[0]!.finish_reason);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.choices[0]!.finish_reason).toBeNull();
  });

  it("streams exactly the text a non-streaming request returns, one token per chunk", async () => {
    const request = { model: "mistral-7b", messages: hello, max_tokens: 30 };
    const whole = await (await postJson("/v1/chat/completions", request)).json<{
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    }>();
    const { events } = await streamed(request);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Chunk);
    const tokenChunks = chunks.slice(0, -1);
    expect(tokenChunks).toHaveLength(whole.usage.completion_tokens);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? "").join("")).toBe(whole.choices[0]!.message.content);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason);
  });

  it("adds a usage chunk before [DONE] when stream_options.include_usage is set", async () => {
    const { events } = await streamed({ messages: hello, max_tokens: 12, stream_options: { include_usage: true } });
    expect(events.at(-1)).toBe("[DONE]");
    const usageChunk = JSON.parse(events.at(-2)!) as Chunk;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage!.total_tokens).toBe(usageChunk.usage!.prompt_tokens + usageChunk.usage!.completion_tokens);
    const tokenChunks = events.length - 3; // minus finishing, usage and [DONE]
    expect(usageChunk.usage!.completion_tokens).toBe(tokenChunks);
  });

  it("delivers the first token while the rest are still being generated", async () => {
    // At real-time speed 600 gemma-2b-it tokens take over a second, so an implementation that
    // buffered the whole answer could not hand over a first chunk with the stream still open.
    await resetDevice(1);
    const response = await postJson("/v1/chat/completions", {
      model: "gemma-2b-it",
      messages: hello,
      max_tokens: 600,
      stream: true,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const text = new TextDecoder().decode(first.value);
    const [event] = sseData(text);
    const chunk = JSON.parse(event!) as Chunk;
    expect(chunk.choices[0]!.delta.role).toBe("assistant");
    expect(chunk.choices[0]!.finish_reason).toBeNull();
    expect(text).not.toContain("[DONE]");
    // The device is still booked for the remaining tokens when the first one arrives.
    expect((await stats()).busy_until).toBeGreaterThan(Date.now());
    await reader.cancel();
  });

  it("streams legacy text completions too", async () => {
    const response = await postJson("/v1/completions", { prompt: "Hello", max_tokens: 8, stream: true });
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const first = JSON.parse(events[0]!) as { object: string; choices: Array<{ text: string }> };
    expect(first.object).toBe("text_completion");
    expect(typeof first.choices[0]!.text).toBe("string");
  });
});
