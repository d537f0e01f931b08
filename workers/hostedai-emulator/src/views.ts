// Response bodies exactly as the contract shapes them, built from stored rows.
import type { PoolStatus, PoolTier } from "./catalogue";
import type { FaultKind, MalformedKind } from "./faults";
import type { AllocationStatus } from "./schemas";
import type { TokenTiming } from "./throughput";
import type { AllocationRow, PoolRow } from "./store";

export interface PoolView {
  id: string;
  tier: PoolTier;
  region: string;
  gpu_model: string;
  gpu_count: number;
  vram_mb_per_gpu: number;
  tflops_per_gpu: number;
  total_vram_mb: number;
  free_vram_mb: number;
  total_tflops: number;
  free_tflops: number;
  price_per_gpu_hour: number;
  /** What a GPU-hour costs in preemptible slices (`preemptible: true` on this pool). */
  preemptible_price_per_gpu_hour: number;
  status: PoolStatus;
}

export interface AllocationView {
  allocation_id: string;
  pool_id: string;
  gpu_id: string;
  status: AllocationStatus;
  vram_mb: number;
  tflops: number;
  preemptible: boolean;
  duration_seconds: number;
  created_at: string;
  expires_at: string;
  price_per_hour: number;
  metadata: Record<string, string>;
}

/** Exactly the integration document's metrics answer. */
export interface MetricsView {
  gpu_utilization: number;
  memory_used_mb: number;
  inference_count: number;
  average_latency_ms: number;
}

export interface ReleaseView {
  allocation_id: string;
  status: AllocationStatus;
  billed_seconds: number;
  cost_usd: number;
}

export interface InferenceReceipt {
  inference_id: string;
  /** Simulated latency in real ms (already multiplied by latency_scale). */
  latency_ms: number;
  cost_usd: number;
  /** Only a preemptible allocation can be taken away mid-inference, so only then is it watched. */
  preemptible: boolean;
  /** When each token is ready, for a streamed answer (real ms, scaled). */
  schedule: TokenTiming;
  /** An injected fault: a streamed answer ends abruptly after this many tokens. */
  stream_cut_after_tokens: number | null;
  /** What a part of the answer costs: emulated time (real ms × time_scale) at this hourly price. */
  price_per_hour: number;
  time_scale: number;
  /** An injected fault: this structured answer is to come out malformed, this way. */
  malformed_output: MalformedKind | null;
}

/** How an inference ended, as its bill records it. */
export type InferenceOutcome = "done" | "cut" | "preempted" | "abandoned";

/** What the Worker reports when an inference ends: what was delivered, and so billed. */
export interface InferenceBill {
  model: string;
  stream: boolean;
  outcome: InferenceOutcome;
  /** The prompt's last characters (enough to see how it ended). */
  prompt_tail: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  /** The text delivered. */
  text: string;
}

/** One billed inference, as GET /admin/inferences lists it. */
export interface InferenceRecordView extends InferenceBill {
  inference_id: string;
  allocation_id: string;
  pool_id: string;
  owner: string;
  metadata: Record<string, string>;
  /** Real epoch ms the inference ended. */
  at: number;
}

/**
 * An allocation as the admin record lists it: its holder; while live, how many inferences are
 * running on it; once it has ended, its bill.
 */
export type AdminAllocationView = AllocationView & { owner: string; inferences_running?: number; billed_seconds?: number; cost_usd?: number };

export function adminAllocationView(row: AllocationRow, running: number): AdminAllocationView {
  return {
    ...allocationView(row),
    owner: row.owner,
    ...(row.status === "active" ? { inferences_running: running } : { billed_seconds: row.billed_seconds ?? 0, cost_usd: row.cost_usd ?? 0 }),
  };
}

export interface AdminView {
  allocations: AdminAllocationView[];
  created_total: number;
  released_total: number;
  expired_total: number;
  tokens_issued: number;
  inference_total: number;
  preempted_total: number;
  faults_injected_total: Record<FaultKind, number>;
}

export interface ConfigView {
  latency_scale: number;
  time_scale: number;
  seed: string;
  /** The emulated clock's reading when the config was read. */
  emulated_now: string;
}

/** `down`: an injected outage, reported over the pool's own status. */
export function poolView(pool: PoolRow, used: { vram_mb: number; tflops: number } | undefined, down = false): PoolView {
  const totalVram = pool.gpu_count * pool.vram_mb_per_gpu;
  const totalTflops = pool.gpu_count * pool.tflops_per_gpu;
  return {
    id: pool.id,
    tier: pool.tier,
    region: pool.region,
    gpu_model: pool.gpu_model,
    gpu_count: pool.gpu_count,
    vram_mb_per_gpu: pool.vram_mb_per_gpu,
    tflops_per_gpu: pool.tflops_per_gpu,
    total_vram_mb: totalVram,
    free_vram_mb: totalVram - (used?.vram_mb ?? 0),
    total_tflops: roundTo(totalTflops, 6),
    free_tflops: roundTo(totalTflops - (used?.tflops ?? 0), 6),
    price_per_gpu_hour: pool.price_per_gpu_hour,
    preemptible_price_per_gpu_hour: pool.preemptible_price_per_gpu_hour,
    status: down ? "down" : pool.status,
  };
}

export function allocationView(row: AllocationRow): AllocationView {
  return {
    allocation_id: row.id,
    pool_id: row.pool_id,
    gpu_id: row.gpu_id,
    status: row.status,
    vram_mb: row.vram_mb,
    tflops: row.tflops,
    preemptible: row.preemptible === 1,
    duration_seconds: row.duration_seconds,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    price_per_hour: row.price_per_hour,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
  };
}

/**
 * Utilisation counts only time that has passed: busy_ms may already include the planned end of
 * an inference still running, and that future part is subtracted.
 */
export function metricsView(row: AllocationRow, emulatedNow: number): MetricsView {
  const end = row.ended_at ?? emulatedNow;
  const elapsed = end - row.created_at;
  const busySoFar = row.busy_ms - Math.max(0, row.busy_until - end);
  const utilization = elapsed > 0 ? Math.min(1, Math.max(0, busySoFar / elapsed)) : 0;
  return {
    gpu_utilization: roundTo(utilization, 6),
    memory_used_mb: row.memory_used_mb,
    inference_count: row.inference_count,
    average_latency_ms: row.inference_count > 0 ? roundTo(row.latency_ms_total / row.inference_count, 3) : 0,
  };
}

export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
