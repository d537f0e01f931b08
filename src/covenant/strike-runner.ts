import {
  ATTEMPTS_PER_TARGET,
  capacityBackoffMs,
  countsAgainstBreaker,
  isRetryable,
  planTargets,
  priorityRank,
  routeModel,
  DEFAULT_ROUTES,
  retryDelayMs,
  strikeDeadlineMs,
  type ModelCatalogue,
  type ModelSpec,
  type PlacementPolicy,
  type PoolSnapshot,
  type Target,
  continuationTargets,
} from "../policy";
import { UpstreamError } from "../providers/errors";
import { traceAttempt, traceStrike } from "../telemetry/strike-spans";
import type { CovenantContract, FusionProgress } from "../schema";
import { streamPieces, type AnswerCache, type CacheHit } from "./answer-cache";
import { AnswerDesk, cachedStrike, type CacheTicket } from "./answer-desk";
import { smallerModels, withinLimits } from "./strike-costs";
import { AnswerRejected, attemptLocal, attemptPool, type AttemptDeps, type AttemptResult } from "./attempt";
import { continueStream, ledgerShares } from "./continuation";
import type { BreakerBook } from "./breakers";
import type { Ledger } from "./ledger";
import type { AllocationOwner } from "./lease-manager";
import { PARTITION_QUEUE_LIMIT, type PartitionQueue } from "./partition-queue";
import { MidStreamError } from "./stream-reader";
import type { StrikeRecord } from "./storage";
import type { AttemptRecord, FailureBody, StrikeFailure, StrikeInput, StrikeOutcome, StrikeSuccess } from "./types";

export interface RunnerDeps extends AttemptDeps {
  ledger: Ledger;
  partition: PartitionQueue;
  breakers: BreakerBook;
  models: ModelCatalogue;
  /** Called after each strike so the object can schedule lease housekeeping. */
  afterStrike: (leaseUsed: boolean) => Promise<void>;
  /** Called when an arrival makes the warm pool want more leases (`lease.warm_ahead`): housekeeping now. */
  warmWanted?: () => Promise<void>;
  /** Called for each failed call to a target (retried or not), for the metrics. */
  attemptFailed?: (e: { target: string; type: string }) => void;
  /** Plain strikes' answers (answer-cache.ts); without it nothing is cached. */
  answers?: AnswerCache;
}

/**
 * The line a token stream gets before its first token when the answer cache was consulted, so the
 * edge can say so in the response's headers (`x-homeskillet-cache`). It travels as a progress line.
 */
export interface CacheConsulted {
  type: "cache";
  status: "hit" | "semantic" | "miss";
}

export interface RunContext {
  contract: CovenantContract;
  policy: PlacementPolicy;
  owner: AllocationOwner;
}

/** What a strike on the way reports, for clients that watch it (MCP progress). */
export interface Placed {
  model: string;
  poolId: string;
  allocationId: string;
  leaseReused: boolean;
}

export interface RunOptions {
  /** Present when the client streams: the inference streams and tokens go out as they arrive. */
  onToken?: (text: string, model: string) => void;
  /** Hears when the strike has its capacity (a lease, or the local node). */
  onPlaced?: (placed: Placed) => void;
  /** Hears fusion progress, and where a broken stream was continued (a `continued` line: continuation.ts). */
  onProgress?: (progress: FusionProgress) => void;
  /** Stops the strike at its next step (no new attempt, retry or wait); a running inference finishes. */
  signal?: AbortSignal;
  /** An end earlier than the covenant's SLO gives (a fused request's own deadline). */
  deadlineAt?: number;
  /** A fused request reserved the plan's price as a whole: this fragment neither checks nor reserves. */
  budgetHeld?: boolean;
  /**
   * Admitted against the covenant's cost limits with no pool price known (the pool listing could
   * not be had): only the local node, which costs nothing, is tried.
   */
  poolsUnpriced?: boolean;
}

/** A strike refused or failed with a final answer for the client. */
class StrikeError extends Error {
  constructor(readonly failure: StrikeFailure) {
    super(failure.error.message);
  }
}

