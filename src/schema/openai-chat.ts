// The OpenAI chat-completions request, parameter by parameter: each one is honoured or refused
// with a 400 that names it. Nothing is dropped silently: an agent framework that sends a
// parameter Homeskillet cannot honour hears so, instead of getting an answer that ignored it.
import { z } from "@hono/zod-openapi";
import { FusionOptions } from "./fusion";
import { Priority } from "./covenant";
import { MAX_COMPLETION_TOKENS } from "./strike";
import { checkClientSchema } from "../structured/schema-guard";
import { schemaUsable } from "../structured/validate";

/** A refusal, told apart from a malformed value by its `unsupported` flag (its error type says so). */
const refusal = (message: string) => ({ message, params: { unsupported: true } });

/** A parameter accepted only at the value that means "off"; anything else is refused with `why`. */
function onlyNeutral<T extends z.ZodType>(schema: T, isNeutral: (v: z.infer<T>) => boolean, why: string) {
  return schema.nullish().refine((v) => v === null || v === undefined || isNeutral(v as z.infer<T>), refusal(why));
}

/** A parameter that cannot be honoured at any value. */
const refused = (why: string) => z.unknown().refine((v) => v === null || v === undefined, refusal(why)).optional();

const TextPart = z.strictObject({ type: z.literal("text"), text: z.string() });

/** A content part of any type, so a non-text one is refused by name rather than "invalid union". */
const UserPart = z
  .looseObject({ type: z.string() })
  .superRefine((p, ctx) => {
    if (p.type !== "text") {
      ctx.addIssue({ code: "custom", path: ["type"], ...refusal(`${p.type} content parts are not supported: the models served take text only`) });
    } else if (typeof p.text !== "string") {
      ctx.addIssue({ code: "custom", path: ["text"], message: "a text part needs a string `text`" });
    }
  });

const TextContent = z.union([z.string(), z.array(TextPart)]);

const FunctionName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "a function name is 1 to 64 letters, digits, underscores or dashes");

const ToolCall = z.strictObject({
  id: z.string().min(1).max(256),
  type: z.literal("function"),
  function: z.strictObject({ name: FunctionName, arguments: z.string().max(262_144) }),
});

const SystemMessage = z.strictObject({ role: z.enum(["system", "developer"]), content: TextContent, name: z.string().max(64).optional() });
const UserMessage = z.strictObject({ role: z.literal("user"), content: z.union([z.string(), z.array(UserPart)]), name: z.string().max(64).optional() });
const AssistantMessage = z.strictObject({
  role: z.literal("assistant"),
  content: z.union([TextContent, z.null()]).optional(),
  name: z.string().max(64).optional(),
  tool_calls: z.array(ToolCall).max(128).optional(),
  refusal: z.null().optional().openapi({ description: "Accepted only as null: the models served do not refuse in a separate field." }),
  audio: refused("audio is not supported: the models served take text only"),
  function_call: refused("function_call is deprecated and not supported; send tool_calls"),
});
const ToolMessage = z.strictObject({
  role: z.literal("tool"),
  content: TextContent,
  tool_call_id: z.string().min(1).max(256),
  // Not in OpenAI's current schema, but LangChain sends the tool's name with every result.
  name: z.string().max(64).optional(),
});

export const OpenAiMessage = z
  .discriminatedUnion("role", [SystemMessage, UserMessage, AssistantMessage, ToolMessage])
  .openapi("ChatCompletionMessage");
export type OpenAiMessage = z.infer<typeof OpenAiMessage>;

export const ChatTool = z
  .strictObject({
    type: z.literal("function"),
    function: z.strictObject({
      name: FunctionName,
      description: z.string().max(8_192).optional(),
      parameters: z.record(z.string(), z.unknown()).optional().openapi({ description: "JSON Schema of the arguments (`pattern` is refused: see README)." }),
      strict: z.boolean().nullish().openapi({ description: "Arguments are always validated against `parameters`; `strict` changes nothing." }),
    }),
  })
  .openapi("ChatTool");

const ToolChoice = z.union([
  z.enum(["auto", "none", "required"]),
  z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: FunctionName }) }),
]);

