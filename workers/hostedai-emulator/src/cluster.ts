// The whole emulated cluster in one Durable Object. Each call decides synchronously over SQLite
// (only alarm bookkeeping awaits), so calls never interleave mid-decision; simulated delays are
// slept by the Worker, never here, so one slow inference cannot hold up the cluster.
import { DurableObject } from "cloudflare:workers";
import { admitAllocation, admitInference, extendBusy, retryAfterFromExpiry } from "./admission";
import { costUsd } from "./billing";
import { poolCatalogue } from "./catalogue";
import { type Env, seed } from "./config";
import { type Outcome, allocationNotFound, fail, ok } from "./errors";
import { FaultDesk, faultsFromEnv, parseFaultConfig } from "./fault-desk";
import type { FaultConfig, GateDecision, RequestFacts } from "./faults";
import { createAllocation, endNow, evictFor, expireDue, preemptAll } from "./lifecycle";
import { provisioningDelayMs } from "./provisioning";
import { randomHex } from "./random";
import type { AllocationRequest, AllocationStatus, ConfigUpdate, PreemptRequest } from "./schemas";
import { RuntimeSettings } from "./settings";
import { type AllocationRow, ClusterStore } from "./store";
import { planInference } from "./throughput";
import {
  type AdminView, type AllocationView, type ConfigView, type InferenceBill, type InferenceReceipt, type InferenceRecordView, type MetricsView,
  type PoolView, type ReleaseView, adminAllocationView, allocationView, metricsView, poolView, roundTo,
} from "./views";

/** What the Worker has already worked out about an inference before asking the cluster. */
export interface InferenceWork {
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** A streamed answer: only these can meet an injected stream cut. */
  stream?: boolean;
  /**
   * A structured answer (tool calls or JSON), which the malformed_output fault can spoil: the
   * completion tokens of each malformed form (violates_schema null when there is none).
   */
  malformed?: { violates_schema: number | null; unparsable: number };
}

/** An in-flight record whose Worker never reported back is closed this long after its end. */
const ABANDONED_INFERENCE_GRACE_MS = 60_000;

export class HostedAiCluster extends DurableObject<Env> {
  private readonly store: ClusterStore;
  private readonly faults: FaultDesk;
  private readonly settings: RuntimeSettings;
  /** The alarm as last set by this instance; undefined until known. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ClusterStore(ctx.storage.sql);
    this.faults = new FaultDesk(this.store, seed(env));
    this.settings = new RuntimeSettings(this.store, env);
    if (this.store.number("initialized") === undefined) this.initialise();
  }

  // ---- API ----

  /**
   * Asked by the Worker before every /api/v1 request does anything: which injected fault, if
   * any, this request meets. Endpoints about an allocation are matched by the allocation's pool.
   */
  async gate(facts: RequestFacts & { allocationId?: string }): Promise<GateDecision> {
    const { allocationId, ...rest } = facts;
    const poolId = allocationId === undefined ? rest.poolId : this.store.allocation(allocationId)?.pool_id;
    return this.faults.gate({ ...rest, poolId }).decision;
  }

  async listPools(): Promise<PoolView[]> {
    await this.advance();
    const usage = this.store.usageByPool();
    return this.store.pools().map((p) => poolView(p, usage.get(p.id), this.faults.isPoolDown(p.id)));
  }

  async allocate(owner: string, request: AllocationRequest): Promise<Outcome<{ allocation: AllocationView; provisioningMs: number }>> {
    const now = await this.advance();
    const stored = this.store.pool(request.pool_id);
    const injectedDown = stored !== undefined && this.faults.isPoolDown(stored.id);
    const pool = stored && injectedDown ? { ...stored, status: "down" as const } : stored;
    const admit = () =>
      admitAllocation(pool, pool ? this.store.gpuCapacities(pool.id) : [], request, () => this.retryAfterSeconds(request.pool_id, now.real));
    let admitted = admit();
    const evict = pool && !request.preemptible && this.faults.config.preempt_under_pressure;
    if (!admitted.ok && admitted.error.type === "capacity_exhausted" && evict && evictFor(this.store, pool.id, request, now.emulated)) {
      admitted = admit();
    }
    if (!admitted.ok) {
      if (admitted.error.type === "pool_unavailable" && injectedDown) this.faults.count("pools_down");
      return admitted;
    }
    const slice = admitted.value;
    const row = createAllocation(this.store, owner, slice, request, now.emulated);
    await this.scheduleAlarm();
    return ok({
      allocation: allocationView(row),
      provisioningMs: provisioningDelayMs(slice.tier, seed(this.env), row.sequence, this.settings.latencyScale, request.preemptible),
    });
  }

  async listAllocations(owner: string, status?: AllocationStatus): Promise<AllocationView[]> {
    await this.advance();
    return this.store.allocations(status === undefined ? { owner } : { owner, status }).map(allocationView);
  }

  async getAllocation(owner: string, id: string): Promise<Outcome<AllocationView>> {
    await this.advance();
    const row = this.owned(owner, id);
    return row ? ok(allocationView(row)) : fail(allocationNotFound(id));
  }

