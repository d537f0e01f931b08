// Tool calling and structured outputs through the official openai SDK, as an agent written
// against OpenAI's Chat Completions would use them: on a Hosted.AI model (the prompt rendered with
// the family's chat template, the calls parsed back) and on the local node (tools passed through).
// Arguments are checked against the tools' zod schemas and final answers against the results the
// test itself computed (test/node/agent-support.ts).
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionMessageToolCall } from "openai/resources/chat/completions";
import { describe, expect, inject, it } from "vitest";
import {
  ARG_SCHEMAS,
  BOTH_TOOLS_PROMPT,
  CITY_PROMPT,
  CityCard,
  fits,
  HOSTED,
  openAiTools,
  parametersOf,
  runTool,
  TOOL_NAMES,
  type Target,
  type ToolName,
  agentTargets,
} from "./agent-support.ts";

const { gateway, keys } = inject("system");
const targets = agentTargets("agents-openai", HOSTED.qwen);

/** Enough for two calls or a final answer quoting two results, without waiting on long prose. */
const MAX_TOKENS = 256;

const clientFor = (target: Target) =>
  new OpenAI({ apiKey: keys.dev, baseURL: `${gateway}/v1`, defaultHeaders: target.headers(), maxRetries: 0 });

type FunctionCall = Extract<ChatCompletionMessageToolCall, { type: "function" }>;

/** The calls of an answer, each checked: a function call to one of the tools, arguments fitting its schema. */
function checkedCalls(calls: ChatCompletionMessageToolCall[] | undefined): FunctionCall[] {
  expect(calls, "the answer has tool_calls").toBeDefined();
  const out: FunctionCall[] = [];
  for (const call of calls!) {
    expect(call.type).toBe("function");
    const fn = call as FunctionCall;
    expect(TOOL_NAMES).toContain(fn.function.name);
    expect(fn.id.length).toBeGreaterThan(0);
    const args = JSON.parse(fn.function.arguments) as unknown;
    const verdict = fits(ARG_SCHEMAS[fn.function.name as ToolName], args);
    expect(verdict.ok, `${fn.function.name} arguments ${fn.function.arguments} fit its schema: ${verdict.issues}`).toBe(true);
    out.push(fn);
  }
  expect(new Set(out.map((c) => c.id)).size, "call ids are distinct").toBe(out.length);
  return out;
}

/** The assistant turn and tool results to send back for these calls, and the results' texts. */
function answerCalls(calls: FunctionCall[]): { messages: ChatCompletionMessageParam[]; results: string[] } {
  const results = calls.map((c) => runTool(c.function.name, c.function.arguments));
  return {
    messages: [
      { role: "assistant", content: null, tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: c.function })) },
      ...calls.map((c, i) => ({ role: "tool" as const, tool_call_id: c.id, content: results[i]! })),
    ],
    results,
  };
}

