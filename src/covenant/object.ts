import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import {
  allocatePreemptible,
  applyCovenantChange,
  budgetDay,
  candidatePools,
  defaultContract,
  DEFAULT_COVENANT_ID,
  meetsSlo,
  stillIdle,
  modelCatalogue,
  narrowToModels,
  normalizeContract,
  planMaintenance,
  wakeAfterStrike,
} from "../policy";
import { renewKeyHold, settleKeyHold } from "../limits/edge";
import { HostedAiClient } from "../providers/hostedai";
import { LocalNodeClient } from "../providers/localnode";
import { LocalSlots, localConcurrencyFrom } from "./local-slots";
import { metricsRecording } from "../telemetry/book";
import { AnswerCache } from "./answer-cache";
import { BreakerBook } from "./breakers";
import { FusionDesk } from "./fusion-desk";
import { IdempotencyBook } from "./idempotency";
import { CovenantLimiter, type Gate } from "./limits";
import { PartitionQueue } from "./partition-queue";
import type { CovenantContract, CovenantCreate, CovenantPatch, CovenantStatus, CovenantUsage } from "../schema";
import { Ledger } from "./ledger";
import { LeaseManager, type AllocationOwner } from "./lease-manager";
import { PoolCache } from "./pool-cache";
import { Signal } from "./signal";
import { CovenantStore, type UsageHour } from "./storage";
import { StrikeRunner, type Placed } from "./strike-runner";
import type { Observers } from "./fusion-desk";
import { leaseView } from "./views";
import { bookOutcome, meterStrike } from "./outcome-book";
import { HOUR_MS, retentionFrom, type Retention } from "./usage";
import { NdjsonSource } from "./ndjson-source";
import { UpstreamSampler } from "./upstream-sampler";
import { MetricsBook, METRICS_INDEX_NAME, type Snapshot } from "../telemetry";
import type { UpstreamFailure, UpstreamSink } from "../telemetry/upstream-failures";
import type { Result, StrikeEvent, StrikeInput, StrikeOutcome, WatchOptions } from "./types";

const models = modelCatalogue();
/** After an unanswered allocation request, look upstream this much later (let in-flight work land). */
const RECONCILE_DELAY_MS = 2_000;

/**
 * One Durable Object per covenant (named `<tenant>:<covenant id>`). A thin shell: it loads state,
 * asks the policy core, performs the I/O and persists what happened. Its single alarm runs lease
 * housekeeping, release retries and reconciliation with the upstream.
 */