const ResponseFormat = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text") }),
  z.strictObject({ type: z.literal("json_object") }),
  z.strictObject({
    type: z.literal("json_schema"),
    json_schema: z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a schema name is 1 to 64 letters, digits, underscores or dashes"),
      description: z.string().max(8_192).optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const ChatCompletionRequest = z
  .strictObject({
    model: z.string().min(1).max(128).openapi({ description: "A model id, or `auto` to let the covenant choose.", example: "auto" }),
    messages: z.array(OpenAiMessage).min(1).max(256),
    max_tokens: z.number().int().min(1).max(MAX_COMPLETION_TOKENS).nullish(),
    max_completion_tokens: z.number().int().min(1).max(MAX_COMPLETION_TOKENS).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z
      .strictObject({
        include_usage: z.boolean().optional(),
        include_obfuscation: onlyNeutral(z.boolean(), (v) => v === false, "stream obfuscation is not supported; omit include_obfuscation or send false"),
      })
      .nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish().openapi({
      description: "Up to four sequences; the answer ends just before the first one, with finish_reason `stop` (applied at the edge, streamed or not).",
    }),
    seed: z.number().int().nullish().openapi({ description: "Passed to the local node; Hosted.AI's inference API takes none. Best effort, as OpenAI's own." }),
    user: z.string().max(256).nullish().openapi({ description: "Your end user's id: recorded on the request's trace and log line." }),
    safety_identifier: z.string().max(256).nullish().openapi({ description: "As `user`." }),
    tools: z.array(ChatTool).max(128).nullish(),
    tool_choice: ToolChoice.nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: ResponseFormat.nullish(),
    n: onlyNeutral(z.number().int(), (v) => v === 1, "only one choice per request is supported; omit n or send 1"),
    top_p: onlyNeutral(z.number().min(0).max(1), (v) => v === 1, "top_p is not supported (Hosted.AI's inference API samples by temperature only); omit it or send 1"),
    frequency_penalty: onlyNeutral(z.number().min(-2).max(2), (v) => v === 0, "frequency_penalty is not supported; omit it or send 0"),
    presence_penalty: onlyNeutral(z.number().min(-2).max(2), (v) => v === 0, "presence_penalty is not supported; omit it or send 0"),
    logit_bias: onlyNeutral(z.record(z.string(), z.number()), (v) => Object.keys(v).length === 0, "logit_bias is not supported; omit it"),
    logprobs: onlyNeutral(z.boolean(), (v) => v === false, "logprobs are not supported; omit logprobs or send false"),
    top_logprobs: onlyNeutral(z.number().int(), (v) => v === 0, "logprobs are not supported; omit top_logprobs"),
    store: onlyNeutral(z.boolean(), (v) => v === false, "completions are not stored; omit store or send false"),
    metadata: onlyNeutral(z.record(z.string(), z.string()), (v) => Object.keys(v).length === 0, "metadata belongs to stored completions, which are not kept; omit it"),
    service_tier: onlyNeutral(z.string(), (v) => v === "auto" || v === "default", "service tiers are not offered; a covenant's priority is set with homeskillet.priority"),
    modalities: onlyNeutral(z.array(z.string()), (v) => v.every((m) => m === "text"), "only text output is supported"),
    audio: refused("audio output is not supported"),
    prediction: refused("predicted outputs are not supported"),
    reasoning_effort: refused("reasoning_effort is not supported: the models served do not reason separately"),
    verbosity: refused("verbosity is not supported"),
    web_search_options: refused("web search is not supported"),
    prompt_cache_key: refused("prompt_cache_key is not supported"),
    prompt_cache_retention: refused("prompt_cache_retention is not supported"),
    functions: refused("functions is deprecated and not supported; send tools"),
    function_call: refused("function_call is deprecated and not supported; send tool_choice"),
    homeskillet: z
      .strictObject({ fusion: FusionOptions.optional(), priority: Priority.optional() })
      .optional()
      .openapi({ description: "Homeskillet's own options (the OpenAI SDKs send unknown body fields as given): fusion and the strike's priority class." }),
  })
  .superRefine((req, ctx) => {
    const tools = req.tools ?? [];
    const choice = req.tool_choice;
    if (typeof choice === "object" && choice !== null && !tools.some((t) => t.function.name === choice.function.name)) {
      ctx.addIssue({ code: "custom", path: ["tool_choice", "function", "name"], message: `no tool named ${JSON.stringify(choice.function.name)} was given in tools` });
    }
    if ((choice === "required" || typeof choice === "object") && tools.length === 0 && choice !== null) {
      ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "tool_choice requires a tool call, but no tools were given" });
    }
    const names = new Set<string>();
    for (const [i, t] of tools.entries()) {
      if (names.has(t.function.name)) ctx.addIssue({ code: "custom", path: ["tools", i, "function", "name"], message: `two tools are named ${t.function.name}` });
      names.add(t.function.name);
    }
    const schemas: [unknown, (string | number)[]][] = tools.map((t, i) => [t.function.parameters, ["tools", i, "function", "parameters"]]);
    if (req.response_format?.type === "json_schema") schemas.push([req.response_format.json_schema.schema, ["response_format", "json_schema", "schema"]]);
    for (const [schema, path] of schemas) {
      if (schema === undefined) continue;
      const check = checkClientSchema(schema, "");
      if (!check.ok) {
        ctx.addIssue({ code: "custom", path: [...path, ...check.path.split(".").filter(Boolean)], ...refusal(check.message) });
        continue;
      }
      const usable = schemaUsable(schema as Record<string, unknown>);
      if (!usable.ok) ctx.addIssue({ code: "custom", path, message: `the schema cannot be used: ${usable.error}` });
    }
    if (tools.length > 0 && req.homeskillet?.fusion) {
      ctx.addIssue({ code: "custom", path: ["homeskillet", "fusion"], ...refusal("a request with tools is never decomposed; drop fusion or tools") });
    }
  })
  .openapi("ChatCompletionRequest");
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;
