/**
 * Hosted.AI's own account of a covenant's live leases: the object's alarm reads
 * `GET /api/v1/allocations/{id}/metrics` for each live lease at most every
 * UPSTREAM_SAMPLE_INTERVAL_MS (src/policy/upstream-sampling.ts decides which, a bounded number
 * per pass), keeps the latest reading of each in memory, and hands them to the metrics as gauges
 * (the upstream's GPU utilisation and memory, beside our own busy ÷ held). Never on a strike's
 * path: only the alarm calls `sample`. A read that fails is counted like any failed upstream call
 * (operation `metrics`) and tried again an interval later; an allocation the upstream no longer
 * has asks the object to reconcile.
 */
import { mapLimit } from "../concurrency";
import { planUpstreamSamples, UPSTREAM_SAMPLE_INTERVAL_MS, UPSTREAM_SAMPLES_PER_PASS, upstreamSampleDueAt } from "../policy";
import { isAllocationGone, type HostedAiClient } from "../providers/hostedai";
import type { GpuReading } from "../telemetry/book";

/** Reads in flight at once within a pass. */
const CONCURRENCY = 4;
/** A reading older than this many intervals (its lease's reads keep failing) is no longer exported. */
const STALE_INTERVALS = 4;

/** What the sampler needs of a lease. */
export interface SampledLease {
  allocationId: string;
  poolId: string;
  vramMb: number;
}

/** The latest reading of one allocation, as the upstream gave it. */
export interface UpstreamReading {
  allocationId: string;
  gpuUtilization: number;
  memoryUsedMb: number;
  inferenceCount: number;
  averageLatencyMs: number;
  /** When it was read (Unix ms). */
  at: number;
}

export interface UpstreamSamplerOptions {
  intervalMs?: number;
  perPass?: number;
  /** The upstream no longer has an allocation a lease holds: the object should reconcile. */
  onGone?: () => void | Promise<void>;
}

const finite = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export class UpstreamSampler {
  private readonly readings = new Map<string, UpstreamReading>();
  /** When each allocation was last asked (answered or not). */
  private readonly lastRead = new Map<string, number>();
  readonly intervalMs: number;
  private readonly perPass: number;

  constructor(
    private readonly client: Pick<HostedAiClient, "metrics">,
    private readonly opts: UpstreamSamplerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? UPSTREAM_SAMPLE_INTERVAL_MS;
    this.perPass = opts.perPass ?? UPSTREAM_SAMPLES_PER_PASS;
  }

  /** When the next read of these leases is due; null when there are none (nothing to wake for). */
  dueAt(leases: readonly SampledLease[]): number | null {
    return upstreamSampleDueAt(leases.map((l) => l.allocationId), this.lastRead, this.intervalMs);
  }

  /**
   * Reads the leases due at `now` (at most `perPass`, CONCURRENCY at a time) and returns when the
   * next read is due. Never throws: a failed read leaves the last reading as it was.
   */
  async sample(leases: readonly SampledLease[], now: number): Promise<number | null> {
    this.forgetAllBut(leases);
    const plan = planUpstreamSamples(leases.map((l) => l.allocationId), this.lastRead, now, { intervalMs: this.intervalMs, perPass: this.perPass });
    for (const id of plan.sample) this.lastRead.set(id, now);
    let gone = false;
    await mapLimit(plan.sample, CONCURRENCY, async (id) => {
      try {
        const m = await this.client.metrics(id);
        const gpuUtilization = finite(m.gpu_utilization);
        const memoryUsedMb = finite(m.memory_used_mb);
        // A body without the document's fields says nothing: the last reading stands.
        if (gpuUtilization === undefined || memoryUsedMb === undefined) return;
        this.readings.set(id, {
          allocationId: id,
          gpuUtilization,
          memoryUsedMb,
          inferenceCount: finite(m.inference_count) ?? 0,
          averageLatencyMs: finite(m.average_latency_ms) ?? 0,
          at: Date.now(),
        });
      } catch (err) {
        if (isAllocationGone(err)) {
          this.readings.delete(id);
          gone = true;
        }
      }
    });
    if (gone) await this.opts.onGone?.();
    return plan.nextAt;
  }

  /** The latest reading of one allocation, if there is one. */
  reading(allocationId: string): UpstreamReading | undefined {
    return this.readings.get(allocationId);
  }

  /** Readings of these live leases for the gauges, leaving out stale ones. */
  gauges(leases: readonly SampledLease[], now: number): GpuReading[] {
    const out: GpuReading[] = [];
    for (const l of leases) {
      const r = this.readings.get(l.allocationId);
      if (!r || now - r.at > STALE_INTERVALS * this.intervalMs) continue;
      out.push({ pool: l.poolId, utilization: r.gpuUtilization, memoryUsedMb: r.memoryUsedMb, vramMb: l.vramMb });
    }
    return out;
  }

  /** Leases that went (released, dropped) take their readings with them. */
  private forgetAllBut(leases: readonly SampledLease[]): void {
    const live = new Set(leases.map((l) => l.allocationId));
    for (const id of this.lastRead.keys()) if (!live.has(id)) this.lastRead.delete(id);
    for (const id of this.readings.keys()) if (!live.has(id)) this.readings.delete(id);
  }
}