const fail = (status: StrikeFailure["status"], error: FailureBody): StrikeError => new StrikeError({ ok: false, status, error });
/** Waits `ms`, or less when `signal` fires (the caller then sees the signal and stops). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => (clearTimeout(timer), signal?.removeEventListener("abort", done), resolve());
    const timer = setTimeout(done, signal?.aborted ? 0 : ms);
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * Runs strikes inside the covenant object. Each strike walks its fallback chain (pools, then the
 * local node), with bounded retries per target, circuit breakers per target, and an overall
 * deadline from the covenant's SLO; when every target is merely full it waits for capacity.
 * Decisions come from the policy core; this class performs them and records the outcome.
 */
export class StrikeRunner {
  private readonly answers: AnswerDesk;

  constructor(private readonly deps: RunnerDeps) {
    this.answers = new AnswerDesk(deps.answers);
  }

  /** Runs one strike, or one fragment of a fused strike (which gets a span of its own). */
  run(...args: Parameters<StrikeRunner["runStrike"]>): Promise<StrikeOutcome> {
    return traceStrike(args[0], () => this.runStrike(...args));
  }

  get queueDepth(): number {
    return this.deps.waiting.count;
  }

  /** Drops every cached answer (the covenant is being deleted). */
  forgetAnswers(): void {
    this.answers.forget();
  }

  /** Runs one strike; see RunOptions for streaming, progress, cancellation and held budgets. */
  private async runStrike(input: StrikeInput, ctx: RunContext, opts: RunOptions = {}): Promise<StrikeOutcome> {
    const startedAt = Date.now();
    const deadline = Math.min(startedAt + strikeDeadlineMs(ctx.contract.qos.latency_slo_ms), opts.deadlineAt ?? Infinity);
    const routed = input.classification
      ? routeModel(input.classification, ctx.contract.routes ?? DEFAULT_ROUTES, ctx.contract.models, input.model, { defaultModel: ctx.contract.default_model })
      : { model: input.model ?? ctx.contract.default_model, reason: input.model ? "model named in the request" : "covenant default" };
    let modelId = routed.model;
    let ticket: CacheTicket | undefined;
    try {
      const requested = this.resolveModel(modelId, ctx.contract);
      // The answer cache, before any cost is admitted or capacity sought: a hit runs nothing.
      const consulted = await this.answers.consult(ctx.contract, input, requested.id, opts.budgetHeld === true, opts.signal);
      this.throwIfStopped(opts.signal);
      if (consulted.kind === "hit") return await this.fromCache(consulted.hit, input, requested, routed.reason, startedAt, opts);
      ticket = consulted.ticket;
      if (ticket.keeps) this.announceCache(opts, "miss");
      this.deps.leases.observe(requested.id, input.promptTokens, input.maxTokens, startedAt);
      if (ctx.policy !== "seed" && this.deps.warmWanted && this.deps.leases.wantsWarmLeases(requested, ctx.contract)) await this.deps.warmWanted();
      const limited = opts.budgetHeld ? { ok: true as const, model: requested, poolsPriced: true } : await withinLimits(this.deps, requested, input, ctx);
      if (!limited.ok) throw fail(402, { ...limited.refusal });
      if (!limited.poolsPriced) opts = { ...opts, poolsUnpriced: true };
      let model = limited.model;
      modelId = model.id;
      let r: AttemptResult;
      // A covenant that prefers a smaller model to a refusal gives the requested one half the time.
      const patient = ctx.contract.cost.on_limit !== "degrade";
      try {
        r = await this.walkChain(model, input, ctx, patient ? deadline : startedAt + (deadline - startedAt) / 2, opts);
      } catch (err) {
        const exhausted = err instanceof StrikeError && err.failure.error.type === "capacity_exhausted";
        const smaller = exhausted && !patient ? smallerModels(this.deps.models, model, ctx.contract) : [];
        if (smaller.length === 0) throw err;
        r = await this.degradeUnderExhaustion(smaller, input, ctx, deadline, opts, err as StrikeError);
        model = this.deps.models.get(r.model!)!;
        modelId = model.id;
      }
      // A continued stream is booked part by part, where each ran; the answer is their sum.
      for (const share of ledgerShares(input.strikeId, r, model.id)) {
        const own = share.strikeId === input.strikeId;
        this.book(input, startedAt, { strike_id: share.strikeId, model: share.model, pool_id: share.poolId, allocation_id: share.allocationId, outcome: "ok", error_type: null, prompt_tokens: share.promptTokens, completion_tokens: share.completionTokens, cost_usd: share.costUsd, allocation_seconds: own ? r.inferMs / 1000 : 0 });
      }
      // Kept only as the request asked for it: the requested model, answered whole by one target.
      if (ticket.keeps && model.id === requested.id && !r.interrupted && !r.toolCalls) {
        ticket.keep({ text: r.text, finishReason: r.finishReason, model: model.id, usage: r.usage, costUsd: r.costUsd, strikeId: input.strikeId, createdAt: Date.now() });
      }
      await this.deps.afterStrike(r.poolId !== "local");
      return {
        ok: true,
        strikeId: input.strikeId,
        strike: {
          covenant_id: input.covenantId,
          model: model.id,
          pool_id: r.poolId,
          allocation_id: r.allocationId,
          model_reason: model.id !== requested.id ? `${routed.reason}; degraded to ${model.id}` : routed.reason,
          lease_reused: r.leaseReused,
          ...(model.id !== requested.id ? { degraded_from: requested.id } : {}),
          output: { role: "assistant", content: r.text, ...(r.toolCalls ? { tool_calls: r.toolCalls } : {}) },
          finish_reason: r.toolCalls ? "tool_calls" : r.finishReason,
          usage: r.usage,
          cost_usd: r.costUsd,
          timings: { queue_ms: r.queueMs, allocate_ms: Math.max(0, r.allocateMs), infer_ms: r.inferMs, release_ms: r.releaseMs },
          ...(ticket.keeps ? { cache: { status: "miss" as const } } : {}),
        },
      };
    } catch (caught) {
      if (caught instanceof AnswerRejected) return this.rejected(caught, input, startedAt);
      const err =
        caught instanceof MidStreamError
          ? fail(502, { type: "stream_interrupted", message: `${caught.provider}: ${caught.message}`, upstream: { provider: caught.provider, status: 0, type: caught.type } })
          : caught;
      if (!(err instanceof StrikeError)) throw err;
      // What reached the client before a stream broke for good was delivered and billed: booked where it ran.
      for (const [i, p] of (caught instanceof MidStreamError ? caught.parts : []).entries()) {
        this.book(input, startedAt, { strike_id: `${input.strikeId}.part${i + 1}`, model: p.model, pool_id: p.poolId, allocation_id: p.allocationId, outcome: "ok", error_type: null, prompt_tokens: p.usage.prompt_tokens, completion_tokens: p.usage.completion_tokens, cost_usd: p.costUsd, allocation_seconds: 0 });
      }
      this.book(input, startedAt, { strike_id: input.strikeId, model: modelId, pool_id: null, allocation_id: null, outcome: "error", error_type: err.failure.error.type, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, allocation_seconds: 0 });
      await this.deps.afterStrike(false);
      return err.failure;
    } finally {
      ticket?.close();
    }
  }

