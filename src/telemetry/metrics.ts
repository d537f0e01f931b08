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
  upstreamFailures: defineMetric({
    name: "homeskillet_upstream_failures_total",
    help: "Failed calls to an upstream target (pool or local node), by target and error type.",
    kind: "counter",
    labels: ["target", "type"],
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
} as const;

export const BREAKER_PHASE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
