/**
 * The Hosted.AI emulator's cluster, run in virtual time: the same pool catalogue, slice placement,
 * admission, throughput, provisioning and billing modules the emulator's Durable Object uses,
 * with its SQLite tables replaced by in-memory rows. Time is the caller's clock (real ms of the
 * run); like the emulator, expiry and billing run on emulated time = real × time scale.
 */
import { admitAllocation, admitInference, extendBusy, retryAfterFromExpiry } from "../../workers/hostedai-emulator/src/admission";
import { billedSeconds, costUsd } from "../../workers/hostedai-emulator/src/billing";
import { DEFAULT_POOLS, type PoolSpec } from "../../workers/hostedai-emulator/src/catalogue";
import { allocationNotFound, fail, ok, type Outcome } from "../../workers/hostedai-emulator/src/errors";
import type { GpuCapacity } from "../../workers/hostedai-emulator/src/placement";
import { provisioningDelayMs } from "../../workers/hostedai-emulator/src/provisioning";
import type { AllocationRequest } from "../../workers/hostedai-emulator/src/schemas";
import type { AllocationRow, PoolRow } from "../../workers/hostedai-emulator/src/store";
import { planInference } from "../../workers/hostedai-emulator/src/throughput";
import { poolView, type PoolView } from "../../workers/hostedai-emulator/src/views";

export interface ClusterOptions {
  pools?: readonly PoolSpec[];
  /** The emulator's SEED: provisioning jitter is a function of it and the allocation's sequence. */
  seed: string;
  /** Emulated ms per real ms (the emulator's TIME_SCALE). */
  timeScale: number;
  /** Multiplies simulated delays (the emulator's LATENCY_SCALE). */
  latencyScale: number;
}

interface Gpu {
  id: string;
  vram_mb: number;
  tflops: number;
  used_vram_mb: number;
  used_tflops: number;
}

interface Inflight {
  allocationId: string;
  endsAtReal: number;
}

export class SimCluster {
  private readonly pools: PoolRow[];
  private readonly gpus = new Map<string, Gpu[]>();
  private readonly gpuById = new Map<string, Gpu>();
  readonly rows: AllocationRow[] = [];
  private readonly active = new Map<string, AllocationRow>();
  private readonly inflight = new Map<string, Inflight>();
  private inferenceSeq = 0;
  counters = { created_total: 0, released_total: 0, expired_total: 0, inference_total: 0 };

  constructor(private readonly opts: ClusterOptions) {
    this.pools = (opts.pools ?? DEFAULT_POOLS).map((p) => ({ ...p }));
    for (const p of this.pools) {
      const list = Array.from({ length: p.gpu_count }, (_, i) => ({
        id: `${p.id}-gpu-${i}`,
        vram_mb: p.vram_mb_per_gpu,
        tflops: p.tflops_per_gpu,
        used_vram_mb: 0,
        used_tflops: 0,
      }));
      this.gpus.set(p.id, list);
      for (const g of list) this.gpuById.set(g.id, g);
    }
  }

  emulatedAt(realMs: number): number {
    return realMs * this.opts.timeScale;
  }

  /** `GET /pools`. */
  listPools(real: number): PoolView[] {
    this.advance(real);
    const usage = new Map<string, { vram_mb: number; tflops: number }>();
    for (const a of this.active.values()) {
      const u = usage.get(a.pool_id) ?? { vram_mb: 0, tflops: 0 };
      u.vram_mb += a.vram_mb;
      u.tflops += a.tflops;
      usage.set(a.pool_id, u);
    }
    return this.pools.map((p) => poolView(p, usage.get(p.id)));
  }

  /** `POST /allocations`: the row, and how long the response takes (provisioning). */
  allocate(owner: string, request: AllocationRequest, real: number): Outcome<{ row: AllocationRow; provisioningMs: number }> {
    const emulated = this.advance(real);
    const pool = this.pools.find((p) => p.id === request.pool_id);
    const admitted = admitAllocation(pool, pool ? this.capacities(pool.id) : [], request, () => this.retryAfterSeconds(request.pool_id, real));
    if (!admitted.ok) return admitted;
    const slice = admitted.value;
    const sequence = ++this.counters.created_total;
    const row: AllocationRow = {
      id: `alloc_${String(sequence).padStart(6, "0")}`,
      sequence,
      owner,
      pool_id: slice.poolId,
      gpu_id: slice.gpuId,
      status: "active",
      vram_mb: slice.vram_mb,
      tflops: slice.tflops,
      preemptible: request.preemptible ? 1 : 0,
      duration_seconds: request.duration_seconds,
      created_at: emulated,
      expires_at: emulated + request.duration_seconds * 1000,
      ended_at: null,
      price_per_hour: slice.pricePerHour,
      metadata: JSON.stringify(request.metadata ?? {}),
      billed_seconds: null,
      cost_usd: null,
      inference_count: 0,
      latency_ms_total: 0,
      busy_ms: 0,
      busy_until: 0,
      memory_used_mb: 0,
    };
    this.rows.push(row);
    this.active.set(row.id, row);
    const gpu = this.gpuById.get(row.gpu_id)!;
    gpu.used_vram_mb += row.vram_mb;
    gpu.used_tflops += row.tflops;
    return ok({ row, provisioningMs: provisioningDelayMs(slice.tier, this.opts.seed, sequence, this.opts.latencyScale, request.preemptible) });
  }

