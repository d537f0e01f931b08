import { createRoute, z } from "@hono/zod-openapi";
import type { TemplateMessage } from "../families/types";
import type { ChatMessage, StrikeResponse } from "../schema";
import { isAgentTurn, type AgentTurn, type ResponseFormat } from "../structured/types";
import { annotateRequest } from "../telemetry";
import { ChatCompletion, ChatCompletionRequest, CovenantId, OpenAiError } from "../schema";
import { newRouter } from "./app-types";
import { limitBody, requireJson } from "./middleware";
import { openAiErrors, toOpenAiError } from "./openai-errors";
import { chatStream } from "./openai-stream";
import { cutAtStop, stopSequences } from "./stop-sequences";

export { openAiErrors };
import { cacheHeader, callerOf, runStrike, startStreamedStrike } from "./strike-service";

/** Which covenant an OpenAI-style request runs under, when it does not want the default. */
export const COVENANT_HEADER = "x-homeskillet-covenant";

const openAiError = { "application/json": { schema: OpenAiError } };

const chatRoute = createRoute({
  method: "post",
  path: "/v1/chat/completions",
  summary: "OpenAI-compatible chat completions, run as a strike",
  security: [{ bearer: ["strike"] }],
  middleware: [limitBody, requireJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: ChatCompletionRequest } } } },
  responses: {
    200: {
      description: "An OpenAI chat.completion (or, with `stream: true`, its chunks as server-sent events)",
      headers: z.object({
        "x-homeskillet-cache": z.enum(["hit", "semantic", "miss"]).optional().openapi({ description: "How the covenant's answer cache served the request, when it was consulted (see `homeskillet.cache` in the body)." }),
      }),
      content: { "application/json": { schema: ChatCompletion } },
    },
    400: { description: "Invalid request", content: openAiError },
    401: { description: "Missing, invalid or revoked API key", content: openAiError },
    403: { description: "The key may not use this model", content: openAiError },
    402: { description: "A cost limit was hit", content: openAiError },
    404: { description: "No such covenant", content: openAiError },
    409: { description: "Conflict", content: openAiError },
    422: { description: "Cannot be served", content: openAiError },
    429: { description: "A limit of the key or the covenant was reached: `retry-after`, `retry-after-ms` and the `x-ratelimit-*` headers say when to retry", content: openAiError },
    502: { description: "Upstream failed", content: openAiError },
    503: { description: "No capacity or upstream unavailable", content: openAiError },
    504: { description: "Upstream timed out", content: openAiError },
  },
});

const textOf = (content: string | { text: string }[] | null | undefined): string =>
  typeof content === "string" ? content : (content ?? []).map((p) => p.text).join("\n");

/** The conversation as the classifier and plain strikes read it: one text per message. */
function toMessages(messages: ChatCompletionRequest["messages"]): ChatMessage[] {
  return messages.map((m) => {
    // Developer messages are system messages by another name; tool output is context like any other.
    const role = m.role === "developer" ? "system" : m.role;
    const calls = m.role === "assistant" && m.tool_calls?.length ? m.tool_calls.map((c) => `${c.function.name}(${c.function.arguments})`).join("\n") : "";
    const text = textOf(m.content as Parameters<typeof textOf>[0]);
    return { role, content: calls ? (text ? `${text}\n${calls}` : calls) : text };
  });
}

function templateMessages(messages: ChatCompletionRequest["messages"]): TemplateMessage[] {
  return messages.map((m): TemplateMessage => {
    switch (m.role) {
      case "system":
      case "developer":
        return { role: "system", content: textOf(m.content) };
      case "user":
        return { role: "user", content: textOf(m.content as { text: string }[] | string) };
      case "assistant":
        return {
          role: "assistant",
          content: m.content === null || m.content === undefined ? null : textOf(m.content),
          ...(m.tool_calls?.length ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) } : {}),
        };
      case "tool":
        return { role: "tool", content: textOf(m.content), tool_call_id: m.tool_call_id, ...(m.name ? { name: m.name } : {}) };
    }
  });
}

function responseFormatOf(f: ChatCompletionRequest["response_format"]): ResponseFormat {
  if (!f || f.type === "text") return { type: "text" };
  if (f.type === "json_object") return { type: "json_object" };
  return { type: "json_schema", name: f.json_schema.name, schema: f.json_schema.schema ?? {}, strict: f.json_schema.strict === true };
}