  /**
   * Tries targets in order until one answers. A target gets up to ATTEMPTS_PER_TARGET tries when
   * its errors are worth retrying; an open breaker skips it. If every target was only full, the
   * chain is walked again once capacity frees, until the deadline.
   */
  private async walkChain(
    model: ModelSpec,
    input: StrikeInput,
    ctx: RunContext,
    deadline: number,
    opts: RunOptions,
  ): Promise<AttemptResult> {
    const { breakers, partition } = this.deps;
    const attempts: AttemptRecord[] = [];
    const rank = priorityRank(input.priority ?? ctx.contract.qos.priority);
    let sawCapacity = false;
    if (rank > priorityRank(ctx.contract.qos.priority)) {
      throw fail(400, { type: "priority_not_allowed", message: `covenant ${ctx.contract.id} allows priority up to ${ctx.contract.qos.priority}`, param: "priority" });
    }
    for (let round = 0; ; round++) {
      this.throwIfStopped(opts.signal);
      const roundStart = attempts.length;
      const pools = opts.poolsUnpriced ? this.unpricedPools(attempts, round) : await this.pools(attempts);
      const { targets, excluded } = planTargets(ctx.policy, ctx.contract, model, input.latencySensitive, pools, this.deps.local !== undefined);
      if (opts.poolsUnpriced && targets.length === 0) {
        throw fail(503, {
          type: "pricing_unavailable",
          message: "cannot check this strike against the covenant's cost limits: Hosted.AI's pool listing, which carries the prices, could not be fetched, and the covenant has no local node to run it on; nothing was allocated or charged",
          retry_after_s: 1,
        });
      }
      // Wait and walk again only if something was merely full and nothing actually failed.
      let onlyCapacity = targets.length > 0;
      let retryAfterS: number | undefined;
      for (const target of targets) {
        for (let attempt = 0; attempt < ATTEMPTS_PER_TARGET && Date.now() < deadline; attempt++) {
          this.throwIfStopped(opts.signal);
          const verdict = breakers.admit(target.id, Date.now());
          if (!verdict.allowed) {
            const until = verdict.retryAt ? ` until ${new Date(verdict.retryAt).toISOString()}` : " (a probe is running)";
            attempts.push({ target: target.id, attempt, outcome: "skipped", status: 0, type: "circuit_open", message: `circuit breaker open${until}` });
            onlyCapacity = false;
            break;
          }
          try {
            const result = await this.attempt(target, model, input, ctx, deadline, opts);
            breakers.success(target.id, Date.now());
            // A target answers again: strikes waiting out a partition resume, by priority.
            if (partition.depth > 0) partition.wakeAll();
            return result;
          } catch (err) {
            if (err instanceof MidStreamError) {
              // Tokens already reached the client: no transparent retry; the target failed, and
              // the rest of the chain may continue the answer from what was sent.
              breakers.failure(target.id, Date.now(), `${err.type}: ${err.message}`);
              this.deps.attemptFailed?.({ target: target.id, type: err.type });
              return this.continueAfter(err, continuationTargets(targets, target.id), model, input, ctx, deadline, opts);
            }
            if (!(err instanceof UpstreamError)) {
              breakers.abandonProbe(target.id, Date.now());
              throw err;
            }
            attempts.push({ target: target.id, attempt, outcome: "failed", status: err.status, type: err.type, message: err.message });
            this.deps.attemptFailed?.({ target: target.id, type: err.type });
            if (countsAgainstBreaker(err.status, err.type)) {
              const wasProbe = breakers.get(target.id, Date.now()).probeInFlight;
              breakers.failure(target.id, Date.now(), `${err.type}: ${err.message}`);
              // A failed probe sets a new cool-down: waiting strikes re-read it.
              if (wasProbe && partition.depth > 0) partition.wakeAll();
            } else {
              breakers.abandonProbe(target.id, Date.now());
            }
            if (err.type === "capacity_exhausted") {
              retryAfterS = err.retryAfterS;
              sawCapacity = true;
            }
            // A node without the model is not a reason to stop waiting for a full pool.
            else if (err.type !== "model_not_served") onlyCapacity = false;
            if (!isRetryable(err.status, err.type)) break;
            await sleep(retryDelayMs(attempt, err.retryAfterS, deadline - Date.now(), Math.random()), opts.signal);
          }
        }
      }
      const remaining = deadline - Date.now();
      const thisRound = attempts.slice(roundStart);
      const partitioned = thisRound.length > 0 && thisRound.every((a) => a.type === "circuit_open");
      if (partitioned && remaining > 0) {
        // Every target's breaker is open: wait out the partition (bounded) rather than fail.
        const nextProbe = Math.min(...targets.map((t) => breakers.get(t.id, Date.now()).openUntil ?? Infinity));
        if (partition.full) {
          throw fail(503, {
            type: "partition_queue_full",
            message: `every upstream is failing and ${PARTITION_QUEUE_LIMIT} strikes already wait for one to recover`,
            retry_after_s: Math.max(1, Math.ceil((nextProbe - Date.now()) / 1000) || 1),
            attempts,
            excluded,
          });
        }
        this.deps.waiting.count++;
        try {
          // Until the next probe is due; while one runs, until its outcome wakes everyone.
          const untilProbe = nextProbe > Date.now() ? nextProbe - Date.now() : remaining;
          await partition.wait(input.strikeId, rank, deadline, Math.min(remaining, untilProbe));
        } finally {
          this.deps.waiting.count--;
        }
        continue;
      }
      onlyCapacity &&= sawCapacity;
      if (!onlyCapacity || remaining <= 0) throw this.exhausted(attempts, excluded, onlyCapacity, retryAfterS);
      // Every target was merely full: wait for this covenant to give a slice back (one waiter per
      // slice, so a release does not set off a stampede of allocations), or for time to pass.
      this.deps.waiting.count++;
      try {
        await this.deps.leases.capacityReturned.next(capacityBackoffMs(round, retryAfterS, remaining, Math.random()), opts.signal);
      } finally {
        this.deps.waiting.count--;
      }
    }
  }