describe.each(targets)("openai SDK: tools on $label", (target) => {
  const base = () => ({ model: target.model, max_tokens: MAX_TOKENS, tools: openAiTools() });

  it("answers with a call to each tool named, arguments fitting the tool's schema", async () => {
    const res = await clientFor(target).chat.completions.create({ ...base(), messages: [{ role: "user", content: BOTH_TOOLS_PROMPT }] });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect([null, ""]).toContain(choice.message.content);
    const calls = checkedCalls(choice.message.tool_calls);
    expect(calls.map((c) => c.function.name)).toEqual(["get_weather", "get_time"]);
  });

  it("runs the loop by hand: both calls at once, then a final answer quoting both results", async () => {
    const client = clientFor(target);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: BOTH_TOOLS_PROMPT }];
    const first = await client.chat.completions.create({ ...base(), messages, parallel_tool_calls: true });
    const calls = checkedCalls(first.choices[0]!.message.tool_calls);
    expect(calls.map((c) => c.function.name).sort()).toEqual([...TOOL_NAMES].sort());
    const { messages: turn, results } = answerCalls(calls);
    messages.push(...turn);

    const final = await client.chat.completions.create({ ...base(), messages });
    const choice = final.choices[0]!;
    expect(choice.message.tool_calls ?? []).toEqual([]);
    expect(["stop", "length"]).toContain(choice.finish_reason);
    for (const result of results) expect(choice.message.content).toContain(result);
  });

  it("with parallel_tool_calls false, calls one tool per turn until both have run", async () => {
    const client = clientFor(target);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: BOTH_TOOLS_PROMPT }];
    const called: string[] = [];
    const results: string[] = [];
    for (let turn = 0; turn < 2; turn++) {
      const res = await client.chat.completions.create({ ...base(), messages, parallel_tool_calls: false });
      expect(res.choices[0]!.finish_reason, `turn ${turn + 1}`).toBe("tool_calls");
      const calls = checkedCalls(res.choices[0]!.message.tool_calls);
      expect(calls.length, `turn ${turn + 1}: one call`).toBe(1);
      called.push(calls[0]!.function.name);
      const answered = answerCalls(calls);
      messages.push(...answered.messages);
      results.push(...answered.results);
    }
    expect(called.sort()).toEqual([...TOOL_NAMES].sort());
    const final = await client.chat.completions.create({ ...base(), messages, parallel_tool_calls: false });
    expect(final.choices[0]!.message.tool_calls ?? []).toEqual([]);
    for (const result of results) expect(final.choices[0]!.message.content).toContain(result);
  });

  it("honours tool_choice: a named function is called though another is asked for; none calls nothing", async () => {
    const client = clientFor(target);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: "Use get_weather for Paris." }];
    const named = await client.chat.completions.create({ ...base(), messages, tool_choice: { type: "function", function: { name: "get_time" } } });
    expect(named.choices[0]!.finish_reason).toBe("tool_calls");
    expect(checkedCalls(named.choices[0]!.message.tool_calls).map((c) => c.function.name)).toEqual(["get_time"]);

    const none = await client.chat.completions.create({ ...base(), max_tokens: 24, messages, tool_choice: "none" });
    expect(none.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(none.choices[0]!.finish_reason).not.toBe("tool_calls");
    expect((none.choices[0]!.message.content ?? "").length).toBeGreaterThan(0);
  });

  it("streams tool calls through the SDK's stream helper, finalChatCompletion assembling them", async () => {
    const stream = clientFor(target).chat.completions.stream({ ...base(), messages: [{ role: "user", content: BOTH_TOOLS_PROMPT }] });
    const done: { name: string; index: number; arguments: string }[] = [];
    stream.on("tool_calls.function.arguments.done", (e) => done.push({ name: e.name, index: e.index, arguments: e.arguments }));
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const calls = checkedCalls(choice.message.tool_calls);
    expect(calls.map((c) => c.function.name)).toEqual(["get_weather", "get_time"]);
    // The helper's per-call events saw the same calls, in order, with the same arguments.
    expect(done).toEqual(calls.map((c, index) => ({ name: c.function.name, index, arguments: c.function.arguments })));
  });

  it("streams raw chunks in OpenAI's format: per call, a header delta, then arguments only; then the final answer", async () => {
    const client = clientFor(target);
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: BOTH_TOOLS_PROMPT }];
    const stream = await client.chat.completions.create({ ...base(), messages, stream: true });
    const deltas = new Map<number, ChatCompletionChunk.Choice.Delta.ToolCall[]>();
    let content = "";
    let finish: string | null = null;
    let finishes = 0;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? "";
      for (const tc of choice.delta.tool_calls ?? []) deltas.set(tc.index, [...(deltas.get(tc.index) ?? []), tc]);
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        finishes++;
      }
    }
    expect(finish).toBe("tool_calls");
    expect(finishes).toBe(1);
    expect(content).toBe("");
    expect([...deltas.keys()]).toEqual([0, 1]);
    const calls: FunctionCall[] = [];
    for (const [index, parts] of deltas) {
      const [head, ...rest] = parts;
      expect(head!.id, `call ${index}: the first delta carries the id`).toEqual(expect.any(String));
      expect(head!.type).toBe("function");
      expect(head!.function?.name).toEqual(expect.any(String));
      for (const later of rest) {
        // Later deltas of a call carry only (a piece of) its arguments.
        expect(later.id, `call ${index}: a later delta has no id`).toBeUndefined();
        expect(later.type).toBeUndefined();
        expect(later.function?.name).toBeUndefined();
        expect(Object.keys(later.function ?? {})).toEqual(["arguments"]);
      }
      const args = parts.map((p) => p.function?.arguments ?? "").join("");
      calls.push({ id: head!.id!, type: "function", function: { name: head!.function!.name!, arguments: args } });
    }
    checkedCalls(calls);
    expect(calls.map((c) => c.function.name)).toEqual(["get_weather", "get_time"]);

    const { messages: turn, results } = answerCalls(calls);
    let text = "";
    let finalFinish: string | null = null;
    for await (const chunk of await client.chat.completions.create({ ...base(), messages: [...messages, ...turn], stream: true })) {
      expect(chunk.choices[0]?.delta.tool_calls ?? []).toEqual([]);
      text += chunk.choices[0]?.delta.content ?? "";
      finalFinish = chunk.choices[0]?.finish_reason ?? finalFinish;
    }
    expect(["stop", "length"]).toContain(finalFinish);
    for (const result of results) expect(text).toContain(result);
  });
});

