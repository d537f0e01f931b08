// Prefill: a request that asks for its last (assistant) message to be continued gets only what
// follows that message, joined to it without a gap or a double space — as vLLM does with
// `continue_final_message` and llama.cpp's server with a trailing assistant message.
import { beforeEach, describe, expect, it } from "vitest";
import { continuationJoin, generateText } from "../src/text";
import { hello, postJson, resetDevice, sseData } from "./helpers";

beforeEach(() => resetDevice());

interface Completion {
  choices: Array<{ message: { content: string }; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function chat(body: Record<string, unknown>): Promise<Completion> {
  const response = await postJson("/v1/chat/completions", body);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json<Completion>();
}

const base = { model: "gemma-2b-it", max_tokens: 24, temperature: 0 };

describe("continue_final_message", () => {
  it("continues the assistant's message: only the rest comes back, carrying on its sentence", async () => {
    const first = (await chat({ ...base, messages: hello })).choices[0]!.message.content;
    const sofar = first.split(" ").slice(0, 3).join(" ");
    const messages = [...hello, { role: "assistant", content: sofar }];
    const next = await chat({ ...base, messages, continue_final_message: true, add_generation_prompt: false });
    const rest = next.choices[0]!.message.content;
    expect(rest).toMatch(/^ [a-z]/);
    expect(rest.startsWith(` ${sofar}`)).toBe(false);
    // The same request continues the same way; the prefix is part of the prompt.
    expect((await chat({ ...base, messages, continue_final_message: true })).choices[0]!.message.content).toBe(rest);
    const plain = await chat({ ...base, messages: hello });
    expect(next.usage.prompt_tokens).toBeGreaterThan(plain.usage.prompt_tokens);
  });

  it("streams the continuation token by token, its first token joining the prefix", async () => {
    const messages = [...hello, { role: "assistant", content: "The tunnel is open and " }];
    const response = await postJson("/v1/chat/completions", { ...base, messages, continue_final_message: true, stream: true });
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const text = events
      .slice(0, -1)
      .map((e) => (JSON.parse(e) as { choices: Array<{ delta: { content: string } }> }).choices[0]!.delta.content)
      .join("");
    expect(text).toMatch(/^[a-z]/);
    const whole = await chat({ ...base, messages, continue_final_message: true });
    expect(text).toBe(whole.choices[0]!.message.content);
  });

  it("without the flag answers after a trailing assistant message, as mlx_lm.server does", async () => {
    const messages = [...hello, { role: "assistant", content: "The tunnel is" }];
    const answer = (await chat({ ...base, messages })).choices[0]!.message.content;
    expect(answer).toMatch(/^[A-Z]/);
  });

  it.each([
    [{ continue_final_message: true, add_generation_prompt: true, messages: [...hello, { role: "assistant", content: "Hi" }] }],
    [{ continue_final_message: true, messages: hello }],
  ])("refuses %j with 400 naming continue_final_message", async (body) => {
    const response = await postJson("/v1/chat/completions", { ...base, ...body });
    expect(response.status).toBe(400);
    expect((await response.json<{ error: { param: string } }>()).error.param).toBe("continue_final_message");
  });
});

describe("continuationJoin", () => {
  it("joins mid-sentence after a space, and starts anew after a sentence", () => {
    expect(continuationJoin("")).toEqual({ midSentence: false, needsSpace: false });
    expect(continuationJoin("The node")).toEqual({ midSentence: true, needsSpace: true });
    expect(continuationJoin("The node ")).toEqual({ midSentence: true, needsSpace: false });
    expect(continuationJoin("It runs.")).toEqual({ midSentence: false, needsSpace: true });
    const input = { seed: "7", model: "gemma-2b-it", prompt: "p", maxTokens: 12, temperature: 0 };
    expect(generateText({ ...input, continues: "It runs." }).tokens[0]).toMatch(/^ [A-Z]/);
    expect(generateText({ ...input, continues: "The node " }).tokens[0]).toMatch(/^[a-z]/);
  });
});
