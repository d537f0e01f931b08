import type { Context } from "hono";
import { analyseRequest } from "../classify";
import type { StrikeEvent, StrikeFailure, StrikeInput, StrikeOutcome } from "../covenant";
import { modelCatalogue } from "../policy";
import type { ChatMessage, FusionOptions, StrikeResponse } from "../schema";
import type { Env } from "../env";
import type { Principal } from "../auth";
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
  /** The key asking: its scopes, narrowing and limits (src/auth/principal.ts). */
  principal: Principal;
}

export function callerOf(c: Context<AppEnv>): Caller {
  return { env: c.env, tenant: c.get("tenant"), principal: c.get("principal") };
}

/** The request analysed at the edge, as the covenant object takes it. */
function strikeInput(caller: Caller, ask: StrikeAsk): StrikeInput {
  const analysis = analyseRequest({ messages: ask.messages, prompt: ask.prompt });
  // Without an explicit strategy the covenant may still decompose a request — but only one that
  // could be decomposed at all: sub-tasks in sight, or long enough to map-reduce. Everything else
  // skips planning, so fusion costs simple requests nothing.
  const worthPlanning = mightHaveSubTasks(analysis.promptText) || analysis.promptTokens >= MIN_MAP_REDUCE_TOKENS;
  const fusion = ask.fusion ?? (worthPlanning ? { strategy: "auto" as const } : undefined);
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

/** The covenant object's outcome as the edge answers it: classification and edge timings added. */
function answerOf(outcome: StrikeOutcome, input: StrikeInput, receivedAt: number, classifyMs: number): StrikeAnswer {
  if (!outcome.ok) return { ok: false, status: outcome.status, error: { ...outcome.error, strike_id: input.strikeId } };
  const { strike } = outcome;
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
  const pending = covenantStub(caller.env, input.tenant, ask.covenantId).strike(input);
  await onSent?.(input.strikeId, input.promptTokens);
  return answerOf(await pending, input, receivedAt, classifyMs);
}

/** What a watcher hears while a strike runs (see watchStrike). */
export type StrikeWatchEvent = Extract<StrikeEvent, { event: "progress" | "placed" }>;

/**
 * Runs a strike like runStrike while hearing how it goes — where it was placed and, for a fused
 * request, each fragment as it starts and finishes — for clients that show progress (MCP).
 */
export async function watchStrike(
  caller: Caller,
  ask: StrikeAsk,
  on: { sent?: (strikeId: string, promptTokens: number) => Promise<void>; event: (e: StrikeWatchEvent) => Promise<void> },
): Promise<StrikeAnswer> {
  const receivedAt = Date.now();
  const refused = precheck(ask);
  if (refused) return refused;
  const input = strikeInput(caller, ask);
  const classifyMs = Date.now() - receivedAt;
  const body = await covenantStub(caller.env, input.tenant, ask.covenantId).strikeStream(input, { tokens: false });
  await on.sent?.(input.strikeId, input.promptTokens);
  for await (const line of ndjsonLines(body)) {
    if (line.event === "done") return answerOf({ ok: true, strikeId: line.strike_id, strike: line.strike }, input, receivedAt, classifyMs);
    if (line.event === "error") return answerOf({ ok: false, status: line.status, error: line.error }, input, receivedAt, classifyMs);
    if (line.event === "progress" || line.event === "placed") await on.event(line);
  }
  return { ok: false, status: 502, error: { type: "stream_interrupted", message: "the covenant ended the strike without an answer", strike_id: input.strikeId } };
}

export function retryAfterHeader(error: { retry_after_s?: number }): Record<string, string> {
  return error.retry_after_s !== undefined ? { "retry-after": String(Math.ceil(error.retry_after_s)) } : {};
}

/**
 * Starts a streamed strike and waits for its first line: a failure before any output (or any
 * fragment of a fused plan) is returned as a plain error, so clients get a real status code;
 * otherwise the first line and a reader for the rest.
 */
export async function startStreamedStrike(
  caller: Caller,
  ask: StrikeAsk,
): Promise<
  | { ok: true; strikeId: string; receivedAt: number; model: string; first: StrikeEvent; rest: AsyncIterable<StrikeEvent> }
  | Extract<StrikeAnswer, { ok: false }>
> {
  const receivedAt = Date.now();
  const refused = precheck(ask);
  if (refused && !refused.ok) return refused;
  const input = strikeInput(caller, { ...ask, idempotencyKey: undefined });
  const body = await covenantStub(caller.env, input.tenant, ask.covenantId).strikeStream(input, { tokens: true });
  const lines = ndjsonLines(body)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return { ok: false, status: 502, error: { type: "stream_interrupted", message: "the covenant ended the stream before any output", strike_id: input.strikeId } };
  const line = first.value;
  if (line.event === "error") return { ok: false, status: line.status, error: { ...line.error, strike_id: input.strikeId } };
  return { ok: true, strikeId: input.strikeId, receivedAt, model: ask.model ?? "auto", first: line, rest: { [Symbol.asyncIterator]: () => lines } };
}

async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<StrikeEvent> {
  let buffered = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (text) yield JSON.parse(text) as StrikeEvent;
    }
  }
}