  async beginInference(owner: string, id: string, work: InferenceWork): Promise<Outcome<InferenceReceipt>> {
    const now = await this.advance();
    const row = this.owned(owner, id);
    if (!row) return fail(allocationNotFound(id));
    const admitted = admitInference(row, work.model, this.faults.isPoolDown(row.pool_id));
    if (!admitted.ok) {
      if (admitted.error.type === "pool_unavailable") this.faults.count("pools_down");
      return admitted;
    }
    const model = admitted.value;
    const malformed = work.malformed ? this.faults.takeMalformed(work.malformed.violates_schema !== null) : null;
    const completionTokens =
      malformed === "violates_schema" ? work.malformed!.violates_schema! : malformed === "unparsable" ? work.malformed!.unparsable : work.completionTokens;
    const timing = planInference({
      model,
      sliceTflops: row.tflops,
      promptTokens: work.promptTokens,
      completionTokens,
      concurrent: this.store.runningOn(id, now.real) + 1,
      latencyScale: this.settings.latencyScale,
    });
    const latencyMs = timing.totalMs;
    const emulatedMs = latencyMs * this.settings.timeScale;
    const busy = extendBusy(row, now.emulated, now.emulated + emulatedMs);
    this.store.recordInferenceStart(id, model.vram_mb, busy.busyMs, busy.busyUntil);
    const inferenceId = `inf_${randomHex(8)}`;
    this.store.insertInflight({ id: inferenceId, allocation_id: id, latency_ms: latencyMs, ends_at_real: now.real + latencyMs });
    return ok({
      inference_id: inferenceId,
      latency_ms: roundTo(latencyMs, 3),
      cost_usd: costUsd(emulatedMs / 1000, row.price_per_hour),
      preemptible: row.preemptible === 1,
      schedule: {
        timeToFirstTokenMs: timing.timeToFirstTokenMs,
        interTokenMs: timing.interTokenMs,
        completionTokens: timing.completionTokens,
      },
      stream_cut_after_tokens: work.stream
        ? this.faults.streamCut({ poolId: row.pool_id, metadata: JSON.parse(row.metadata) as Record<string, string> })
        : null,
      price_per_hour: row.price_per_hour,
      time_scale: this.settings.timeScale,
      malformed_output: malformed,
    });
  }

  /**
   * The Worker has answered the caller (or its stream ended): the inference leaves the in-flight
   * set and is counted. `preempted` is true when the allocation was taken away first, in which
   * case nothing is counted and the caller must get 409 instead of the result.
   */
  async finishInference(
    inferenceId: string,
    allocationId: string,
    how: { streamCut?: boolean; bill?: InferenceBill } = {},
  ): Promise<{ preempted: boolean }> {
    if (how.streamCut) this.faults.count("stream_cut");
    const done = this.store.takeInflight(inferenceId);
    if (done) this.countInference(done.allocation_id, done.latency_ms);
    // Preemption drops the allocation's in-flight records, so a missing one means it was preempted.
    const preempted = !done && (await this.isPreempted(allocationId));
    const allocation = how.bill ? this.store.allocation(allocationId) : undefined;
    if (allocation && how.bill) {
      // Taken away before it could answer: a JSON answer delivered nothing, a stream what it had sent.
      const lost = preempted && how.bill.outcome === "done";
      const bill = lost && !how.bill.stream ? { ...how.bill, completion_tokens: 0, cost_usd: 0, text: "" } : how.bill;
      this.store.logInference(inferenceId, allocation, lost ? { ...bill, outcome: "preempted" } : bill, Date.now());
    }
    return { preempted };
  }

  /** Polled by a Worker sleeping through an inference on a preemptible allocation. */
  async isPreempted(allocationId: string): Promise<boolean> {
    return this.store.allocation(allocationId)?.status === "preempted";
  }

  async metrics(owner: string, id: string): Promise<Outcome<MetricsView>> {
    const now = await this.advance();
    const row = this.owned(owner, id);
    return row ? ok(metricsView(row, now.emulated)) : fail(allocationNotFound(id));
  }

  async release(owner: string, id: string): Promise<Outcome<ReleaseView>> {
    const now = await this.advance();
    const row = this.owned(owner, id);
    if (!row) return fail(allocationNotFound(id));
    if (row.status === "active") {
      endNow(this.store, row, "released", now.emulated);
      await this.scheduleAlarm();
    }
    const final = this.store.allocation(id) ?? row;
    return ok({
      allocation_id: id,
      status: final.status,
      billed_seconds: final.billed_seconds ?? 0,
      cost_usd: final.cost_usd ?? 0,
    });
  }

  async recordTokenIssued(): Promise<void> {
    this.store.increment("tokens_issued");
  }

  // ---- admin ----

