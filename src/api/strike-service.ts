import type { Context } from "hono";
import { analyseRequest, estimateTokens } from "../classify";
import type { FailureBody, StrikeEvent, StrikeFailure, StrikeInput, StrikeOutcome, WatchOptions } from "../covenant";
import type { CacheConsulted } from "../covenant/strike-runner";
import { mergeViews, modelCatalogue, rateLimitHeaders, type RateView } from "../policy";
import type { ChatMessage, FusionOptions, StrikeResponse } from "../schema";
import type { AgentTurn } from "../structured/types";
import type { Env } from "../env";
import { mayUseCovenant, mayUseModel, type Principal } from "../auth";
import { admitForKey, settleKeyHold } from "../limits";
import { mightHaveSubTasks } from "../fusion";
import type { AppEnv } from "./app-types";
import { NdjsonReader } from "./ndjson-reader";
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
  /** An agent turn (tools, structured output): answered whole and checked; never decomposed. */
  turn?: AgentTurn;
  seed?: number;
  idempotencyKey?: string;
}

/**
 * The edge's answer. `headers` go on the response whatever its status: the `x-ratelimit-*` headers
 * of a limited key or covenant, and on a refusal when (and whether) to retry.
 */
export type StrikeAnswer =
  | { ok: true; body: StrikeResponse; replayed: boolean; headers: Record<string, string> }
  | { ok: false; status: StrikeFailure["status"]; error: StrikeFailure["error"] & { strike_id?: string }; headers: Record<string, string> };

/**
 * Checks what the edge can check alone, before any Durable Object is involved: the model exists,
 * the Idempotency-Key is well formed, and — for a key narrowed to some covenants or models — that
 * it may use these (a covenant it may not use does not exist, as far as it can tell).
 */
