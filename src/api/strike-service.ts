import type { Context } from "hono";
import { analyseRequest } from "../classify";
import type { StrikeFailure, StrikeSuccess } from "../covenant";
import { modelCatalogue } from "../policy";
import type { ChatMessage, StrikeResponse } from "../schema";
import type { AppEnv } from "./app-types";
import { covenantStub } from "./stubs";

const models = modelCatalogue();

/** One strike as every edge interface asks for it (the strike API, the OpenAI API, MCP). */
export interface StrikeAsk {
  covenantId: string;
  /** A concrete model, or undefined to let the covenant choose. */
  model: string | undefined;
  messages?: readonly ChatMessage[];
  prompt?: string;
  maxTokens: number;
  temperature: number;
  latencySensitive: boolean;
  idempotencyKey?: string;
}

export type StrikeAnswer =
  | { ok: true; body: StrikeResponse; replayed: boolean }
  | { ok: false; status: StrikeFailure["status"]; error: StrikeFailure["error"] & { strike_id?: string } };

/** Checks what the edge can check alone, before any Durable Object is involved. */
export function precheck(ask: StrikeAsk): StrikeAnswer | undefined {
  if (ask.model !== undefined && !models.has(ask.model)) {
    return {
      ok: false,
      status: 400,
      error: { type: "unknown_model", message: `unknown model ${JSON.stringify(ask.model)}; available: ${[...models.keys()].join(", ")}`, param: "model" },
    };
  }
  if (ask.idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(ask.idempotencyKey)) {
    return { ok: false, status: 400, error: { type: "invalid_request", message: "Idempotency-Key must be 1 to 255 visible ASCII characters", param: "idempotency-key" } };
  }
  return undefined;
}

/** Analyses the request at the edge, runs it in the covenant's object, and shapes the answer. */
export async function runStrike(c: Context<AppEnv>, ask: StrikeAsk): Promise<StrikeAnswer> {
  const receivedAt = Date.now();
  const refused = precheck(ask);
  if (refused) return refused;
  const analysis = analyseRequest({ messages: ask.messages, prompt: ask.prompt });
  const classifyMs = Date.now() - receivedAt;
  const tenant = c.get("tenant");
  const strikeId = `str_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const outcome = await covenantStub(c.env, tenant, ask.covenantId).strike({
    strikeId,
    tenant,
    covenantId: ask.covenantId,
    model: ask.model,
    promptText: analysis.promptText,
    promptTokens: analysis.promptTokens,
    maxTokens: ask.maxTokens,
    temperature: ask.temperature,
    latencySensitive: ask.latencySensitive,
    ...(ask.idempotencyKey ? { idempotencyKey: ask.idempotencyKey } : {}),
  });
  if (!outcome.ok) return { ok: false, status: outcome.status, error: { ...outcome.error, strike_id: strikeId } };
  const { strike } = outcome as StrikeSuccess;
  return {
    ok: true,
    replayed: outcome.replayed === true,
    body: {
      id: outcome.strikeId,
      object: "strike",
      created: Math.floor(receivedAt / 1000),
      ...strike,
      timings: { classify_ms: classifyMs, ...strike.timings, total_ms: Date.now() - receivedAt },
    },
  };
}

export function retryAfterHeader(error: { retry_after_s?: number }): Record<string, string> {
  return error.retry_after_s !== undefined ? { "retry-after": String(Math.ceil(error.retry_after_s)) } : {};
}