  /** `POST /inference/{id}`, first half: the latency the Worker will sleep before answering. */
  beginInference(id: string, model: string, promptTokens: number, completionTokens: number, real: number): Outcome<{ inferenceId: string; latencyMs: number; ttftMs: number; tpotMs: number }> {
    const emulated = this.advance(real);
    const row = this.rows[this.indexOf(id)];
    if (!row) return fail(allocationNotFound(id));
    const admitted = admitInference(row, model);
    if (!admitted.ok) return admitted;
    const timing = planInference({
      model: admitted.value,
      sliceTflops: row.tflops,
      promptTokens,
      completionTokens,
      concurrent: this.runningOn(id, real) + 1,
      latencyScale: this.opts.latencyScale,
    });
    const busy = extendBusy(row, emulated, emulated + timing.totalMs * this.opts.timeScale);
    row.memory_used_mb = Math.max(row.memory_used_mb, admitted.value.vram_mb);
    row.busy_ms = busy.busyMs;
    row.busy_until = busy.busyUntil;
    const inferenceId = `inf_${++this.inferenceSeq}`;
    this.inflight.set(inferenceId, { allocationId: id, endsAtReal: real + timing.totalMs });
    return ok({ inferenceId, latencyMs: timing.totalMs, ttftMs: timing.timeToFirstTokenMs, tpotMs: timing.interTokenMs });
  }

  /** Second half: the Worker answered, the inference is counted. */
  finishInference(inferenceId: string, latencyMs: number): void {
    const done = this.inflight.get(inferenceId);
    if (!done) return;
    this.inflight.delete(inferenceId);
    const row = this.rows[this.indexOf(done.allocationId)];
    if (row) {
      row.inference_count++;
      row.latency_ms_total += latencyMs;
    }
    this.counters.inference_total++;
  }

  /** `DELETE /allocations/{id}`. */
  release(id: string, real: number): Outcome<{ billed_seconds: number; cost_usd: number }> {
    const emulated = this.advance(real);
    const row = this.rows[this.indexOf(id)];
    if (!row) return fail(allocationNotFound(id));
    if (row.status === "active") {
      const seconds = billedSeconds(emulated - row.created_at, row.duration_seconds);
      this.end(row, "released", emulated, seconds);
      this.counters.released_total++;
    }
    return ok({ billed_seconds: row.billed_seconds ?? 0, cost_usd: row.cost_usd ?? 0 });
  }

  activeAllocations(real: number): AllocationRow[] {
    this.advance(real);
    return [...this.active.values()];
  }

  /** Expiries that came due, applied before anything looks at capacity (as the emulator does). */
  advance(real: number): number {
    const emulated = this.emulatedAt(real);
    for (const row of this.active.values()) {
      if (row.expires_at <= emulated) {
        this.end(row, "expired", row.expires_at, row.duration_seconds);
        this.counters.expired_total++;
      }
    }
    return emulated;
  }

  private end(row: AllocationRow, status: "released" | "expired", endedAt: number, seconds: number): void {
    row.status = status;
    row.ended_at = endedAt;
    row.billed_seconds = seconds;
    row.cost_usd = costUsd(seconds, row.price_per_hour);
    this.active.delete(row.id);
    const gpu = this.gpuById.get(row.gpu_id)!;
    gpu.used_vram_mb -= row.vram_mb;
    gpu.used_tflops -= row.tflops;
  }

  private capacities(poolId: string): GpuCapacity[] {
    return (this.gpus.get(poolId) ?? []).map((g) => ({
      id: g.id,
      vram_mb: g.vram_mb,
      tflops: g.tflops,
      free_vram_mb: g.vram_mb - g.used_vram_mb,
      free_tflops: g.tflops - g.used_tflops,
    }));
  }

  private runningOn(id: string, real: number): number {
    let n = 0;
    for (const f of this.inflight.values()) if (f.allocationId === id && f.endsAtReal > real) n++;
    return n;
  }

  private retryAfterSeconds(poolId: string, real: number): number {
    let earliest: number | undefined;
    for (const a of this.active.values()) if (a.pool_id === poolId && (earliest === undefined || a.expires_at < earliest)) earliest = a.expires_at;
    return retryAfterFromExpiry(earliest === undefined ? undefined : (earliest / this.opts.timeScale - real) / 1000);
  }

  /** Ids are `alloc_<sequence>`, so a row is found without a second index. */
  private indexOf(id: string): number {
    const n = Number(id.slice("alloc_".length));
    return Number.isInteger(n) && n >= 1 && this.rows[n - 1]?.id === id ? n - 1 : -1;
  }
}