/** The request as an agent turn, when it offers tools, asks for JSON or carries tool calls. */
export function agentTurnOf(req: ChatCompletionRequest): AgentTurn | undefined {
  const tools = (req.tools ?? []).map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
  }));
  const choice = req.tool_choice;
  const turn: AgentTurn = {
    messages: templateMessages(req.messages),
    tools,
    toolChoice: typeof choice === "object" && choice !== null ? { name: choice.function.name } : (choice ?? "auto"),
    parallelToolCalls: req.parallel_tool_calls ?? true,
    responseFormat: responseFormatOf(req.response_format),
  };
  return isAgentTurn(turn) ? turn : undefined;
}

export function toChatCompletion(s: StrikeResponse): ChatCompletion {
  return {
    id: `chatcmpl-${s.id.slice(4)}`,
    object: "chat.completion",
    created: s.created,
    model: s.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: s.output.tool_calls?.length
          ? { role: "assistant", content: s.output.content || null, refusal: null, tool_calls: s.output.tool_calls }
          : { role: "assistant", content: s.output.content, refusal: null },
        finish_reason: s.finish_reason,
        logprobs: null,
      },
    ],
    usage: s.usage,
    homeskillet: {
      strike_id: s.id,
      covenant_id: s.covenant_id,
      pool_id: s.pool_id,
      allocation_id: s.allocation_id,
      lease_reused: s.lease_reused,
      cost_usd: s.cost_usd,
      timings: s.timings,
      ...(s.fusion ? { fusion: s.fusion } : {}),
      ...(s.cache ? { cache: s.cache } : {}),
    },
  };
}

/** The answer cut before its first stop sequence, which makes its finish_reason "stop". */
function withStops(body: ChatCompletion, stops: string[]): ChatCompletion {
  const choice = body.choices[0]!;
  // Tool calls are whole calls: a stop sequence never cuts into them.
  if (choice.message.content === null || choice.message.tool_calls) return body;
  const cut = cutAtStop(choice.message.content, stops);
  if (!cut.stopped) return body;
  return { ...body, choices: [{ ...choice, message: { ...choice.message, content: cut.text }, finish_reason: "stop" }] };
}

export const openai = newRouter().openapi(chatRoute, async (c) => {
  const req = c.req.valid("json");
  const covenantHeader = c.req.header(COVENANT_HEADER);
  if (covenantHeader !== undefined && !CovenantId.safeParse(covenantHeader).success) {
    return c.json(toOpenAiError(400, { message: `invalid ${COVENANT_HEADER} header`, type: "invalid_request", param: COVENANT_HEADER }), 400);
  }
  const turn = agentTurnOf(req);
  const endUser = req.safety_identifier ?? req.user;
  if (endUser) annotateRequest({ end_user: endUser });
  const ask = {
    covenantId: covenantHeader ?? "default",
    model: req.model === "auto" ? undefined : req.model,
    messages: toMessages(req.messages),
    ...(turn ? { turn } : {}),
    ...(typeof req.seed === "number" ? { seed: req.seed } : {}),
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? 256,
    temperature: req.temperature ?? 0.7,
    latencySensitive: false,
    ...(req.homeskillet?.fusion ? { fusion: req.homeskillet.fusion } : {}),
    ...(req.homeskillet?.priority ? { priority: req.homeskillet.priority } : {}),
    idempotencyKey: c.req.header("idempotency-key"),
  };
  if (req.stream) {
    const started = await startStreamedStrike(callerOf(c), ask);
    if (!started.ok) return c.json(toOpenAiError(started.status, started.error), started.status, started.headers);
    return chatStream(started, { includeUsage: req.stream_options?.include_usage === true, stops: stopSequences(req.stop) }) as never;
  }
  const answer = await runStrike(callerOf(c), ask);
  if (!answer.ok) return c.json(toOpenAiError(answer.status, answer.error), answer.status, answer.headers);
  const body = withStops(toChatCompletion(answer.body), stopSequences(req.stop));
  return c.json(body, 200, {
    ...answer.headers,
    "x-homeskillet-strike-id": answer.body.id,
    "x-homeskillet-pool": answer.body.pool_id,
    "x-homeskillet-allocation": answer.body.allocation_id,
    "x-homeskillet-cost-usd": String(answer.body.cost_usd),
    ...cacheHeader(answer.body.cache),
  });
});
