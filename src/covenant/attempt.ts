import {
  continuationPrompt,
  estimateServiceMs,
  holdCostUsd,
  isolatedPerStrike,
  STREAM_IDLE_MS,
  streamFirstTokenMs,
  type AcquireRequest,
  type ModelSpec,
  type Target,
} from "../policy";
import { familyOf } from "../families";
import { UpstreamError } from "../providers/errors";
import { parsedNodeMessage, rawNodeMessage } from "../providers/localnode";
import { answerTurn, offeredTools, renderTurn, TurnFailed, type AgentTurn, type OpenAiToolCall, type TurnBackend, type TurnResult } from "../structured";
import type { CovenantContract } from "../schema";
import type { HostedAiClient } from "../providers/hostedai";
import type { LocalNodeClient } from "../providers/localnode";
import type { LocalSlots } from "./local-slots";
import type { AllocationOwner, LeaseManager } from "./lease-manager";
import type { Wake } from "./signal";
import type { StoredLease } from "./storage";
import { MidStreamError, readUpstream, type InterruptedPart } from "./stream-reader";
import type { StrikeInput } from "./types";

/** What one successful attempt produced. */
export interface AttemptResult {
  /** Set when the strike ran on another model than the one it resolved to (degraded). */
  model?: string;
  /** A continued stream: the parts sent before each break, oldest first (usage and cost include them). */
  interrupted?: InterruptedPart[];
  text: string;
  finishReason: "stop" | "length";
  /** An agent turn's answer called tools: these, checked against their schemas. */
  toolCalls?: OpenAiToolCall[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  costUsd: number;
  poolId: string;
  allocationId: string;
  leaseReused: boolean;
  allocateMs: number;
  queueMs: number;
  inferMs: number;
  releaseMs: number;
}

export interface AttemptDeps {
  client: HostedAiClient;
  local: LocalNodeClient | undefined;
  /** How many of this covenant's strikes may be on the local node at once; the rest wait in turn. */
  localSlots: LocalSlots;
  /** Whether the local node serves a model; asked only when a strike falls back that far. */
  localServes: (model: string) => Promise<boolean>;
  leases: LeaseManager;
  /** Counts strikes waiting for a lease slot (the covenant's queue depth). */
  waiting: { count: number };
}

export interface AttemptContext {
  contract: CovenantContract;
  owner: AllocationOwner;
  ephemeral: boolean;
  model: ModelSpec;
  deadline: number;
  /** Present when the client streams: tokens go out as they arrive. */
  onToken?: (text: string, model: string) => void;
  /** Hears when the attempt has its capacity, before the inference runs. */
  onPlaced?: (placed: { model: string; poolId: string; allocationId: string; leaseReused: boolean }) => void;
  /** Cuts a wait for a lease slot short (the runner then stops the strike). */
  signal?: AbortSignal;
  /** A continuation of a broken stream: the answer so far, which this attempt carries on. */
  continuing?: { sofar: string };
}

/** Marks a stream that broke on this attempt with what it had sent and what that was charged. */
function interrupted(err: MidStreamError, input: StrikeInput, where: { model: string; poolId: string; allocationId: string }, costUsd: number): MidStreamError {
  const { text, tokens, usage } = err.partial;
  err.produced = {
    ...where,
    type: err.type,
    text,
    usage: usage ?? { prompt_tokens: input.promptTokens, completion_tokens: tokens, total_tokens: input.promptTokens + tokens },
    costUsd,
  };
  return err;
}

function streamDeadlines(model: ModelSpec, input: StrikeInput, ctx: AttemptContext, onToken: (text: string, model: string) => void) {
  const estimate = estimateServiceMs(model, input.promptTokens, input.maxTokens);
  return { firstTokenMs: streamFirstTokenMs(estimate, ctx.deadline - Date.now()), idleMs: STREAM_IDLE_MS, onToken: (text: string) => onToken(text, model.id) };
}

/** A lease slot did not free up before the deadline: a capacity failure of this target. */
function noSlot(target: string): UpstreamError {
  return new UpstreamError("homeskillet", 503, "capacity_exhausted", `no lease slot on ${target} became free before the deadline`);
}

/** Inference gets what is left of the deadline, but never less than a pessimistic estimate allows. */
function inferenceTimeout(model: ModelSpec, input: StrikeInput, deadline: number): number {
  const estimate = estimateServiceMs(model, input.promptTokens, input.maxTokens) * 3 + 2_000;
  return Math.max(1_000, Math.min(estimate, deadline - Date.now()));
}

/**
 * An agent turn's answer did not hold up after its retry (or was cut off): the strike fails with
 * what it cost, booked where it ran. Not the target's fault, so no other target is tried.
 */
export class AnswerRejected extends Error {
  constructor(
    readonly failed: TurnFailed,
    readonly where: { model: string; poolId: string; allocationId: string },
    readonly costUsd: number,
  ) {
    super(failed.reason);
  }
}

/** Call ids of a strike's tool calls: unique across an agent's conversation, as clients key results by them. */
const callIdPrefix = (strikeId: string) => `call_${strikeId.slice(4)}_`;

/** The turn answered on the local node, which speaks tools and formats itself. */
function localTurn(deps: AttemptDeps, input: StrikeInput, turn: AgentTurn, model: string, deadline: number): Promise<TurnResult> {
  const backend: TurnBackend = {
    ask: async (t) => {
      const c = await deps.local!.inferTurn({ model, turn: t, maxTokens: input.maxTokens, temperature: input.temperature, ...(input.seed !== undefined ? { seed: input.seed } : {}) }, Math.max(1_000, deadline - Date.now()));
      const choice = c.choices[0];
      const raw = rawNodeMessage(choice?.message);
      const completion = c.usage?.completion_tokens ?? Math.ceil(raw.length / 4);
      return {
        output: parsedNodeMessage(choice?.message),
        raw,
        finishReason: choice?.finish_reason === "length" ? "length" : "stop",
        usage: c.usage ?? { prompt_tokens: input.promptTokens, completion_tokens: completion, total_tokens: input.promptTokens + completion },
        costUsd: 0,
      };
    },
  };
  return answerTurn(turn, backend, callIdPrefix(input.strikeId));
}

/** The turn answered on a Hosted.AI slice: rendered with the model family's template, read back by its parser. */
function pooledTurn(deps: AttemptDeps, allocationId: string, input: StrikeInput, turn: AgentTurn, model: ModelSpec, deadline: number): Promise<TurnResult> {
  const family = familyOf(model.id);
  if (!family) throw new UpstreamError("homeskillet", 422, "tools_not_supported", `${model.id} has no known chat template, so it cannot take tools or structured output on Hosted.AI`);
  const backend: TurnBackend = {
    ask: async (t) => {
      const prompt = renderTurn(family, t);
      const r = await deps.client.infer(allocationId, { model: model.id, prompt, max_tokens: input.maxTokens, temperature: input.temperature }, inferenceTimeout(model, input, deadline));
      return { output: family.parse(r.text, offeredTools(t)), raw: r.text, finishReason: r.finish_reason, usage: r.usage, costUsd: r.cost_usd };
    },
  };
  return answerTurn(turn, backend, callIdPrefix(input.strikeId));
}

/** One try on the local node: no allocation, no lease. */
export async function attemptLocal(deps: AttemptDeps, input: StrikeInput, ctx: AttemptContext): Promise<AttemptResult> {
  const t0 = Date.now();
  if (!(await deps.localServes(ctx.model.id))) {
    throw new UpstreamError("local", 404, "model_not_served", `the local node does not serve ${ctx.model.id} (or cannot be reached)`);
  }
  // A slot on the node, leaving at least the second a local inference is given at the least.
  const free = await deps.localSlots.take(ctx.deadline - 1_000, ctx.signal);
  if (!free) {
    throw new UpstreamError("local", 503, "local_node_busy", `the local node already runs ${deps.localSlots.max} of this covenant's strikes (LOCAL_NODE_MAX_CONCURRENCY) and none finished in time`);
  }
  try {
    return await onLocalSlot(deps, input, ctx, t0, Date.now() - t0);
  } finally {
    free();
  }
}

async function onLocalSlot(deps: AttemptDeps, input: StrikeInput, ctx: AttemptContext, t0: number, queueMs: number): Promise<AttemptResult> {
  ctx.onPlaced?.({ model: ctx.model.id, poolId: "local", allocationId: "local", leaseReused: false });
  const ask = { model: ctx.model.id, prompt: input.promptText, promptTokens: input.promptTokens, maxTokens: input.maxTokens, temperature: input.temperature };
  let out: { text: string; finish_reason: "stop" | "length"; usage: AttemptResult["usage"]; toolCalls?: OpenAiToolCall[] };
  if (input.turn) {
    const turned = await localTurn(deps, input, input.turn, ctx.model.id, ctx.deadline).catch((err: unknown) => {
      throw err instanceof TurnFailed ? new AnswerRejected(err, { model: ctx.model.id, poolId: "local", allocationId: "local" }, 0) : err;
    });
    out = {
      text: turned.answer.content ?? "",
      finish_reason: turned.answer.finishReason === "length" ? "length" : "stop",
      usage: turned.usage,
      ...(turned.answer.toolCalls.length ? { toolCalls: turned.answer.toolCalls } : {}),
    };
  } else if (ctx.onToken) {
    const limits = streamDeadlines(ctx.model, input, ctx, ctx.onToken);
    const prefill = ctx.continuing ? { prefill: ctx.continuing.sofar } : {};
    const read = await readUpstream("local", await deps.local!.inferStream({ ...ask, ...prefill }, limits.firstTokenMs), limits).catch((err: unknown) => {
      // The node bills nothing per token.
      throw err instanceof MidStreamError ? interrupted(err, input, { model: ctx.model.id, poolId: "local", allocationId: "local" }, 0) : err;
    });
    const completion = read.usage?.completion_tokens ?? read.tokens;
    out = {
      text: read.text,
      finish_reason: read.finishReason,
      usage: read.usage ?? { prompt_tokens: input.promptTokens, completion_tokens: completion, total_tokens: input.promptTokens + completion },
    };
  } else {
    // A local node is slower than a GPU pool and has no estimate of its own: bound it by the strike's deadline only.
    out = await deps.local!.infer(ask, Math.max(1_000, ctx.deadline - Date.now()));
  }
  return {
    text: out.text,
    finishReason: out.finish_reason,
    ...(out.toolCalls ? { toolCalls: out.toolCalls } : {}),
    usage: out.usage,
    costUsd: 0,
    poolId: "local",
    allocationId: "local",
    leaseReused: false,
    allocateMs: 0,
    queueMs,
    inferMs: Date.now() - t0 - queueMs,
    releaseMs: 0,
  };
}

/**
 * One try on a Hosted.AI pool: take a lease there (reuse a warm one, join one being allocated,
 * or allocate), run the inference on it, give it back. The lease is always given back, also when
 * the inference fails; a lease the upstream lost is dropped.
 */
export async function attemptPool(
  deps: AttemptDeps,
  target: Extract<Target, { kind: "pool" }>,
  input: StrikeInput,
  ctx: AttemptContext,
): Promise<AttemptResult> {
  const t0 = Date.now();
  const { lease, reused, waitedMs } = await acquireOn(deps, target, input, ctx);
  const allocateMs = Date.now() - t0 - waitedMs;
  ctx.onPlaced?.({ model: ctx.model.id, poolId: lease.poolId, allocationId: lease.allocationId, leaseReused: reused });
  const inferStart = Date.now();
  let charged = 0;
  try {
    const prompt = ctx.continuing ? continuationPrompt(input.promptText, ctx.continuing.sofar) : input.promptText;
    const request = { model: ctx.model.id, prompt, max_tokens: input.maxTokens, temperature: input.temperature };
    const turned = input.turn ? await pooledTurn(deps, lease.allocationId, input, input.turn, ctx.model, ctx.deadline) : undefined;
    const inference = turned
      ? { text: turned.answer.content ?? "", finish_reason: turned.answer.finishReason === "length" ? ("length" as const) : ("stop" as const), usage: turned.usage, cost_usd: turned.costUsd }
      : ctx.onToken
        ? await streamOnLease(deps, lease.allocationId, request, input, ctx, ctx.onToken)
        : await deps.client.infer(lease.allocationId, request, inferenceTimeout(ctx.model, input, ctx.deadline));
    const inferMs = Date.now() - inferStart;
    const concurrent = Math.max(1, lease.inFlight);
    if (!turned?.retried) deps.leases.observeService(ctx.model.id, estimateServiceMs(ctx.model, input.promptTokens, input.maxTokens) * Math.sqrt(concurrent), inferMs);
    // Strikes sharing the slice share its cost: split by how many ran at once. An isolated
    // strike's allocation was its own: it pays the whole bill, known once it is released.
    charged = inference.cost_usd / Math.max(1, lease.inFlight);
    const releaseStart = Date.now();
    charged = (await giveBack(deps, lease, charged, ctx)) ?? charged;
    return {
      text: inference.text,
      finishReason: inference.finish_reason,
      ...(turned?.answer.toolCalls.length ? { toolCalls: turned.answer.toolCalls } : {}),
      usage: inference.usage,
      costUsd: charged,
      poolId: lease.poolId,
      allocationId: lease.allocationId,
      leaseReused: reused,
      allocateMs,
      queueMs: waitedMs,
      inferMs,
      releaseMs: Date.now() - releaseStart,
    };
  } catch (err) {
    if (err instanceof TurnFailed) {
      // Both inferences ran and were billed: the slice's share of them is booked with the failure.
      const share = err.costUsd / Math.max(1, lease.inFlight);
      const paid = (await giveBack(deps, lease, share, ctx)) ?? share;
      throw new AnswerRejected(err, { model: ctx.model.id, poolId: lease.poolId, allocationId: lease.allocationId }, paid);
    }
    if (err instanceof MidStreamError) {
      // Tokens already went out: this attempt ends here, charged what the upstream billed for
      // them (its running cost; without one, the slice's price for the time it streamed), and
      // the lease goes back (or, if it was preempted, is dropped).
      const billed = err.partial.costUsd ?? holdCostUsd(lease.pricePerHour, Date.now() - inferStart);
      let share = billed / Math.max(1, lease.inFlight);
      if (err.type === "allocation_preempted") {
        deps.leases.finish(lease.leaseId, share);
        await deps.leases.drop(lease.leaseId);
      } else {
        share = (await giveBack(deps, lease, share, ctx)) ?? share;
      }
      throw interrupted(err, input, { model: ctx.model.id, poolId: lease.poolId, allocationId: lease.allocationId }, share);
    }
    if (err instanceof UpstreamError && [404, 409, 410].includes(err.status)) {
      // Expired, preempted or released under us: never use it again.
      deps.leases.finish(lease.leaseId, 0);
      await deps.leases.drop(lease.leaseId);
      throw new UpstreamError(err.provider, err.status, "allocation_gone", `${lease.allocationId}: ${err.message}`, undefined, err.detail);
    }
    // The strike failed: what its allocation cost is the covenant's (a lease charge), not a strike's.
    await giveBack(deps, lease, 0, ctx, false);
    throw err;
  }
}

/** A streamed inference on a lease, read into the same shape as a plain one. */
async function streamOnLease(
  deps: AttemptDeps,
  allocationId: string,
  request: { model: string; prompt: string; max_tokens: number; temperature: number },
  input: StrikeInput,
  ctx: AttemptContext,
  onToken: (text: string, model: string) => void,
) {
  const started = Date.now();
  const limits = streamDeadlines(ctx.model, input, ctx, onToken);
  const read = await readUpstream("hostedai", await deps.client.inferStream(allocationId, request, limits.firstTokenMs), limits);
  const completion = read.usage?.completion_tokens ?? read.tokens;
  return {
    text: read.text,
    finish_reason: read.finishReason,
    usage: read.usage ?? { prompt_tokens: input.promptTokens, completion_tokens: completion, total_tokens: input.promptTokens + completion },
    cost_usd: read.costUsd ?? 0,
    latency_ms: Date.now() - started,
  };
}

/**
 * The strike is done with its lease: returned to the covenant, or released (a one-off allocation,
 * or a draining lease now idle). An isolated strike's allocation (`lease.isolation: "per_strike"`)
 * is released and its whole bill — what the upstream billed for holding it — is the strike's
 * cost, returned here; otherwise undefined (the strike keeps `chargedUsd`, its share).
 */
async function giveBack(
  deps: AttemptDeps,
  lease: StoredLease,
  chargedUsd: number,
  ctx: Pick<AttemptContext, "ephemeral" | "contract">,
  billStrike = true,
): Promise<number | undefined> {
  if (isolatedPerStrike(ctx.contract)) {
    deps.leases.finish(lease.leaseId, 0);
    const bill = await deps.leases.release(lease.leaseId, { chargedToStrike: billStrike });
    return billStrike ? bill?.costUsd : undefined;
  }
  const after = deps.leases.finish(lease.leaseId, chargedUsd);
  if (after && (ctx.ephemeral || (after.state === "draining" && after.inFlight === 0))) await deps.leases.release(after.leaseId);
  return undefined;
}

async function acquireOn(
  deps: AttemptDeps,
  target: Extract<Target, { kind: "pool" }>,
  input: StrikeInput,
  ctx: AttemptContext,
): Promise<{ lease: StoredLease; reused: boolean; waitedMs: number }> {
  const { leases } = deps;
  const poolId = target.id;
  const request: AcquireRequest = {
    model: ctx.model,
    poolId,
    preemptible: target.preemptible,
    promptTokens: input.promptTokens,
    maxTokens: input.maxTokens,
    ...(input.classification && { outputTokens: input.classification.output_tokens }),
    latencySensitive: input.latencySensitive,
    ephemeral: ctx.ephemeral === true,
  };
  const isolated = isolatedPerStrike(ctx.contract);
  let waitedMs = 0;
  /** The wake-up this strike was given for one freed slot, if it was: handed on unless used. */
  let wake: Wake;
  for (;;) {
    const decision = leases.acquire(request, ctx.contract);
    if (decision.kind === "reuse") return { lease: leases.get(decision.leaseId)!, reused: true, waitedMs };
    leases.freed.passOn(wake);
    wake = undefined;
    if (decision.kind === "allocate") {
      const lease = await leases.allocate(
        poolId,
        ctx.contract,
        ctx.model,
        target.preemptible,
        ctx.owner,
        input.strikeId,
        Math.max(1_000, Math.min(10_000, ctx.deadline - Date.now())),
        true,
        isolated,
      );
      return { lease, reused: false, waitedMs };
    }
    // join or wait: something on this pool will free or arrive; wait for it, bounded by the deadline.
    const remaining = ctx.deadline - Date.now();
    if (remaining <= 0) throw noSlot(poolId);
    const unclaim = decision.kind === "join" ? leases.claimPending(poolId, ctx.model.id, target.preemptible) : () => {};
    const t0 = Date.now();
    deps.waiting.count++;
    try {
      wake = await leases.freed.next(remaining, ctx.signal);
    } finally {
      deps.waiting.count--;
      unclaim();
    }
    waitedMs += Date.now() - t0;
    if (ctx.signal?.aborted) {
      leases.freed.passOn(wake);
      throw noSlot(poolId);
    }
  }
}
