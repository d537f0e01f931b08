// What the agent-framework tests (test/node/agents-*.test.ts) share: the two tools an agent is
// given — their zod schemas, the JSON Schemas sent for them, and what running them returns — the
// structured answer asked for, and a covenant that runs on the local node.
//
// The emulators call the tools a request names, with arguments made up from the tools' schemas,
// and after the results come back answer in prose quoting each result verbatim. So a test can
// check the arguments against the zod schemas here and the final answer against the results
// computed here, neither taken from the gateway's own output.
import { afterAll, beforeAll, inject } from "vitest";
import { z } from "zod";

/** Hosted.AI models the agent tests use (their families render tools differently). */
export const HOSTED = { qwen: "qwen-14b", mistral: "mistral-7b" } as const;
/** The model asked for on the local node (it serves gemma-2b-it and mistral-7b). */
export const LOCAL_MODEL = "mistral-7b";

/** The request that makes the emulated model call both tools. */
export const BOTH_TOOLS_PROMPT = "Use get_weather and get_time for Paris.";

export const WeatherArgs = z.object({
  city: z.string().min(1).describe("The city"),
  unit: z.enum(["celsius", "fahrenheit"]).describe("Temperature unit"),
});
export const TimeArgs = z.object({
  city: z.string().min(1).describe("The city"),
  utc_offset_hours: z.number().int().min(-12).max(14).describe("The city's offset from UTC, in hours"),
});
export type WeatherArgs = z.infer<typeof WeatherArgs>;
export type TimeArgs = z.infer<typeof TimeArgs>;

export const TOOL_DESCRIPTIONS = {
  get_weather: "Current weather in a city",
  get_time: "Current local time in a city",
} as const;
export type ToolName = keyof typeof TOOL_DESCRIPTIONS;
export const TOOL_NAMES = Object.keys(TOOL_DESCRIPTIONS) as ToolName[];
export const ARG_SCHEMAS = { get_weather: WeatherArgs, get_time: TimeArgs } as const;

/** What get_weather returns for these arguments (a JSON text, as a tool result is sent). */
export function weather(args: WeatherArgs): string {
  const temp = args.unit === "celsius" ? 10 + (args.city.length % 20) : 50 + (args.city.length % 30);
  return JSON.stringify({ city: args.city, temp, unit: args.unit, sky: "clear" });
}

/** What get_time returns for these arguments. */
export function time(args: TimeArgs): string {
  const hour = (((12 + args.utc_offset_hours) % 24) + 24) % 24;
  return JSON.stringify({ city: args.city, time: `${String(hour).padStart(2, "0")}:05`, utc_offset_hours: args.utc_offset_hours });
}

/**
 * Runs a tool from its name and its arguments as the model sent them (JSON text or already
 * parsed), validating them against the tool's zod schema first: invalid arguments throw.
 */
export function runTool(name: string, args: unknown): string {
  const parsed = typeof args === "string" ? (JSON.parse(args) as unknown) : args;
  if (name === "get_weather") return weather(WeatherArgs.parse(parsed));
  if (name === "get_time") return time(TimeArgs.parse(parsed));
  throw new Error(`no tool named ${name}`);
}

/** The JSON Schema of a tool's arguments, as sent in `tools[].function.parameters`. */
export function parametersOf(name: ToolName): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(ARG_SCHEMAS[name]) as Record<string, unknown>;
  return schema;
}

/** Both tools in the OpenAI request's `tools` form. */
export function openAiTools() {
  return TOOL_NAMES.map((name) => ({
    type: "function" as const,
    function: { name, description: TOOL_DESCRIPTIONS[name], parameters: parametersOf(name) },
  }));
}

/** The structured answer the structured-output tests ask for. */
export const CityCard = z.object({
  name: z.string(),
  country: z.string(),
  population: z.number().int().min(0),
  climate: z.enum(["temperate", "tropical", "arid", "polar"]),
  landmarks: z.array(z.string()).min(1).max(3),
});
export type CityCard = z.infer<typeof CityCard>;
export const CITY_PROMPT = "Describe Paris as a city card.";

/** Zod's verdict on a value, with its issues in the failure message when it does not fit. */
export function fits(schema: z.ZodType, value: unknown): { ok: boolean; issues: string } {
  const r = schema.safeParse(value);
  return { ok: r.success, issues: r.success ? "" : JSON.stringify(r.error.issues) };
}

/**
 * Creates a covenant whose only pool is the local node and returns its id (sent as the
 * `x-homeskillet-covenant` header). The id is unique per call: the system is shared by all files.
 */
export async function createLocalCovenant(gateway: string, key: string, prefix: string): Promise<string> {
  const id = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const res = await fetch(`${gateway}/v1/covenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ id, fallback: ["local"] }),
  });
  if (res.status !== 201) throw new Error(`creating covenant ${id}: ${res.status} ${await res.text()}`);
  return id;
}

export async function deleteCovenant(gateway: string, key: string, id: string): Promise<void> {
  await fetch(`${gateway}/v1/covenants/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${key}` } }).catch(() => {});
}

export const COVENANT_HEADER = "x-homeskillet-covenant";

/** Where a test runs its agent: a Hosted.AI model (default covenant), or the local node. */
export interface Target {
  label: string;
  model: string;
  /** The covenant to run under: the local one (created before the file's tests), or the default. */
  covenant(): string | undefined;
  /** Headers to send (the local covenant's, once created). */
  headers(): Record<string, string>;
}

/**
 * The two places a file's agents run: `hosted` on Hosted.AI under the default covenant, and the
 * local node under a covenant of the file's own, made before its tests and deleted after them.
 */
export function agentTargets(file: string, hosted: string): Target[] {
  const { gateway, keys } = inject("system");
  let local = "";
  beforeAll(async () => {
    local = await createLocalCovenant(gateway, keys.dev, file);
  });
  afterAll(() => deleteCovenant(gateway, keys.dev, local));
  return [
    { label: `Hosted.AI ${hosted}`, model: hosted, covenant: () => undefined, headers: () => ({}) },
    { label: "the local node", model: LOCAL_MODEL, covenant: () => local, headers: () => ({ [COVENANT_HEADER]: local }) },
  ];
}