  /**
   * A strike answered from the answer cache: nothing runs upstream, nothing is reserved or held.
   * It is booked as a strike (outcome ok, pool `cache`) with no tokens and no cost, as the upstream
   * billed none; the response says where the answer came from and what it saved. A token stream
   * gets the answer as a stream, word by word, after the line that says it was cached.
   */
  private async fromCache(hit: CacheHit, input: StrikeInput, model: ModelSpec, reason: string, startedAt: number, opts: RunOptions): Promise<StrikeSuccess> {
    if (opts.onToken) {
      this.announceCache(opts, hit.status);
      for (const piece of streamPieces(hit.answer.text)) opts.onToken(piece, model.id);
    }
    this.book(input, startedAt, { strike_id: input.strikeId, model: model.id, pool_id: "cache", allocation_id: null, outcome: "ok", error_type: null, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, allocation_seconds: 0 });
    await this.deps.afterStrike(false);
    return { ok: true, strikeId: input.strikeId, strike: cachedStrike(hit, input, model.id, reason, Date.now()) };
  }

  /** Tells a token stream's watcher, before its first token, how the cache answered (see CacheConsulted). */
  private announceCache(opts: RunOptions, status: CacheConsulted["status"]): void {
    if (opts.onToken && opts.onProgress) opts.onProgress({ type: "cache", status } satisfies CacheConsulted as unknown as FusionProgress);
  }

