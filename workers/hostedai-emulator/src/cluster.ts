// The whole emulated cluster in one Durable Object. Each call decides synchronously over SQLite
// (only alarm bookkeeping awaits), so calls never interleave mid-decision; simulated delays are
// slept by the Worker, never here, so one slow inference cannot hold up the cluster.
import { DurableObject } from "cloudflare:workers";
import { admitAllocation, admitInference, extendBusy, retryAfterFromExpiry } from "./admission";
import { billedSeconds, costUsd } from "./billing";
import { poolCatalogue } from "./catalogue";
import { type ClockAnchor, emulatedAt, realAt, rescaleClock, startClock } from "./clock";
import { type Env, type RuntimeConfig, runtimeConfigFromEnv, seed } from "./config";
import { type Outcome, allocationNotFound, fail, ok } from "./errors";
import { provisioningDelayMs } from "./provisioning";
import type { AllocationRequest, AllocationStatus, ConfigUpdate } from "./schemas";
import { type AllocationRow, ClusterStore } from "./store";
import { planInference } from "./throughput";
import {
  type AdminView, type AllocationView, type ConfigView, type InferenceReceipt, type MetricsView,
  type PoolView, type ReleaseView, allocationView, metricsView, poolView, roundTo,
} from "./views";

/** What the Worker has already worked out about an inference before asking the cluster. */
export interface InferenceWork {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/** An in-flight record whose Worker never reported back is closed this long after its end. */
const ABANDONED_INFERENCE_GRACE_MS = 60_000;

export class HostedAiCluster extends DurableObject<Env> {
  private readonly store: ClusterStore;
  private config!: RuntimeConfig;
  private clock!: ClockAnchor;
  /** The alarm as last set by this instance; undefined until known. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ClusterStore(ctx.storage.sql);
    if (this.store.number("initialized") === undefined) this.initialise();
    else this.loadSettings();
  }

  // ---- API ----

  async listPools(): Promise<PoolView[]> {
    await this.advance();
    const usage = this.store.usageByPool();
    return this.store.pools().map((p) => poolView(p, usage.get(p.id)));
  }

  async allocate(owner: string, request: AllocationRequest): Promise<Outcome<{ allocation: AllocationView; provisioningMs: number }>> {
    const now = await this.advance();
    const pool = this.store.pool(request.pool_id);
    const admitted = admitAllocation(pool, pool ? this.store.gpuCapacities(pool.id) : [], request, () =>
      this.retryAfterSeconds(request.pool_id, now.real),
    );
    if (!admitted.ok) return admitted;
    const slice = admitted.value;
    const sequence = this.store.increment("created_total");
    const id = `alloc_${randomHex(12)}`;
    this.store.insertAllocation({
      id,
      sequence,
      owner,
      pool_id: slice.poolId,
      gpu_id: slice.gpuId,
      vram_mb: slice.vram_mb,
      tflops: slice.tflops,
      preemptible: request.preemptible ? 1 : 0,
      duration_seconds: request.duration_seconds,
      created_at: now.emulated,
      expires_at: now.emulated + request.duration_seconds * 1000,
      price_per_hour: slice.pricePerHour,
      metadata: JSON.stringify(request.metadata ?? {}),
    });
    await this.scheduleAlarm();
    const row = this.store.allocation(id);
    if (!row) throw new Error(`allocation ${id} vanished after insert`);
    return ok({
      allocation: allocationView(row),
      provisioningMs: provisioningDelayMs(slice.tier, seed(this.env), sequence, this.config.latency_scale),
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
    const admitted = admitInference(row, work.model);
    if (!admitted.ok) return admitted;
    const model = admitted.value;
    const timing = planInference({
      model,
      sliceTflops: row.tflops,
      promptTokens: work.promptTokens,
      completionTokens: work.completionTokens,
      concurrent: this.store.runningOn(id, now.real) + 1,
      latencyScale: this.config.latency_scale,
    });
    const latencyMs = timing.totalMs;
    const emulatedMs = latencyMs * this.config.time_scale;
    const busy = extendBusy(row, now.emulated, now.emulated + emulatedMs);
    this.store.recordInferenceStart(id, model.vram_mb, busy.busyMs, busy.busyUntil);
    const inferenceId = `inf_${randomHex(8)}`;
    this.store.insertInflight({ id: inferenceId, allocation_id: id, latency_ms: latencyMs, ends_at_real: now.real + latencyMs });
    return ok({
      inference_id: inferenceId,
      latency_ms: roundTo(latencyMs, 3),
      cost_usd: costUsd(emulatedMs / 1000, row.price_per_hour),
    });
  }

  /** The Worker has answered the caller: the inference leaves the in-flight set and is counted. */
  async finishInference(inferenceId: string): Promise<void> {
    const done = this.store.takeInflight(inferenceId);
    if (done) this.countInference(done.allocation_id, done.latency_ms);
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
      const seconds = billedSeconds(now.emulated - row.created_at, row.duration_seconds);
      this.store.endAllocation(id, "released", now.emulated, seconds, costUsd(seconds, row.price_per_hour));
      this.store.increment("released_total");
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

  async adminView(): Promise<AdminView> {
    await this.advance();
    return {
      allocations: this.store.allocations({ status: "active" }).map((row) => ({ ...allocationView(row), owner: row.owner })),
      created_total: this.store.number("created_total") ?? 0,
      released_total: this.store.number("released_total") ?? 0,
      expired_total: this.store.number("expired_total") ?? 0,
      tokens_issued: this.store.number("tokens_issued") ?? 0,
      inference_total: this.store.number("inference_total") ?? 0,
    };
  }

  async getConfig(): Promise<ConfigView> {
    await this.advance();
    return this.configView(Date.now());
  }

  async updateConfig(update: ConfigUpdate): Promise<ConfigView> {
    const now = await this.advance();
    if (update.latency_scale !== undefined) {
      this.config.latency_scale = update.latency_scale;
      this.store.setNumber("latency_scale", update.latency_scale);
    }
    if (update.time_scale !== undefined && update.time_scale !== this.clock.timeScale) {
      this.setClock(rescaleClock(this.clock, now.real, update.time_scale));
      this.config.time_scale = update.time_scale;
      await this.scheduleAlarm();
    }
    return this.configView(now.real);
  }

  async reset(): Promise<ConfigView> {
    this.store.clear();
    this.initialise();
    await this.scheduleAlarm();
    return this.configView(Date.now());
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
    this.config = runtimeConfigFromEnv(this.env);
    this.store.setNumber("latency_scale", this.config.latency_scale);
    this.setClock(startClock(Date.now(), this.config.time_scale));
    this.store.setNumber("initialized", 1);
  }

  private loadSettings(): void {
    const fromEnv = runtimeConfigFromEnv(this.env);
    const realMs = this.store.number("clock_real_ms") ?? Date.now();
    this.clock = {
      realMs,
      emulatedMs: this.store.number("clock_emulated_ms") ?? realMs,
      timeScale: this.store.number("time_scale") ?? fromEnv.time_scale,
    };
    this.config = {
      latency_scale: this.store.number("latency_scale") ?? fromEnv.latency_scale,
      time_scale: this.clock.timeScale,
    };
  }

  private setClock(clock: ClockAnchor): void {
    this.clock = clock;
    this.store.setNumber("clock_real_ms", clock.realMs);
    this.store.setNumber("clock_emulated_ms", clock.emulatedMs);
    this.store.setNumber("time_scale", clock.timeScale);
  }

  /**
   * Reads the clocks and applies everything that became due: expiries (capacity is freed before
   * anything else looks at it) and in-flight records whose Worker went away.
   */
  private async advance(): Promise<{ real: number; emulated: number }> {
    const real = Date.now();
    const emulated = emulatedAt(this.clock, real);
    const due = this.store.activeDueBy(emulated);
    for (const row of due) {
      this.store.endAllocation(row.id, "expired", row.expires_at, row.duration_seconds, costUsd(row.duration_seconds, row.price_per_hour));
    }
    if (due.length > 0) {
      this.store.increment("expired_total", due.length);
      await this.scheduleAlarm();
    }
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
    const wanted = earliest === undefined ? null : Math.ceil(realAt(this.clock, earliest)) + 1;
    if (wanted === this.alarmAt) return;
    if (wanted === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wanted);
    this.alarmAt = wanted;
  }

  private retryAfterSeconds(poolId: string, realNow: number): number {
    const next = this.store.earliestActiveExpiry(poolId);
    return retryAfterFromExpiry(next === undefined ? undefined : (realAt(this.clock, next) - realNow) / 1000);
  }

  private owned(owner: string, id: string): AllocationRow | undefined {
    const row = this.store.allocation(id);
    return row && row.owner === owner ? row : undefined;
  }

  private configView(realNow: number): ConfigView {
    return {
      latency_scale: this.config.latency_scale,
      time_scale: this.config.time_scale,
      seed: seed(this.env),
      emulated_now: new Date(emulatedAt(this.clock, realNow)).toISOString(),
    };
  }
}

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}
