/**
 * Homeskillet's metrics, declared once. Covenant-scoped series carry `tenant` and `covenant`;
 * latency histograms and GPU time carry only pool (and model) so the edge sums them across
 * covenant objects into deployment-wide distributions without exploding label cardinality.
 */
import { defineMetric } from "./registry";

/** Seconds; allocations take tens of milliseconds to tens of seconds upstream. */
const ALLOCATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; inference spans a short completion on a warm slice to a long one on a cold pool. */
const INFERENCE_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/**
 * Seconds; a request is its inference plus everything around it (edge, queue, allocation,
 * retries, fallbacks), so the same bounds as inference, compared side by side, and one more.
 */
const REQUEST_BUCKETS = [...INFERENCE_BUCKETS, 120];

export const M = {
  strikes: defineMetric({
    name: "homeskillet_strikes_total",
    help: "Strikes finished, by outcome (ok or error) and error type.",
    kind: "counter",
    labels: ["tenant", "covenant", "model", "pool", "outcome", "error_type"],
  }),
  allocationSeconds: defineMetric({
    name: "homeskillet_allocation_duration_seconds",
    help: "Time Hosted.AI took to grant an allocation, by pool and purpose (strike or warm).",
    kind: "histogram",
    labels: ["pool", "purpose"],
    buckets: ALLOCATION_BUCKETS,
  }),
  inferenceSeconds: defineMetric({
    name: "homeskillet_inference_duration_seconds",
    help: "Time an inference call took, by pool and model.",
    kind: "histogram",
    labels: ["pool", "model"],
    buckets: INFERENCE_BUCKETS,
  }),
  requestSeconds: defineMetric({
    name: "homeskillet_request_duration_seconds",
    help: "End-to-end time of an answered strike, from the edge receiving the request to the answer (a streamed one: its last byte), by pool and model.",
    kind: "histogram",
    labels: ["pool", "model"],
    buckets: REQUEST_BUCKETS,
  }),
  sloRequests: defineMetric({
    name: "homeskillet_slo_requests_total",
    help: "Answered strikes by whether they met every bound of their covenant's SLO (end to end; time to first token and per output token on streams; a plain answer's first token is its whole answer).",
    kind: "counter",
    labels: ["tenant", "covenant", "met"],
  }),
  costUsd: defineMetric({
    name: "homeskillet_cost_usd_total",
    help: "Dollars charged to strikes, by tenant, covenant, model and pool.",
    kind: "counter",
    labels: ["tenant", "covenant", "model", "pool"],
  }),
  tokens: defineMetric({
    name: "homeskillet_tokens_total",
    help: "Tokens processed, by tenant, covenant, model, pool and kind (prompt or completion).",
    kind: "counter",
    labels: ["tenant", "covenant", "model", "pool", "kind"],
  }),
  leaseBusySeconds: defineMetric({
    name: "homeskillet_lease_busy_seconds_total",
    help: "Seconds released leases spent running strikes, by pool (numerator of GPU utilisation).",
    kind: "counter",
    labels: ["pool"],
  }),
  leaseHeldSeconds: defineMetric({
    name: "homeskillet_lease_allocated_seconds_total",
    help: "Seconds released leases were held, by pool (denominator of GPU utilisation).",
    kind: "counter",
    labels: ["pool"],
  }),
  leasesReleased: defineMetric({
    name: "homeskillet_leases_released_total",
    help: "Leases given back or lost upstream, by pool.",
    kind: "counter",
    labels: ["pool"],
  }),
  attemptFailures: defineMetric({
    name: "homeskillet_attempt_failures_total",
    help: "Failed attempts of strikes on a target of their fallback chain (a pool, the local node, or hostedai for its pool listing), by target and error type; retried or fallen back from, so they need not have failed a strike.",
    kind: "counter",
    labels: ["target", "type"],
  }),
  upstreamFailures: defineMetric({
    name: "homeskillet_upstream_failures_total",
    help: "Failed calls to an upstream, by operation (allocate, infer, release; also token, pools, list, get, metrics, models), kind (error, timeout, preempted) and pool (local for the local node).",
    kind: "counter",
    labels: ["operation", "kind", "pool"],
  }),
  cacheLookups: defineMetric({
    name: "homeskillet_cache_lookups_total",
    help: "Fused requests' fragments by cache outcome: miss (computed), hit (result cache), semantic (near duplicate), shared (identical fragment in flight).",
    kind: "counter",
    labels: ["tenant", "covenant", "result"],
  }),
  fusedRequests: defineMetric({
    name: "homeskillet_fused_requests_total",
    help: "Requests planned into several fragments, by strategy and outcome; their fragments count as strikes.",
    kind: "counter",
    labels: ["tenant", "covenant", "strategy", "outcome", "error_type"],
  }),
  // Gauges: read from the live object at scrape time, never stored (they describe now).
  liveLeases: defineMetric({
    name: "homeskillet_leases_live",
    help: "Leases held right now, by tenant, covenant and pool.",
    kind: "gauge",
    labels: ["tenant", "covenant", "pool"],
    merge: "sum",
  }),
  inFlight: defineMetric({
    name: "homeskillet_strikes_in_flight",
    help: "Strikes running on leases right now, by tenant and covenant.",
    kind: "gauge",
    labels: ["tenant", "covenant"],
    merge: "sum",
  }),
  queueDepth: defineMetric({
    name: "homeskillet_queue_depth",
    help: "Strikes waiting for capacity or a lease slot right now, by tenant and covenant.",
    kind: "gauge",
    labels: ["tenant", "covenant"],
    merge: "sum",
  }),
  storageBytes: defineMetric({
    name: "homeskillet_covenant_storage_bytes",
    help: "Bytes of SQLite storage a covenant object holds (ledger rows, aggregates, caches, idempotency records), by tenant and covenant.",
    kind: "gauge",
    labels: ["tenant", "covenant"],
    merge: "sum",
  }),
  // Hosted.AI's own account of the live leases (GET /allocations/{id}/metrics), sampled by each
  // covenant object (src/covenant/upstream-sampler.ts). By pool only: these add up across objects.
  gpuLeasesSampled: defineMetric({
    name: "homeskillet_gpu_leases_sampled",
    help: "Live leases with a recent reading of Hosted.AI's own metrics, by pool (what the gpu_ gauges describe).",
    kind: "gauge",
    labels: ["pool"],
    merge: "sum",
  }),
  gpuMemoryUsedBytes: defineMetric({
    name: "homeskillet_gpu_memory_used_bytes",
    help: "GPU memory in use on the sampled live leases, as Hosted.AI reports it (memory_used_mb), by pool.",
    kind: "gauge",
    labels: ["pool"],
    merge: "sum",
  }),
  gpuMemoryAllocatedBytes: defineMetric({
    name: "homeskillet_gpu_memory_allocated_bytes",
    help: "GPU memory Hosted.AI granted to the sampled live leases (their slices' VRAM), by pool.",
    kind: "gauge",
    labels: ["pool"],
    merge: "sum",
  }),
  gpuUtilizationSum: defineMetric({
    name: "homeskillet_gpu_utilization_sum",
    help: "Sum of Hosted.AI's gpu_utilization over the sampled live leases, by pool. Internal: the edge divides it by the leases sampled into homeskillet_gpu_utilization_ratio and does not expose it.",
    kind: "gauge",
    labels: ["pool"],
    merge: "sum",
  }),
  breakerState: defineMetric({
    name: "homeskillet_breaker_state",
    help: "Circuit breaker phase per covenant and target: 0 closed, 1 half open, 2 open.",
    kind: "gauge",
    labels: ["tenant", "covenant", "target"],
    merge: "max",
  }),
} as const;

/** Edge-side metrics about the aggregation itself, so a partial scrape never looks complete. */
export const EDGE = {
  sources: defineMetric({
    name: "homeskillet_metrics_sources",
    help: "Covenant objects asked for metrics in this scrape, by result (ok or failed).",
    kind: "gauge",
    labels: ["result"],
  }),
  conflicts: defineMetric({
    name: "homeskillet_metrics_merge_conflicts",
    help: "Metrics left out of this scrape for a source because their shape differed (mixed versions during a deploy).",
    kind: "gauge",
    labels: [],
  }),
  gpuUtilization: defineMetric({
    name: "homeskillet_gpu_utilization_ratio",
    help: "Mean of Hosted.AI's own gpu_utilization (0-1) over the sampled live leases, by pool; compare homeskillet_lease_busy_seconds_total / homeskillet_lease_allocated_seconds_total, our own busy / held.",
    kind: "gauge",
    labels: ["pool"],
  }),
} as const;

export const BREAKER_PHASE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