  /** A stream broke after output began: the targets in `rest` may continue it (continuation.ts). */
  private continueAfter(broken: MidStreamError, rest: Target[], model: ModelSpec, input: StrikeInput, ctx: RunContext, deadline: number, opts: RunOptions): Promise<AttemptResult> {
    const attempt = (t: Target, i: StrikeInput, d: number, on: { continuing: { sofar: string }; onToken: NonNullable<RunOptions["onToken"]>; onPlaced: NonNullable<RunOptions["onPlaced"]> }) =>
      this.attempt(t, model, i, ctx, d, { ...opts, onToken: on.onToken, onPlaced: on.onPlaced }, on.continuing);
    // The seam travels on the progress line (a `continued` entry), which every watcher relays.
    const announce = opts.onProgress ? (seam: unknown) => opts.onProgress!(seam as FusionProgress) : undefined;
    const run = { contract: ctx.contract, input, deadline, onToken: opts.onToken!, onPlaced: opts.onPlaced, announce, signal: opts.signal };
    return continueStream({ breakers: this.deps.breakers, attemptFailed: this.deps.attemptFailed, attempt }, broken, rest, run);
  }

  private attempt(
    target: Target,
    model: ModelSpec,
    input: StrikeInput,
    ctx: RunContext,
    deadline: number,
    opts: RunOptions,
    continuing?: { sofar: string },
  ): Promise<AttemptResult> {
    // The seed rule and an isolated covenant allocate per strike and release at once.
    const ephemeral = ctx.policy === "seed" || ctx.contract.lease.isolation === "per_strike";
    const actx = { contract: ctx.contract, owner: ctx.owner, ephemeral, model, deadline, onToken: opts.onToken, onPlaced: opts.onPlaced, signal: opts.signal, continuing };
    return traceAttempt(target, { model: model.id, breakerState: this.deps.breakers.get(target.id, Date.now()).phase }, () => (target.kind === "local" ? attemptLocal(this.deps, input, actx) : attemptPool(this.deps, target, input, actx)));
  }

  /**
   * An agent turn whose answer did not hold up: the client hears why; what its inferences cost is
   * booked with the failure, where they ran, so the ledger agrees with the upstream's bill.
   */
  private async rejected(err: AnswerRejected, input: StrikeInput, startedAt: number): Promise<StrikeFailure> {
    const { failed, where } = err;
    this.book(input, startedAt, { strike_id: input.strikeId, model: where.model, pool_id: where.poolId, allocation_id: where.allocationId, outcome: "error", error_type: failed.kind, prompt_tokens: failed.usage.prompt_tokens, completion_tokens: failed.usage.completion_tokens, cost_usd: err.costUsd, allocation_seconds: 0 });
    await this.deps.afterStrike(where.poolId !== "local");
    // Cut off by max_tokens is the request's to fix; an answer wrong twice is the model's failure.
    return failed.truncated
      ? { ok: false, status: 422, error: { type: failed.kind, message: failed.reason, param: "max_tokens" } }
      : { ok: false, status: 502, error: { type: failed.kind, message: failed.reason } };
  }

