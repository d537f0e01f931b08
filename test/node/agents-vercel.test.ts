// The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`) against Homeskillet: a multi-step
// agent loop with generateText and streamText (the SDK runs the tools and sends their results
// back), and generateObject with a zod schema; on a Hosted.AI model and on the local node. The
// tools record what they were called with and what they returned, so the checks compare the
// answer with the test's own values (test/node/agent-support.ts), not with the gateway's echo.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { describe, expect, inject, it } from "vitest";
import {
  ARG_SCHEMAS,
  BOTH_TOOLS_PROMPT,
  CITY_PROMPT,
  CityCard,
  fits,
  HOSTED,
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
const targets = agentTargets("agents-vercel", HOSTED.mistral);

const MAX_OUTPUT_TOKENS = 256;

const modelFor = (target: Target) =>
  createOpenAICompatible({
    name: "homeskillet",
    baseURL: `${gateway}/v1`,
    apiKey: keys.dev,
    headers: target.headers(),
    // The gateway takes json_schema response formats (without this the SDK sends json_object).
    supportsStructuredOutputs: true,
  }).chatModel(target.model);

interface Ran {
  name: ToolName;
  input: unknown;
  output: string;
}

/** The two tools as the SDK takes them; each run is recorded in `ran`. */
function agentTools(ran: Ran[]) {
  return {
    get_weather: tool({
      description: TOOL_DESCRIPTIONS.get_weather,
      inputSchema: WeatherArgs,
      execute: async (input) => {
        const output = weather(input);
        ran.push({ name: "get_weather", input, output });
        return output;
      },
    }),
    get_time: tool({
      description: TOOL_DESCRIPTIONS.get_time,
      inputSchema: TimeArgs,
      execute: async (input) => {
        const output = time(input);
        ran.push({ name: "get_time", input, output });
        return output;
      },
    }),
  };
}

/** Each tool ran once, with input fitting its schema. */
function expectBothRan(ran: Ran[]) {
  expect(ran.map((r) => r.name).sort()).toEqual([...TOOL_NAMES].sort());
  for (const r of ran) {
    const verdict = fits(ARG_SCHEMAS[r.name], r.input);
    expect(verdict.ok, `${r.name} input ${JSON.stringify(r.input)} fits its schema: ${verdict.issues}`).toBe(true);
  }
}

describe.each(targets)("Vercel AI SDK on $label", (target) => {
  it("generateText runs the tools over several steps to a final text quoting both results", async () => {
    const ran: Ran[] = [];
    const result = await generateText({
      model: modelFor(target),
      tools: agentTools(ran),
      stopWhen: stepCountIs(5),
      maxOutputTokens: MAX_OUTPUT_TOKENS,
      maxRetries: 0,
      prompt: BOTH_TOOLS_PROMPT,
    });
    expectBothRan(ran);
    // A step that called the tools, then one that answered.
    expect(result.steps.length).toBeGreaterThanOrEqual(2);
    expect(result.steps[0]!.finishReason).toBe("tool-calls");
    const calls = result.steps.flatMap((s) => s.toolCalls);
    expect(calls.map((c) => c.toolName).sort()).toEqual([...TOOL_NAMES].sort());
    const last = result.steps.at(-1)!;
    expect(last.toolCalls).toEqual([]);
    expect(["stop", "length"]).toContain(last.finishReason);
    for (const r of ran) expect(result.text).toContain(r.output);
  });

  it("streamText streams the tool calls, their results and the final text", async () => {
    const ran: Ran[] = [];
    const result = streamText({
      model: modelFor(target),
      tools: agentTools(ran),
      stopWhen: stepCountIs(5),
      maxOutputTokens: MAX_OUTPUT_TOKENS,
      maxRetries: 0,
      prompt: BOTH_TOOLS_PROMPT,
    });
    const toolCalls: { id: string; name: string; input: unknown }[] = [];
    const toolResults: { id: string; name: string; output: unknown }[] = [];
    const errors: unknown[] = [];
    let text = "";
    for await (const part of result.fullStream) {
      if (part.type === "tool-call") toolCalls.push({ id: part.toolCallId, name: part.toolName, input: part.input });
      else if (part.type === "tool-result") toolResults.push({ id: part.toolCallId, name: part.toolName, output: part.output });
      else if (part.type === "text-delta") text += part.text;
      else if (part.type === "error" || part.type === "tool-error") errors.push(part);
    }
    expect(errors).toEqual([]);
    expectBothRan(ran);
    expect(toolCalls.map((c) => c.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const c of toolCalls) expect(fits(ARG_SCHEMAS[c.name as ToolName], c.input).ok, `${c.name} ${JSON.stringify(c.input)}`).toBe(true);
    // Each call's result part carries what that tool returned.
    for (const call of toolCalls) {
      const r = toolResults.find((x) => x.id === call.id);
      expect(r, `a result for call ${call.id}`).toBeDefined();
      expect(r!.output).toBe(ran.find((x) => x.name === call.name)!.output);
    }
    for (const r of ran) expect(text).toContain(r.output);
    const steps = await result.steps;
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.at(-1)!.toolCalls).toEqual([]);
  });

  it("generateObject gives an object fitting the zod schema", async () => {
    const { object, finishReason } = await generateObject({
      model: modelFor(target),
      schema: CityCard,
      schemaName: "city_card",
      maxOutputTokens: MAX_OUTPUT_TOKENS,
      maxRetries: 0,
      prompt: CITY_PROMPT,
    });
    expect(finishReason).toBe("stop");
    const verdict = fits(CityCard, object);
    expect(verdict.ok, `${JSON.stringify(object)} fits: ${verdict.issues}`).toBe(true);
  });
});
