import type { Context } from "hono";
import { analyseRequest } from "../classify";
import type { StrikeFailure, StrikeInput, StrikeSuccess } from "../covenant";
import { modelCatalogue } from "../policy";
import type { ChatMessage, FusionOptions, StrikeResponse } from "../schema";
import type { Env } from "../env";
import { mightHaveSubTasks } from "../fusion";
import type { AppEnv } from "./app-types";
import { covenantStub } from "./stubs";
import { activeTraceparent, annotateRequest } from "../telemetry";

const models = modelCatalogue();

/** The smallest map-reduce threshold a covenant can set: shorter prompts are never mapped. */
const MIN_MAP_REDUCE_TOKENS = 512;

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
  priority?: "low" | "normal" | "high" | "critical";
  fusion?: FusionOptions;
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

/** Who is asking, from wherever the request came in (a route, an MCP session). */
export interface Caller {
  env: Env;
  tenant: string;
}

export function callerOf(c: Context<AppEnv>): Caller {
  return { env: c.env, tenant: c.get("tenant") };
}

/** The request analysed at the edge, as the covenant object takes it. */
function strikeInput(caller: Caller, ask: StrikeAsk, streaming = false): StrikeInput {
  const analysis = analyseRequest({ messages: ask.messages, prompt: ask.prompt });
  // Without an explicit strategy the covenant may still decompose a request — but only one that
  // could be decomposed at all: sub-tasks in sight, or long enough to map-reduce. Everything else
  // skips planning, so fusion costs simple requests nothing.
  const worthPlanning = mightHaveSubTasks(analysis.promptText) || analysis.promptTokens >= MIN_MAP_REDUCE_TOKENS;
  const fusion = ask.fusion ?? (!streaming && worthPlanning ? { strategy: "auto" as const } : undefined);
  const strikeId = `str_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  annotateRequest({ covenant: ask.covenantId, strike_id: strikeId });
  return {
    strikeId,
    tenant: caller.tenant,
    covenantId: ask.covenantId,
    model: ask.model,
    promptText: analysis.promptText,
    promptTokens: analysis.promptTokens,
    classification: analysis.classification,
    maxTokens: ask.maxTokens,
    temperature: ask.temperature,
    latencySensitive: ask.latencySensitive,
    ...(ask.priority ? { priority: ask.priority } : {}),
    // Fusion needs the messages themselves: system prompts apply to every fragment.
    ...(fusion ? { fusion, ...(ask.messages ? { messages: [...ask.messages] } : {}) } : {}),
    ...(ask.idempotencyKey ? { idempotencyKey: ask.idempotencyKey } : {}),
    traceparent: activeTraceparent(),
  };
}

/**
 * Analyses the request at the edge, runs it in the covenant's object, and shapes the answer.
 * `onSent` hears when the strike has been handed to the covenant (for progress reports).
 */
export async function runStrike(
  caller: Caller,
  ask: StrikeAsk,
  onSent?: (strikeId: string, promptTokens: number) => Promise<void>,
): Promise<StrikeAnswer> {
  const receivedAt = Date.now();
  const refused = precheck(ask);
  if (refused) return refused;
  const input = strikeInput(caller, ask);
  const classifyMs = Date.now() - receivedAt;
  const strikeId = input.strikeId;
  const pending = covenantStub(caller.env, input.tenant, ask.covenantId).strike(input);
  await onSent?.(strikeId, input.promptTokens);
  const outcome = await pending;
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
      classification: input.classification!,
      timings: { classify_ms: classifyMs, ...strike.timings, total_ms: Date.now() - receivedAt },
    },
  };
}

export function retryAfterHeader(error: { retry_after_s?: number }): Record<string, string> {
  return error.retry_after_s !== undefined ? { "retry-after": String(Math.ceil(error.retry_after_s)) } : {};
}

/** One line of a covenant object's strike stream. */
export type StreamLine =
  | { event: "token"; text: string; model: string }
  | { event: "done"; strike_id: string; strike: StrikeSuccess["strike"] }
  | { event: "error"; status: StrikeFailure["status"]; error: StrikeFailure["error"] };

/**
 * Starts a streamed strike and waits for its first line: a failure before any token is returned
 * as a plain error (so clients get a real status code); otherwise the first line and a reader
 * for the rest.
 */
export async function startStreamedStrike(
  caller: Caller,
  ask: StrikeAsk,
): Promise<
  | { ok: true; strikeId: string; receivedAt: number; first: StreamLine; rest: AsyncIterable<StreamLine> }
  | Extract<StrikeAnswer, { ok: false }>
> {
  const receivedAt = Date.now();
  const refused = precheck(ask);
  if (refused && !refused.ok) return refused;
  const input = strikeInput(caller, { ...ask, idempotencyKey: undefined }, true);
  const body = await covenantStub(caller.env, input.tenant, ask.covenantId).strikeStream(input);
  const lines = ndjsonLines(body)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return { ok: false, status: 502, error: { type: "stream_interrupted", message: "the covenant ended the stream before any output", strike_id: input.strikeId } };
  const line = first.value;
  if (line.event === "error") return { ok: false, status: line.status, error: { ...line.error, strike_id: input.strikeId } };
  return { ok: true, strikeId: input.strikeId, receivedAt, first: line, rest: { [Symbol.asyncIterator]: () => lines } };
}

async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamLine> {
  let buffered = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (text) yield JSON.parse(text) as StreamLine;
    }
  }
}