  /** Books one ledger row of this strike (the rest of the row is the strike's own). */
  private book(input: StrikeInput, startedAt: number, row: Omit<StrikeRecord, "tenant" | "covenant_id" | "key_id" | "created_at" | "total_ms">): void {
    const record = { ...row, tenant: input.tenant, covenant_id: input.covenantId, key_id: input.keyId ?? null, created_at: startedAt, total_ms: Date.now() - startedAt };
    this.deps.ledger.settle(row.strike_id, record);
  }

  /** A stopped strike ends with the reason it was stopped for (a fused request's deadline, a gone client). */
  private throwIfStopped(signal: AbortSignal | undefined): void {
    if (!signal?.aborted) return;
    const reason = signal.reason instanceof Error ? signal.reason.message : "the request was cancelled";
    throw fail(504, { type: "cancelled", message: `stopped before its next step: ${reason}` });
  }

  /** No pools for a strike admitted without their prices; said once, in its first round. */
  private unpricedPools(attempts: AttemptRecord[], round: number): PoolSnapshot[] {
    if (round === 0) {
      attempts.push({ target: "hostedai", attempt: 0, outcome: "skipped", status: 0, type: "pricing_unavailable", message: "pools not tried: no pool price was known to check against the covenant's cost limits" });
    }
    return [];
  }

  /** The pool listing; when Hosted.AI cannot list pools, no pool is tried and that is recorded. */
  private async pools(attempts: AttemptRecord[]): Promise<PoolSnapshot[]> {
    try {
      return await this.deps.leases.poolSnapshot();
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError("hostedai", 0, "network_error", "hostedai unreachable", undefined, String(err));
      attempts.push({ target: "hostedai", attempt: 0, outcome: "failed", status: e.status, type: e.type, message: `listing pools: ${e.message}` });
      this.deps.attemptFailed?.({ target: "hostedai", type: e.type });
      return [];
    }
  }

  private exhausted(attempts: AttemptRecord[], excluded: { id: string; reason: string }[], onlyCapacity: boolean, retryAfterS: number | undefined): StrikeError {
    const tried = [...new Set(attempts.map((a) => a.target))];
    if (onlyCapacity) {
      return fail(503, {
        type: "capacity_exhausted",
        message: `every target was full until the deadline (${tried.join(", ")})`,
        retry_after_s: Math.max(1, Math.ceil(retryAfterS ?? 1)),
        attempts,
        excluded,
      });
    }
    return fail(503, {
      type: "upstreams_exhausted",
      message:
        tried.length === 0
          ? "no target can run this strike: " + (excluded.map((e) => `${e.id}: ${e.reason}`).join("; ") || "no pool fits and no local node serves the model")
          : `every target failed: ${tried.join(", ")}; see attempts`,
      retry_after_s: 1,
      attempts,
      excluded,
    });
  }

  /** Every target was full for the requested model: run on a smaller allowed one instead. */
  private async degradeUnderExhaustion(
    smaller: ModelSpec[],
    input: StrikeInput,
    ctx: RunContext,
    deadline: number,
    opts: RunOptions,
    original: StrikeError,
  ): Promise<AttemptResult> {
    for (const m of [...smaller].reverse()) {
      try {
        return { ...(await this.walkChain(m, input, ctx, deadline, opts)), model: m.id };
      } catch (err) {
        if (err instanceof MidStreamError) throw err;
        if (!(err instanceof StrikeError) || Date.now() >= deadline) throw original;
      }
    }
    throw original;
  }

  private resolveModel(id: string, contract: CovenantContract): ModelSpec {
    const model = this.deps.models.get(id);
    if (!model) throw fail(400, { type: "unknown_model", message: `unknown model ${JSON.stringify(id)}`, param: "model" });
    if (!contract.models.includes(id)) {
      throw fail(400, { type: "model_not_allowed", message: `covenant ${contract.id} does not allow ${id}; allowed: ${contract.models.join(", ")}`, param: "model" });
    }
    return model;
  }
}
