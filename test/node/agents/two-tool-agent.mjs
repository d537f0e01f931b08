// An agent built with the OpenAI Agents SDK (@openai/agents), pointed at Homeskillet's Chat
// Completions API: two tools with zod parameters, one run to its final output. Run by
// test/node/agents-sdk.test.ts under Node 22 (the SDK's own openai dependency needs it):
//
//   HOMESKILLET_URL=http://127.0.0.1:8787 HOMESKILLET_KEY=hsk_… HOMESKILLET_MODEL=mistral-7b \
//   [HOMESKILLET_COVENANT=id] [AGENT_PROMPT=…] npx -y -p node@22 node test/node/agents/two-tool-agent.mjs
//
// Prints one JSON line: {finalOutput, toolCalls: [{name, callId, arguments, output}]}, where
// `arguments` is the JSON text the model sent and `output` what the tool returned.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool } from "@openai/agents";
import { z } from "zod";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

// The openai client the SDK itself depends on (openai 7), not the project's own (openai 6):
// resolved from @openai/agents-openai, then its ES module entry loaded, as the SDK loads it.
const agentsOpenAI = createRequire(import.meta.url).resolve("@openai/agents-openai");
const openaiCjs = createRequire(agentsOpenAI).resolve("openai");
const { default: OpenAI } = await import(pathToFileURL(join(dirname(openaiCjs), "index.mjs")).href);

const covenant = process.env.HOMESKILLET_COVENANT;
setDefaultOpenAIClient(
  new OpenAI({
    baseURL: `${env("HOMESKILLET_URL")}/v1`,
    apiKey: env("HOMESKILLET_KEY"),
    defaultHeaders: covenant ? { "x-homeskillet-covenant": covenant } : {},
    maxRetries: 0,
  }),
);
// Homeskillet serves Chat Completions, not the Responses API (the SDK's default).
setOpenAIAPI("chat_completions");
setTracingDisabled(true);

// The same tools, with the same results, as test/node/agent-support.ts (the test recomputes
// each result from the arguments with that file's functions and compares).
const getWeather = tool({
  name: "get_weather",
  description: "Current weather in a city",
  parameters: z.object({
    city: z.string().min(1).describe("The city"),
    unit: z.enum(["celsius", "fahrenheit"]).describe("Temperature unit"),
  }),
  execute: async ({ city, unit }) => {
    const temp = unit === "celsius" ? 10 + (city.length % 20) : 50 + (city.length % 30);
    return JSON.stringify({ city, temp, unit, sky: "clear" });
  },
});
const getTime = tool({
  name: "get_time",
  description: "Current local time in a city",
  parameters: z.object({
    city: z.string().min(1).describe("The city"),
    utc_offset_hours: z.number().int().min(-12).max(14).describe("The city's offset from UTC, in hours"),
  }),
  execute: async ({ city, utc_offset_hours }) => {
    const hour = (((12 + utc_offset_hours) % 24) + 24) % 24;
    return JSON.stringify({ city, time: `${String(hour).padStart(2, "0")}:05`, utc_offset_hours });
  },
});

const agent = new Agent({
  name: "City assistant",
  instructions: "Answer questions about cities using the tools.",
  model: env("HOMESKILLET_MODEL"),
  modelSettings: { maxTokens: 256 },
  tools: [getWeather, getTime],
});

const result = await run(agent, process.env.AGENT_PROMPT ?? "Use get_weather and get_time for Paris.", { maxTurns: 5 });

const calls = new Map();
for (const item of result.newItems) {
  if (item.type === "tool_call_item" && item.rawItem.type === "function_call") {
    calls.set(item.rawItem.callId, { name: item.rawItem.name, callId: item.rawItem.callId, arguments: item.rawItem.arguments, output: undefined });
  } else if (item.type === "tool_call_output_item") {
    const call = calls.get(item.rawItem.callId);
    if (call) call.output = item.output;
  }
}
process.stdout.write(`${JSON.stringify({ finalOutput: result.finalOutput, toolCalls: [...calls.values()] })}\n`);