export function precheck(ask: StrikeAsk, principal?: Principal): Extract<StrikeAnswer, { ok: false }> | undefined {
  const refused = (status: StrikeFailure["status"], error: FailureBody) => ({ ok: false as const, status, error, headers: {} });
  if (principal && !mayUseCovenant(principal, ask.covenantId)) {
    return refused(404, { type: "covenant_not_found", message: `no covenant ${ask.covenantId}`, param: "covenant_id" });
  }
  if (ask.model !== undefined && !models.has(ask.model)) {
    return refused(400, { type: "unknown_model", message: `unknown model ${JSON.stringify(ask.model)}; available: ${[...models.keys()].join(", ")}`, param: "model" });
  }
  if (principal && ask.model !== undefined && !mayUseModel(principal, ask.model)) {
    return refused(403, { type: "model_not_allowed", message: `this key may not use ${ask.model}; it may use ${principal.models!.join(", ")}`, param: "model" });
  }
  if (ask.idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(ask.idempotencyKey)) {
    return refused(400, { type: "invalid_request", message: "Idempotency-Key must be 1 to 255 visible ASCII characters", param: "idempotency-key" });
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

/** The request analysed at the edge, as the covenant object takes it; `receivedAt` is when the edge got it. */
function strikeInput(caller: Caller, ask: StrikeAsk, receivedAt: number): StrikeInput {
  const analysis = analyseRequest({ messages: ask.messages, prompt: ask.prompt });
  // Without an explicit strategy the covenant may still decompose a request — but only one that
  // could be decomposed at all: sub-tasks in sight, or long enough to map-reduce. Everything else
  // skips planning, so fusion costs simple requests nothing. An agent turn never is: its answer
  // is one tool call or one JSON value, which no fusion could assemble from parts.
  const worthPlanning = mightHaveSubTasks(analysis.promptText) || analysis.promptTokens >= MIN_MAP_REDUCE_TOKENS;
  const fusion = ask.turn ? undefined : (ask.fusion ?? (worthPlanning ? { strategy: "auto" as const } : undefined));
  // The tools and schemas are rendered into the prompt too: they count towards what it reserves.
  const promptTokens = analysis.promptTokens + (ask.turn ? turnOverheadTokens(ask.turn) : 0);
  const strikeId = `str_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  annotateRequest({ covenant: ask.covenantId, strike_id: strikeId });
  return {
    strikeId,
    tenant: caller.tenant,
    covenantId: ask.covenantId,
    model: ask.model,
    promptText: analysis.promptText,
    promptTokens,
    classification: ask.turn ? { ...analysis.classification, prompt_tokens: promptTokens, uses_tools: true } : analysis.classification,
    maxTokens: ask.maxTokens,
    temperature: ask.temperature,
    latencySensitive: ask.latencySensitive,
    ...(ask.priority ? { priority: ask.priority } : {}),
    // Fusion needs the messages themselves: system prompts apply to every fragment.
    ...(fusion ? { fusion, ...(ask.messages ? { messages: [...ask.messages] } : {}) } : {}),
    ...(ask.turn ? { turn: ask.turn } : {}),
    ...(ask.seed !== undefined ? { seed: ask.seed } : {}),
    ...(ask.idempotencyKey ? { idempotencyKey: ask.idempotencyKey } : {}),
    traceparent: activeTraceparent(),
    receivedAt,
    keyId: caller.principal.keyId,
    // A key narrowed to some models: a strike that names none is routed among those only.
    ...(caller.principal.models ? { models: [...caller.principal.models] } : {}),
  };
}

/** Tokens the tool definitions and a response schema add to a prompt (their JSON, four bytes a token). */
function turnOverheadTokens(turn: AgentTurn): number {
  const format = turn.responseFormat.type === "json_schema" ? JSON.stringify(turn.responseFormat.schema) : "";
  return estimateTokens(JSON.stringify(turn.tools) + format);
}

/** What a strike reserves of a tokens_per_minute limit: its prompt plus all it may generate. */
const reservedTokens = (input: StrikeInput) => input.promptTokens + input.maxTokens;

/**
 * The strike admitted under its key's limits (one RPC, and only for a key that has limits), or the
 * refusal to answer with. An admitted strike carries its hold to the covenant, which settles it.
 */
async function admitKey(caller: Caller, input: StrikeInput): Promise<{ view: RateView | undefined } | Extract<StrikeAnswer, { ok: false }>> {
  const key = await admitForKey(caller.env, caller.principal, input.strikeId, reservedTokens(input));
  if (!key) return { view: undefined };
  if (!key.ok) return { ok: false, status: key.status, error: { ...key.error, strike_id: input.strikeId }, headers: { ...rateLimitHeaders(key.view), ...key.headers } };
  if (key.hold) input.keyHold = key.hold;
  return { view: key.view };
}

/** The covenant never answered (its RPC failed): end the key's hold here, keeping what it reserved. */
async function abandonKeyHold(caller: Caller, input: StrikeInput): Promise<void> {
  if (input.keyHold) await settleKeyHold(caller.env, input.keyHold, { tokens: reservedTokens(input), usd: 0 }).catch(() => {});
}

/** The covenant's stream of a strike; when it cannot be opened, the key's hold ends here. */
async function openStream(caller: Caller, input: StrikeInput, watch: WatchOptions): Promise<ReadableStream<Uint8Array>> {
  try {
    return await covenantStub(caller.env, input.tenant, input.covenantId).strikeStream(input, watch);
  } catch (err) {
    await abandonKeyHold(caller, input);
    throw err;
  }
}

/** `x-homeskillet-cache: hit|semantic|miss` for a strike the covenant's answer cache was consulted for; nothing otherwise. */
export function cacheHeader(cache: { status: string } | undefined): Record<string, string> {
  return cache ? { "x-homeskillet-cache": cache.status } : {};
}

/** The covenant's line, ahead of a token stream's first token, saying how its answer cache answered. */
function cacheLine(line: StrikeEvent): { status: string } | undefined {
  if (line.event !== "progress") return undefined;
  const p = line.progress as unknown as CacheConsulted | { type: string };
  return p.type === "cache" ? (p as CacheConsulted) : undefined;
}

/** When, and whether, a client should retry a refusal. */
export function retryHeaders(error: FailureBody): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.retry_after_s !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(error.retry_after_s)));
  if (error.retry_after_ms !== undefined) headers["retry-after-ms"] = String(Math.max(0, Math.ceil(error.retry_after_ms)));
  // A request larger than a whole tokens_per_minute limit never fits: the openai SDKs obey this.
  if (error.type === "rate_limited" && error.param === "max_tokens") headers["x-should-retry"] = "false";
  return headers;
}

/**
 * The covenant object's outcome as the edge answers it: classification and edge timings added, and
 * the rate-limit headers of the key (`keyView`) and the covenant (tighter of the two, per limit).
 */
function answerOf(outcome: StrikeOutcome, input: StrikeInput, receivedAt: number, classifyMs: number, keyView: RateView | undefined): StrikeAnswer {
  const limits = rateLimitHeaders(mergeViews(keyView, outcome.rateLimit));
  if (!outcome.ok) return { ok: false, status: outcome.status, error: { ...outcome.error, strike_id: input.strikeId }, headers: { ...limits, ...retryHeaders(outcome.error) } };
  const { strike } = outcome;
  return {
    ok: true,
    replayed: outcome.replayed === true,
    headers: limits,
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
  const refused = precheck(ask, caller.principal);
  if (refused) return refused;
  const input = strikeInput(caller, ask, receivedAt);
  const classifyMs = Date.now() - receivedAt;
  const key = await admitKey(caller, input);
  if ("ok" in key) return key;
  let outcome: StrikeOutcome;
  try {
    const pending = covenantStub(caller.env, input.tenant, ask.covenantId).strike(input);
    await onSent?.(input.strikeId, input.promptTokens);
    outcome = await pending;
  } catch (err) {
    await abandonKeyHold(caller, input);
    throw err;
  }
  return answerOf(outcome, input, receivedAt, classifyMs, key.view);
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
  const refused = precheck(ask, caller.principal);
  if (refused) return refused;
  const input = strikeInput(caller, ask, receivedAt);
  const classifyMs = Date.now() - receivedAt;
  const key = await admitKey(caller, input);
  if ("ok" in key) return key;
  const body = await openStream(caller, input, { tokens: false });
  await on.sent?.(input.strikeId, input.promptTokens);
  let covenantView: RateView | undefined;
  for await (const line of new NdjsonReader(body, () => abandonKeyHold(caller, input)).lines()) {
    if (line.event === "limits") covenantView = line.rate_limit;
    if (line.event === "done") return answerOf({ ok: true, strikeId: line.strike_id, strike: line.strike, rateLimit: covenantView }, input, receivedAt, classifyMs, key.view);
    if (line.event === "error") return answerOf({ ok: false, status: line.status, error: line.error, rateLimit: covenantView }, input, receivedAt, classifyMs, key.view);
    if (line.event === "progress" || line.event === "placed") await on.event(line);
  }
  return {
    ok: false,
    status: 502,
    error: { type: "stream_interrupted", message: "the covenant ended the strike without an answer", strike_id: input.strikeId },
    headers: rateLimitHeaders(mergeViews(key.view, covenantView)),
  };
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
  | { ok: true; strikeId: string; receivedAt: number; model: string; first: StrikeEvent; rest: NdjsonReader; headers: Record<string, string> }
  | Extract<StrikeAnswer, { ok: false }>
> {
  const receivedAt = Date.now();
  const refused = precheck(ask, caller.principal);
  if (refused) return refused;
  const input = strikeInput(caller, { ...ask, idempotencyKey: undefined }, receivedAt);
  const key = await admitKey(caller, input);
  if ("ok" in key) return key;
  // An agent turn's answer is checked whole before any of it goes out: no tokens to stream.
  const body = await openStream(caller, input, { tokens: !input.turn });
  const lines = new NdjsonReader(body, () => abandonKeyHold(caller, input));
  let first = await lines.next();
  // A limited covenant says first where its limits stand: headers, not a chunk.
  let covenantView: RateView | undefined;
  if (first?.event === "limits") {
    covenantView = first.rate_limit;
    first = await lines.next();
  }
  // Then, when the covenant's answer cache was consulted, how it answered: a header too.
  const cached = first ? cacheLine(first) : undefined;
  if (cached) first = await lines.next();
  const headers = { ...rateLimitHeaders(mergeViews(key.view, covenantView)), ...cacheHeader(cached) };
  if (!first) return { ok: false, status: 502, error: { type: "stream_interrupted", message: "the covenant ended the stream before any output", strike_id: input.strikeId }, headers };
  const line = first;
  if (line.event === "error") return { ok: false, status: line.status, error: { ...line.error, strike_id: input.strikeId }, headers: { ...headers, ...retryHeaders(line.error) } };
  return { ok: true, strikeId: input.strikeId, receivedAt, model: ask.model ?? "auto", first: line, rest: lines, headers };
}