  /** The record: live allocations by default; with `status`, every allocation in that state, with its bill once ended. */
  async adminView(status: AllocationStatus = "active"): Promise<AdminView> {
    const now = await this.advance();
    return {
      allocations: this.store.allocations({ status }).map((row) => adminAllocationView(row, this.store.runningOn(row.id, now.real))),
      created_total: this.store.number("created_total") ?? 0,
      released_total: this.store.number("released_total") ?? 0,
      expired_total: this.store.number("expired_total") ?? 0,
      tokens_issued: this.store.number("tokens_issued") ?? 0,
      inference_total: this.store.number("inference_total") ?? 0,
      preempted_total: this.store.number("preempted_total") ?? 0,
      faults_injected_total: this.faults.counts(),
    };
  }

  /** What each recent inference delivered and was billed, oldest first. */
  async inferenceLog(): Promise<InferenceRecordView[]> {
    return this.store.inferenceLog();
  }

    async getFaults(): Promise<FaultConfig> {
    return this.faults.config;
  }

  /** Replaces the whole fault configuration; `input` is validated here, where the pools are known. */
  async setFaults(input: unknown): Promise<Outcome<FaultConfig>> {
    const parsed = parseFaultConfig(input, this.poolIds());
    return parsed.ok ? ok(this.faults.replace(parsed.value)) : parsed;
  }

  async expireTokens(): Promise<{ token_generation: number }> {
    return { token_generation: this.faults.expireTokens() };
  }

  /** Preempts up to `count` preemptible allocations of the pool now, oldest first. */
  async preempt(request: PreemptRequest): Promise<Outcome<{ pool_id: string; preempted: string[] }>> {
    const now = await this.advance();
    if (!this.store.pool(request.pool_id)) {
      return fail({ status: 404, type: "pool_not_found", message: `No pool ${request.pool_id} exists.`, param: "pool_id" });
    }
    const victims = this.store.activePreemptible(request.pool_id).slice(0, request.count);
    const preempted = preemptAll(this.store, victims, now.emulated);
    await this.scheduleAlarm();
    return ok({ pool_id: request.pool_id, preempted });
  }

  async getConfig(): Promise<ConfigView> {
    await this.advance();
    return this.settings.view(Date.now(), seed(this.env));
  }

  async updateConfig(update: ConfigUpdate): Promise<ConfigView> {
    const now = await this.advance();
    if (this.settings.update(update, now.real)) await this.scheduleAlarm();
    return this.settings.view(now.real, seed(this.env));
  }

  /** Everything back to a fresh start, except that tokens invalidated by expire-tokens stay invalid. */
  async reset(): Promise<ConfigView> {
    const generation = this.faults.tokenGeneration;
    this.store.clear();
    this.faults.restoreTokenGeneration(generation);
    this.initialise();
    await this.scheduleAlarm();
    return this.settings.view(Date.now(), seed(this.env));
  }

  /** Sweeps expiries that came due; the alarm is always set to the earliest remaining one. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.advance();
    await this.scheduleAlarm();
  }

  // ---- internals ----

  private initialise(): void {
    this.store.replacePools(poolCatalogue(this.env.POOLS_JSON));
    this.faults.replace(faultsFromEnv(this.env.FAULTS_JSON, this.poolIds()));
    this.settings.restoreFromEnv(Date.now());
    this.store.setNumber("initialized", 1);
  }

  /**
   * Reads the clocks and applies everything that became due: expiries (capacity is freed before
   * anything else looks at it) and in-flight records whose Worker went away.
   */
  private async advance(): Promise<{ real: number; emulated: number }> {
    const real = Date.now();
    const emulated = this.settings.emulatedAt(real);
    if (expireDue(this.store, emulated) > 0) await this.scheduleAlarm();
    for (const abandoned of this.store.inflightEndedBefore(real - ABANDONED_INFERENCE_GRACE_MS)) {
      this.store.takeInflight(abandoned.id);
      this.countInference(abandoned.allocation_id, abandoned.latency_ms);
    }
    return { real, emulated };
  }

  private countInference(allocationId: string, latencyMs: number): void {
    this.store.recordInferenceDone(allocationId, latencyMs);
    this.store.increment("inference_total");
  }

  private async scheduleAlarm(): Promise<void> {
    const earliest = this.store.earliestActiveExpiry();
    // One ms past the due instant, so float rounding can never wake the sweep just before it.
    const wanted = earliest === undefined ? null : Math.ceil(this.settings.realAt(earliest)) + 1;
    if (wanted === this.alarmAt) return;
    if (wanted === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wanted);
    this.alarmAt = wanted;
  }

  private retryAfterSeconds(poolId: string, realNow: number): number {
    const next = this.store.earliestActiveExpiry(poolId);
    return retryAfterFromExpiry(next === undefined ? undefined : (this.settings.realAt(next) - realNow) / 1000);
  }

  private poolIds(): Set<string> {
    return new Set(this.store.pools().map((p) => p.id));
  }

  private owned(owner: string, id: string): AllocationRow | undefined {
    const row = this.store.allocation(id);
    return row && row.owner === owner ? row : undefined;
  }
}