describe.each(targets)("openai SDK: structured outputs on $label", (target) => {
  it("chat.completions.parse with zodResponseFormat gives a parsed object fitting the zod schema", async () => {
    const res = await clientFor(target).chat.completions.parse({
      model: target.model,
      max_tokens: MAX_TOKENS,
      messages: [{ role: "user", content: CITY_PROMPT }],
      response_format: zodResponseFormat(CityCard, "city_card"),
    });
    const message = res.choices[0]!.message;
    expect(res.choices[0]!.finish_reason).toBe("stop");
    const verdict = fits(CityCard, message.parsed);
    expect(verdict.ok, `parsed ${JSON.stringify(message.parsed)} fits: ${verdict.issues}`).toBe(true);
    // The content itself is the JSON, nothing around it.
    expect(JSON.parse(message.content!)).toEqual(message.parsed);
  });

  it("json_object gives content that is one JSON object", async () => {
    const res = await clientFor(target).chat.completions.create({
      model: target.model,
      max_tokens: MAX_TOKENS,
      messages: [{ role: "user", content: "Describe Paris as JSON." }],
      response_format: { type: "json_object" },
    });
    const parsed = JSON.parse(res.choices[0]!.message.content!) as unknown;
    expect(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed), `${res.choices[0]!.message.content} is an object`).toBe(true);
  });
});

describe("openai SDK: what cannot be honoured is refused by name", () => {
  const client = () => new OpenAI({ apiKey: keys.dev, baseURL: `${gateway}/v1`, maxRetries: 0 });
  const refusal = async (body: Record<string, unknown>) => {
    const err = await client()
      .chat.completions.create({ model: HOSTED.qwen, messages: [{ role: "user", content: BOTH_TOOLS_PROMPT }], ...body } as never)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    return err as InstanceType<typeof OpenAI.BadRequestError>;
  };

  it("logprobs: true raises BadRequestError naming logprobs", async () => {
    const err = await refusal({ logprobs: true });
    expect(err.param).toBe("logprobs");
    expect(err.code).toBe("unsupported_parameter");
  });

  it("a tool schema with a pattern is refused, naming where the pattern is", async () => {
    const parameters = parametersOf("get_weather") as { properties: Record<string, Record<string, unknown>> };
    const withPattern = { ...parameters, properties: { ...parameters.properties, city: { type: "string", pattern: "^[A-Z]" } } };
    const err = await refusal({ tools: [{ type: "function", function: { name: "get_weather", parameters: withPattern } }] });
    expect(err.param).toBe("tools.0.function.parameters.properties.city.pattern");
    expect(err.code).toBe("unsupported_parameter");
  });

  it("tool_choice naming a function not in tools is a bad request naming tool_choice", async () => {
    const err = await refusal({ tools: openAiTools(), tool_choice: { type: "function", function: { name: "get_news" } } });
    expect(err.param).toBe("tool_choice.function.name");
  });
});
