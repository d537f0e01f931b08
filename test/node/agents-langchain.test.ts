// LangChain JS (`@langchain/openai`'s ChatOpenAI) against Homeskillet: bindTools with zod tools
// → tool_calls on the AIMessage, the tools run and their ToolMessages sent back → a final answer
// quoting both results; the same calls streamed and concatenated; withStructuredOutput with
// method jsonSchema (its default for these model names) and functionCalling.
// On a Hosted.AI model and on the local node. Checks use the test's own values
// (test/node/agent-support.ts): the zod schemas and the results the tools returned.
import type { AIMessage, AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { concat } from "@langchain/core/utils/stream";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, inject, it } from "vitest";
import {
  ARG_SCHEMAS,
  BOTH_TOOLS_PROMPT,
  CITY_PROMPT,
  CityCard,
  fits,
  HOSTED,
  runTool,
  TimeArgs,
  TOOL_DESCRIPTIONS,
  TOOL_NAMES,
  time,
  weather,
  WeatherArgs,
  type Target,
  type ToolName,
  agentTargets,
} from "./agent-support.ts";

const { gateway, keys } = inject("system");
const targets = agentTargets("agents-langchain", HOSTED.qwen);

const chatModel = (target: Target) =>
  new ChatOpenAI({
    model: target.model,
    apiKey: keys.dev,
    configuration: { baseURL: `${gateway}/v1`, defaultHeaders: target.headers() },
    maxRetries: 0,
    maxTokens: 256,
  });

const getWeather = tool(async (input) => weather(input), { name: "get_weather", description: TOOL_DESCRIPTIONS.get_weather, schema: WeatherArgs });
const getTime = tool(async (input) => time(input), { name: "get_time", description: TOOL_DESCRIPTIONS.get_time, schema: TimeArgs });

/** The message's tool calls, each to one of the tools with arguments fitting its zod schema. */
function expectValidCalls(message: AIMessage) {
  expect(message.invalid_tool_calls ?? []).toEqual([]);
  const calls = message.tool_calls ?? [];
  for (const call of calls) {
    expect(TOOL_NAMES).toContain(call.name);
    expect(call.id, `${call.name} has an id`).toEqual(expect.any(String));
    const verdict = fits(ARG_SCHEMAS[call.name as ToolName], call.args);
    expect(verdict.ok, `${call.name} args ${JSON.stringify(call.args)} fit its schema: ${verdict.issues}`).toBe(true);
  }
  expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
  return calls;
}

describe.each(targets)("LangChain ChatOpenAI on $label", (target) => {
  it("bindTools: tool_calls on the AIMessage, ToolMessages back, a final answer quoting both results", async () => {
    const model = chatModel(target).bindTools([getWeather, getTime]);
    const messages: BaseMessage[] = [new HumanMessage(BOTH_TOOLS_PROMPT)];
    const ai = await model.invoke(messages);
    const calls = expectValidCalls(ai);
    expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_time"]);
    messages.push(ai);
    const results: string[] = [];
    for (const call of calls) {
      const toolCall = { ...call, type: "tool_call" as const };
      const toolMessage = (call.name === "get_weather" ? await getWeather.invoke(toolCall) : await getTime.invoke(toolCall)) as ToolMessage;
      expect(toolMessage).toBeInstanceOf(ToolMessage);
      // What the tool returned, computed independently from the same arguments.
      const expected = runTool(call.name, call.args);
      expect(toolMessage.content).toBe(expected);
      results.push(expected);
      messages.push(toolMessage);
    }
    const final = await model.invoke(messages);
    expect(final.tool_calls ?? []).toEqual([]);
    expect(typeof final.content).toBe("string");
    for (const result of results) expect(final.content).toContain(result);
  });

  it("bindTools streamed: the chunks concatenate to the same kind of tool calls", async () => {
    const model = chatModel(target).bindTools([getWeather, getTime]);
    let message: AIMessageChunk | undefined;
    for await (const chunk of await model.stream([new HumanMessage(BOTH_TOOLS_PROMPT)])) message = message ? concat(message, chunk) : chunk;
    expect(message).toBeDefined();
    const calls = expectValidCalls(message!);
    expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_time"]);
    expect(message!.response_metadata.finish_reason).toBe("tool_calls");
  });

  // jsonSchema is also what withStructuredOutput picks when no method is given (for any model name
  // but gpt-3*, gpt-4 and gpt-4-*), so this is the path a LangChain user gets by default.
  it("withStructuredOutput, method jsonSchema: the parsed object fits the zod schema, the answer is that JSON", async () => {
    const structured = chatModel(target).withStructuredOutput(CityCard, { name: "city_card", method: "jsonSchema", includeRaw: true });
    const { raw, parsed } = await structured.invoke(CITY_PROMPT);
    const verdict = fits(CityCard, parsed);
    expect(verdict.ok, `${JSON.stringify(parsed)} fits: ${verdict.issues}`).toBe(true);
    // The answer's text is the JSON itself.
    expect(JSON.parse(raw.content as string)).toEqual(parsed);
  });

  it("withStructuredOutput, method functionCalling: a forced call whose arguments fit the zod schema", async () => {
    const structured = chatModel(target).withStructuredOutput(CityCard, { name: "city_card", method: "functionCalling", includeRaw: true });
    const { raw, parsed } = await structured.invoke(CITY_PROMPT);
    const verdict = fits(CityCard, parsed);
    expect(verdict.ok, `${JSON.stringify(parsed)} fits: ${verdict.issues}`).toBe(true);
    expect((raw as AIMessage).tool_calls?.map((c) => c.name)).toEqual(["city_card"]);
  });
});