export class CovenantObject extends DurableObject<Env> {
  private readonly store: CovenantStore;
  private readonly leases: LeaseManager;
  private readonly ledger: Ledger;
  private readonly runner: StrikeRunner;
  private readonly fusion: FusionDesk;
  private readonly breakers: BreakerBook;
  private readonly idempotency: IdempotencyBook;
  private readonly limits: CovenantLimiter;
  private readonly local: LocalNodeClient | undefined;
  private readonly metrics: MetricsBook;
  private readonly sampler: UpstreamSampler;
  private localModels: { models: Set<string>; at: number } | undefined;
  private owned: { tenant: string; contract: CovenantContract } | undefined;
  private alarmAt: number | null = null;
  private needsReconcile = false;
  private readonly retention: Retention;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new CovenantStore(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.retention = retentionFrom(env);
    const client = new HostedAiClient({ baseUrl: env.HOSTEDAI_BASE_URL, apiKey: env.HOSTEDAI_API_KEY ?? "", fetcher: env.HOSTEDAI, assumptions: env.HOSTEDAI_ASSUMPTIONS });
    this.leases = new LeaseManager(
      client,
      this.store,
      new PoolCache(client),
      new Signal(),
      new Signal(),
      () => this.wakeAt(Date.now()),
      () => this.ledger.refresh(),
      () => this.reconcileSoon(),
      (e) => this.metrics.leaseReleased(e),
    );
    this.ledger = new Ledger(this.store, () => this.leases.list());
    this.breakers = new BreakerBook(ctx.storage.sql);
    this.idempotency = new IdempotencyBook(ctx.storage.sql);
    this.limits = new CovenantLimiter(ctx.storage.sql, {
      settle: (ref, used) => settleKeyHold(env, ref, used),
      renew: (ref) => renewKeyHold(env, ref),
      waitUntil: (work) => ctx.waitUntil(work),
    });
    this.local =
      env.LOCAL_NODE_URL || env.LOCAL_NODE
        ? new LocalNodeClient({
            baseUrl: env.LOCAL_NODE_URL || "http://local-node",
            fetcher: env.LOCAL_NODE,
            accessClientId: env.LOCAL_NODE_ACCESS_CLIENT_ID,
            accessClientSecret: env.LOCAL_NODE_ACCESS_CLIENT_SECRET,
          })
        : undefined;
    this.runner = new StrikeRunner({
      client,
      local: this.local,
      localSlots: new LocalSlots(localConcurrencyFrom(env.LOCAL_NODE_MAX_CONCURRENCY)),
      leases: this.leases,
      ledger: this.ledger,
      breakers: this.breakers,
      partition: new PartitionQueue(ctx.storage.sql),
      models,
      waiting: { count: 0 },
      localServes: (model) => this.localServes(model),
      afterStrike: (leaseUsed) => this.afterStrike(leaseUsed),
      warmWanted: () => this.wakeAt(Date.now()),
      attemptFailed: (e) => this.metrics.attemptFailed(e),
      answers: new AnswerCache(ctx.storage.sql),
    });
    this.fusion = new FusionDesk(ctx.storage.sql, this.runner, this.leases, this.ledger, models, (input, outcome) => meterStrike(this.metrics, input, outcome, this.owned?.contract.default_model ?? ""));
    this.sampler = new UpstreamSampler(client, { onGone: () => this.reconcileSoon() });
    this.metrics = new MetricsBook(ctx.storage.sql, {
      objectName: () => (this.owned ? this.owner().objectName : undefined),
      register: (name) => env.METRICS_INDEX.getByName(METRICS_INDEX_NAME).register(name),
      retire: (name, final) => env.METRICS_INDEX.getByName(METRICS_INDEX_NAME).retire(name, final),
      recording: metricsRecording(env),
      gauges: () => {
        if (!this.owned) return null;
        const live = this.leases.list();
        const leases = live.map((l) => ({ pool: l.poolId, inFlight: l.inFlight }));
        const breakers = this.breakers.all(Date.now()).map(({ target, breaker }) => ({ target, phase: breaker.phase }));
        const gpu = this.sampler.gauges(live, Date.now());
        return { tenant: this.owned.tenant, covenant: this.owned.contract.id, leases, queueDepth: this.runner.queueDepth, breakers, storageBytes: ctx.storage.sql.databaseSize, gpu };
      },
    });
    const stored = this.store.contract();
    this.owned = stored ? { tenant: stored.tenant, contract: normalizeContract(stored.contract) } : undefined;
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
      // A fresh start may follow a crash between an allocation and its record: look upstream.
      if (this.owned) {
        this.needsReconcile = true;
        await this.wakeAt(Date.now());
      }
    });
  }

  // ---- RPC: contract -------------------------------------------------------------------------

  /** Creates (mode `create`, fails if it exists) or changes (mode `patch`) the covenant. */
  configure(tenant: string, covenantId: string, change: CovenantCreate | CovenantPatch, mode: "create" | "patch"): Result<CovenantContract> {
    const now = new Date().toISOString();
    if (mode === "create" && this.owned) return notOk(409, "covenant_exists", `covenant ${covenantId} already exists`, "id");
    const base = mode === "patch" ? this.contractFor(tenant, covenantId) : defaultContract(covenantId, models, now);
    if (!base) return notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    const result = applyCovenantChange(base, change, models, now);
    if (!result.ok) return notOk(400, "invalid_covenant", result.message, result.param);
    this.owned = { tenant, contract: result.contract };
    this.store.saveContract(tenant, result.contract);
    return { ok: true, value: result.contract };
  }

  status(tenant: string, covenantId: string): Result<CovenantStatus> {
    const contract = this.contractFor(tenant, covenantId);
    if (!contract) return notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    const now = Date.now();
    const spend = this.ledger.spend(now);
    return {
      ok: true,
      value: {
        covenant: contract,
        leases: this.leases.list().map((l) => leaseView(l, now)),
        queue_depth: this.runner.queueDepth,
        breakers: this.breakers.all(now).map(({ target, breaker }) => ({
          target,
          state: breaker.phase,
          consecutive_failures: breaker.consecutiveFailures,
          open_until: breaker.openUntil && breaker.phase !== "closed" ? new Date(breaker.openUntil).toISOString() : null,
          last_failure: breaker.lastFailure,
        })),
        in_flight: this.leases.list().reduce((n, l) => n + l.inFlight, 0),
        spend_today_usd: spend.spentToday + spend.accrued,
        reserved_usd: spend.reserved,
      },
    };
  }

  usage(tenant: string, covenantId: string, from: number | undefined, to: number | undefined): Result<CovenantUsage> {
    if (!this.contractFor(tenant, covenantId)) return notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    const now = Date.now();
    const start = from ?? budgetDay(now).start;
    const end = to ?? now + 1;
    const byModel = this.store.usageBy("model", start, end);
    return {
      ok: true,
      value: {
        covenant_id: covenantId,
        from: new Date(start).toISOString(),
        to: new Date(end).toISOString(),
        total_usd: byModel.reduce((s, r) => s + r.cost_usd, 0),
        strikes: this.store.strikeCount(start, end),
        by_model: byModel,
        by_pool: this.store.usageBy("pool_id", start, end),
      },
    };
  }

  /** Hour × model × pool × key lines in [from, to) for the usage export, from rows and roll-ups alike. */
  usageHours(tenant: string, covenantId: string, from: number, to: number): Result<UsageHour[]> {
    // Asking never creates the default covenant: one never used has nothing to export.
    if (!this.owned) return covenantId === DEFAULT_COVENANT_ID ? { ok: true, value: [] } : notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    if (this.owned.tenant !== tenant) return notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    return { ok: true, value: this.store.usageHours(from, to) };
  }

  /** Deletes the covenant: every lease is released first, then its records go. */
  async retire(tenant: string, covenantId: string): Promise<Result<{ released: number }>> {
    if (!this.contractFor(tenant, covenantId)) return notOk(404, "covenant_not_found", `no covenant ${covenantId}`);
    const leases = this.leases.list();
    if (leases.some((l) => l.inFlight > 0)) return notOk(409, "covenant_busy", `covenant ${covenantId} has strikes running; retry when they finish`);
    for (const l of leases) await this.leases.release(l.leaseId);
    await this.leases.retryPendingReleases(Date.now());
    const pending = this.store.pendingReleases().length;
    this.store.wipe();
    this.fusion.forget();
    this.runner.forgetAnswers();
    this.idempotency.forget();
    this.limits.forget();
    this.owned = undefined;
    const metricsRetired = await this.metrics.retire();
    // Releases that failed stay due, and so does an unfinished metrics hand-over: the alarm finishes both.
    if (pending > 0 || !metricsRetired) await this.wakeAt(Date.now() + (pending > 0 ? 0 : RECONCILE_DELAY_MS));
    return { ok: true, value: { released: leases.length } };
  }

  // ---- RPC: strikes --------------------------------------------------------------------------

  strike(input: StrikeInput): Promise<StrikeOutcome> {
    const enteredAt = Date.now();
    const admitted = this.admit(input);
    if (!("gate" in admitted)) return Promise.resolve(admitted);
    const { contract, gate } = admitted;
    // The request is answered when its strike is: its end-to-end time goes in with the strike's
    // own figures (a replayed answer never runs, so is never counted).
    const run = (i: StrikeInput) => this.runMetered(i, contract, {}, (outcome) => this.meterRequest(input, outcome, enteredAt));
    const key = input.idempotencyKey;
    const pending = key ? this.idempotency.run({ ...input, idempotencyKey: key }, run) : run(input);
    return pending.then(
      (outcome) => {
        gate.close(outcome);
        return gate.view ? { ...outcome, rateLimit: gate.view } : outcome;
      },
      (err: unknown) => {
        gate.close(undefined);
        throw err;
      },
    );
  }

  /**
   * The contract as this strike's key may see it, and the strike admitted under the covenant's
   * limits — or the answer that refuses it. Whatever the answer, the key's hold is settled.
   */
  private admit(input: StrikeInput): { contract: CovenantContract; gate: Gate } | StrikeOutcome {
    const found = this.contractFor(input.tenant, input.covenantId);
    const contract = found && narrowToModels(found, input.models);
    if (!contract) {
      this.limits.settleKey(input, { tokens: 0, usd: 0 });
      return found
        ? notOk(403, "model_not_allowed", `this key may use none of covenant ${input.covenantId}'s models (${found.models.join(", ")})`, "model")
        : notOk(404, "covenant_not_found", `no covenant ${input.covenantId}`, "covenant_id");
    }
    const gate = this.limits.open(contract.limits, input);
    return "close" in gate ? { contract, gate } : gate;
  }

  /** Compares held leases with what the upstream says this covenant holds; releases orphans. */
  async reconcile(): Promise<{ orphansReleased: number; leasesDropped: number } | null> {
    if (!this.owned) return { orphansReleased: 0, leasesDropped: 0 };
    const result = await this.leases.reconcile(this.owner());
    if (result) this.needsReconcile = false;
    else await this.wakeAt(Date.now() + RECONCILE_DELAY_MS);
    return result;
  }

  /**
   * A strike watched as it runs: NDJSON lines (StrikeEvent) of fusion progress, the placement,
   * tokens when `watch.tokens` (the inference then streams), then one `done` or `error`. Until the
   * first token the fallback chain works as for any strike; after it, a failure ends the stream
   * with an explicit error line. A reader that goes away stops the strike at its next step.
   */
  strikeStream(input: StrikeInput, watch: WatchOptions = { tokens: true }): ReadableStream<Uint8Array> {
    const enteredAt = Date.now();
    let firstTokenAt: number | undefined;
    const gone = new AbortController();
    const out = new NdjsonSource<StrikeEvent>(() => gone.abort(new Error("the client went away")));
    const line = (value: StrikeEvent) => out.line(value);
    const admitted = this.admit(input);
    const observers: Observers = {
      ...(watch.tokens
        ? {
            onToken: (text, model) => {
              firstTokenAt ??= Date.now();
              line({ event: "token", text, model });
            },
          }
        : {}),
      // A token stream starts with its first token, so that failures before it keep a real status code.
      ...(watch.tokens ? {} : { onPlaced: (p: Placed) => line({ event: "placed", model: p.model, pool_id: p.poolId, allocation_id: p.allocationId, lease_reused: p.leaseReused }) }),
      onProgress: (progress) => line({ event: "progress", progress }),
      signal: gone.signal,
    };
    // A limited covenant's rate limits come first, so the edge can put them on the response's headers.
    const view = "gate" in admitted ? admitted.gate.view : admitted.rateLimit;
    if (view) line({ event: "limits", rate_limit: view });
    void (async () => {
      let outcome: StrikeOutcome;
      if (!("gate" in admitted)) outcome = admitted;
      else {
        const { contract, gate } = admitted;
        const run = (i: StrikeInput) => this.runMetered(i, contract, observers);
        // A progress-only watcher (MCP) keeps the Idempotency-Key's guarantees; token streams carry none.
        const key = watch.tokens ? undefined : input.idempotencyKey;
        try {
          outcome = key ? await this.idempotency.run({ ...input, idempotencyKey: key }, run) : await run(input);
        } finally {
          // The strike is over (answered, failed, or its reader gone): its slot and tokens settle now.
          gate.close(outcome!);
        }
      }
      if (outcome.ok) line({ event: "done", strike_id: outcome.strikeId, strike: outcome.strike });
      else line({ event: "error", status: outcome.status, error: outcome.error });
      await out.end();
      // The last byte has gone to the edge: the request's end-to-end time ends here.
      this.meterRequest(input, outcome, enteredAt, firstTokenAt);
    })().catch((err) => out.error(err));
    return out.readable;
  }

  // ---- RPC: metrics -------------------------------------------------------------------------

  /** This object's counters, histograms and current gauges, for the edge to merge (src/telemetry). */
  metricsSnapshot(): Snapshot {
    return this.metrics.snapshot();
  }

  /**
   * Where a failed upstream call made for this covenant is counted: TracedCovenantObject puts it
   * in the context of every call that reaches an upstream. A call that names no pool is placed by
   * the lease holding its allocation (in memory, or its row until the release is booked).
   */
  protected readonly upstreamSink: UpstreamSink = (f: UpstreamFailure) => {
    const byAllocation = (id: string | undefined) =>
      id === undefined ? undefined : (this.leases.list().find((l) => l.allocationId === id) ?? this.store.leases().find((l) => l.allocationId === id))?.poolId;
    this.metrics.upstreamFailed({ operation: f.operation, kind: f.kind, pool: f.pool ?? byAllocation(f.allocationId) ?? "" });
  };

  /**
   * An answered request's end-to-end time, from the edge's receipt (its clock) to now, and never
   * less than this object's own part of it (clocks of two machines may disagree). Replays and
   * refusals are not requests that ran.
   */
  private meterRequest(input: StrikeInput, outcome: StrikeOutcome, enteredAt: number, firstTokenAt?: number): void {
    if (!outcome.ok || outcome.replayed) return;
    const now = Date.now();
    const start = Math.min(enteredAt, input.receivedAt ?? enteredAt);
    const ms = now - start;
    // A plain answer's first token arrives with the rest of it; a stream's per-token time is what followed its first.
    const tokens = outcome.strike.usage.completion_tokens;
    const latency = {
      e2eMs: ms,
      ttftMs: firstTokenAt === undefined ? ms : firstTokenAt - start,
      tpotMs: firstTokenAt === undefined || tokens < 2 ? null : (now - firstTokenAt) / (tokens - 1),
    };
    const qos = this.owned?.contract.qos;
    const slo = qos ? { tenant: input.tenant, covenant: input.covenantId, met: meetsSlo(latency, qos) } : undefined;
    this.metrics.requestFinished({ pool: outcome.strike.pool_id, model: outcome.strike.model, ms, ...(slo && { slo }) });
  }

  /**
   * Runs a strike and books what it leaves besides its ledger row (src/covenant/outcome-book.ts);
   * `answered`, when given, books the request's own figures in the same write.
   */
  private async runMetered(input: StrikeInput, contract: CovenantContract, observers: Observers = {}, answered?: (outcome: StrikeOutcome) => void): Promise<StrikeOutcome> {
    const ctx = { contract, policy: contract.policy, owner: this.owner() };
    // A fused strike is planned and run fragment by fragment (a plan of one is the plain strike).
    const outcome = input.fusion ? await this.fusion.run(input, ctx, observers) : await this.runner.run(input, ctx, observers);
    this.metrics.together(() => {
      bookOutcome(this.metrics, input, outcome, contract);
      answered?.(outcome);
    });
    return outcome;
  }

  // ---- alarm ---------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const contract = this.owned?.contract;
    if (this.needsReconcile && contract) {
      // An unreachable upstream must not stop housekeeping: try again shortly.
      await this.reconcile().catch(() => this.wakeAt(Date.now() + RECONCILE_DELAY_MS));
    }
    await this.leases.retryPendingReleases(Date.now());
    if (contract) {
      await this.maintain(contract);
    } else {
      // A deleted covenant still owes the releases that failed, and perhaps its metrics' hand-over
      // to the index: keep waking until both are done.
      const handedOver = await this.metrics.finishRetirement();
      const next = Math.min(...this.store.pendingReleases().map((p) => p.due_at), handedOver ? Infinity : Date.now() + RECONCILE_DELAY_MS);
      if (Number.isFinite(next)) await this.wakeAt(next);
    }
  }

  /** Drains leases near expiry, releases idle surplus, tops up the warm pool; then re-arms. */
  private async maintain(contract: CovenantContract): Promise<void> {
    this.leases.persistUse();
    this.idempotency.expire(Date.now());
    const plan = planMaintenance(this.leases.list(), this.leases.demand, contract, models, Date.now());
    for (const id of plan.drain) this.leases.drain(id);
    // Each release waits for the upstream, and meanwhile a strike may take a lease the plan found
    // idle: that one stays (the next run plans again), or the strike would lose it mid-inference.
    for (const id of plan.release) if (stillIdle(this.leases.get(id))) await this.leases.release(id);
    // The seed baseline allocates per strike: it keeps no warm pool.
    for (const { model, count } of contract.policy === "seed" ? [] : plan.allocate) {
      const spec = models.get(model)!;
      const pools = await this.leases.poolSnapshot().catch(() => []);
      // Warm leases go where strikes would go first, skipping targets whose breaker is not closed.
      const pool = candidatePools(contract, spec, pools).find((p) => this.breakers.get(p.id, Date.now()).phase === "closed");
      for (let i = 0; pool && i < count; i++) {
        try {
          const t0 = Date.now();
          await this.leases.allocate(pool.id, contract, spec, allocatePreemptible(contract, spec, pool), this.owner(), "warm");
          this.metrics.warmAllocated({ pool: pool.id, allocateMs: Date.now() - t0 });
        } catch {
          break; // No room upstream right now: strikes will allocate on demand.
        }
      }
    }
    const pending = this.store.pendingReleases().map((p) => p.due_at);
    // Old ledger rows roll up into hourly aggregates here, in the alarm, never on a strike's path.
    const rollUpAt = this.store.rollUp(Date.now(), this.retention) ?? Infinity;
    // Hosted.AI's own metrics of the leases still held, each at most every interval, bounded.
    const sampleAt = (await this.sampler.sample(this.leases.list(), Date.now())) ?? Infinity;
    const next = Math.min(plan.nextAt ?? Infinity, ...pending, rollUpAt, sampleAt);
    if (Number.isFinite(next)) await this.wakeAt(next);
  }

  private async reconcileSoon(): Promise<void> {
    this.needsReconcile = true;
    await this.wakeAt(Date.now() + RECONCILE_DELAY_MS);
  }

  private async afterStrike(leaseUsed: boolean): Promise<void> {
    const contract = this.owned?.contract;
    // Every ledger row is due to roll up one day: an object with no alarm at all arms one for it.
    if (contract && this.alarmAt === null) await this.wakeAt(Date.now() + this.retention.rawMs + HOUR_MS);
    if (!contract || !leaseUsed) return;
    // The soonest any lease can go back (a strike's lease ended a use just now), as the simulator
    // wakes; a lease the upstream's metrics were never read for (a new one) is read by the next alarm.
    const now = Date.now();
    const live = this.leases.list();
    await this.wakeAt(Math.max(now, Math.min(wakeAfterStrike(live, contract, now), this.sampler.dueAt(live) ?? Infinity)));
  }

  /**
   * Which models the local node serves, asked at most every 30 s. An unreachable node throws: that
   * is the node failing (its breaker should hear of it), not the node lacking the model.
   */
  private async localServes(model: string): Promise<boolean> {
    if (!this.local) return false;
    const now = Date.now();
    if (!this.localModels || now - this.localModels.at > 30_000) {
      this.localModels = { models: new Set(await this.local.models()), at: now };
    }
    return this.localModels.models.has(model);
  }

  /** One alarm per object, moved earlier when something is due sooner; never a storage write on the hot path otherwise. */
  private async wakeAt(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** The contract, creating the tenant's default covenant on first use. */
  private contractFor(tenant: string, covenantId: string): CovenantContract | undefined {
    if (this.owned) return this.owned.contract;
    if (covenantId !== DEFAULT_COVENANT_ID) return undefined;
    const contract = defaultContract(covenantId, models, new Date().toISOString());
    this.owned = { tenant, contract };
    this.store.saveContract(tenant, contract);
    return contract;
  }

  private owner(): AllocationOwner {
    const { tenant, contract } = this.owned!;
    return { tenant, covenantId: contract.id, objectName: `${tenant}:${contract.id}` };
  }
}

function notOk(status: 400 | 403 | 404 | 409, type: string, message: string, param?: string) {
  return { ok: false as const, status, error: { type, message, ...(param ? { param } : {}) } };
}
