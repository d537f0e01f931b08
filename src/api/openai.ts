import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ChatMessage, StrikeResponse } from "../schema";
import { ChatCompletion, ChatCompletionRequest, CovenantId, OpenAiError } from "../schema";
import { newRouter } from "./app-types";
import { limitBody, requireJson } from "./middleware";
import { runStrike, retryAfterHeader } from "./strike-service";

/** Which covenant an OpenAI-style request runs under, when it does not want the default. */
export const COVENANT_HEADER = "x-homeskillet-covenant";

const openAiError = { "application/json": { schema: OpenAiError } };

const chatRoute = createRoute({
  method: "post",
  path: "/v1/chat/completions",
  summary: "OpenAI-compatible chat completions, run as a strike",
  security: [{ bearer: [] }],
  middleware: [limitBody, requireJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: ChatCompletionRequest } } } },
  responses: {
    200: { description: "An OpenAI chat.completion", content: { "application/json": { schema: ChatCompletion } } },
    400: { description: "Invalid request", content: openAiError },
    402: { description: "A cost limit was hit", content: openAiError },
    404: { description: "No such covenant", content: openAiError },
    409: { description: "Conflict", content: openAiError },
    422: { description: "Cannot be served", content: openAiError },
    429: { description: "Rate limited", content: openAiError },
    502: { description: "Upstream failed", content: openAiError },
    503: { description: "No capacity or upstream unavailable", content: openAiError },
    504: { description: "Upstream timed out", content: openAiError },
  },
});

/** OpenAI's error `type` for a Homeskillet status. */
function openAiType(status: number): string {
  if (status === 400 || status === 404 || status === 409 || status === 422) return "invalid_request_error";
  if (status === 402) return "insufficient_quota";
  if (status === 429) return "rate_limit_error";
  return "server_error";
}

/**
 * Every error on the OpenAI routes — auth, validation, body limits, strikes — in OpenAI's shape
 * `{error: {message, type, param, code}}`, with Homeskillet's own error type as the `code`.
 */
export const openAiErrors: MiddlewareHandler = async (c, next) => {
  await next();
  const res = c.res;
  if (res.ok || !res.headers.get("content-type")?.includes("application/json")) return;
  const body = (await res.clone().json().catch(() => null)) as { error?: Record<string, unknown> } | null;
  const e = body?.error;
  // Already in OpenAI's shape (it has a `code`), or not an error body at all.
  if (!e || typeof e.message !== "string" || "code" in e) return;
  c.res = new Response(JSON.stringify(toOpenAiError(res.status, e as { message: string })), { status: res.status, headers: res.headers });
};

function toOpenAiError(status: number, e: { message: string; type?: unknown; param?: unknown }) {
  const { message, type, param, ...rest } = e;
  return { error: { ...rest, message, type: openAiType(status), param: typeof param === "string" ? param : null, code: typeof type === "string" ? type : null } };
}

function toMessages(messages: ChatCompletionRequest["messages"]): ChatMessage[] {
  return messages.map((m) => ({
    // Developer messages are system messages by another name; tool output is context like any other.
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join("\n"),
  }));
}

export function toChatCompletion(s: StrikeResponse): ChatCompletion {
  return {
    id: `chatcmpl-${s.id.slice(4)}`,
    object: "chat.completion",
    created: s.created,
    model: s.model,
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: "assistant", content: s.output.content, refusal: null }, finish_reason: s.finish_reason, logprobs: null }],
    usage: s.usage,
    homeskillet: {
      strike_id: s.id,
      covenant_id: s.covenant_id,
      pool_id: s.pool_id,
      allocation_id: s.allocation_id,
      lease_reused: s.lease_reused,
      cost_usd: s.cost_usd,
      timings: s.timings,
    },
  };
}

export const openai = newRouter().openapi(chatRoute, async (c) => {
  const req = c.req.valid("json");
  const covenantHeader = c.req.header(COVENANT_HEADER);
  if (covenantHeader !== undefined && !CovenantId.safeParse(covenantHeader).success) {
    return c.json(toOpenAiError(400, { message: `invalid ${COVENANT_HEADER} header`, type: "invalid_request", param: COVENANT_HEADER }), 400);
  }
  if (req.stream) {
    return c.json(toOpenAiError(400, { message: "streaming is not available on this deployment yet", type: "unsupported", param: "stream" }), 400);
  }
  const answer = await runStrike(c, {
    covenantId: covenantHeader ?? "default",
    model: req.model === "auto" ? undefined : req.model,
    messages: toMessages(req.messages),
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? 256,
    temperature: req.temperature ?? 0.7,
    latencySensitive: false,
    idempotencyKey: c.req.header("idempotency-key"),
  });
  if (!answer.ok) return c.json(toOpenAiError(answer.status, answer.error), answer.status, retryAfterHeader(answer.error));
  const body = toChatCompletion(answer.body);
  return c.json(body, 200, {
    "x-homeskillet-strike-id": answer.body.id,
    "x-homeskillet-pool": answer.body.pool_id,
    "x-homeskillet-allocation": answer.body.allocation_id,
    "x-homeskillet-cost-usd": String(answer.body.cost_usd),
  });
});
