/**
 * The shape of `GET /dashboard/api/summary`, shared by the worker (which computes it) and the
 * browser page (which draws it). Type declarations only, so the page's bundle takes nothing else
 * from the worker. Durations are milliseconds, money US dollars, times Unix milliseconds.
 */

export type BreakerPhase = "closed" | "half_open" | "open";

/**
 * `ok`: every covenant object answered, no breaker is tripped, errors are rare.
 * `degraded`: a breaker is open or half open, or the recent error rate is high.
 * `incomplete`: some covenant objects did not answer, so totals are low (and no history is kept).
 */
export type HealthStatus = "ok" | "degraded" | "incomplete";

export interface Quantiles {
  /** Observations the figures are drawn from. */
  count: number;
  /** null when there were no observations. */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
}

/** One row of a cost table: a tenant, a model or a pool. */
export interface SpendRow {
  key: string;
  usd: number;
  tokens: number;
  strikes: number;
  /** usd per thousand tokens (prompt and completion); null without tokens. */
  usd_per_1k_tokens: number | null;
}

export interface PoolRow {
  pool: string;
  leases_live: number;
  leases_released: number;
  /** Seconds released leases ran strikes / were held; both are booked when a lease is released. */
  busy_s: number;
  allocated_s: number;
  /** busy_s / allocated_s over all time; null before a lease of this pool was released. */
  utilisation: number | null;
  /** The same ratio over the trailing utilisation window of the history, when there is one. */
  utilisation_recent: number | null;
  /** Live leases with a recent reading of Hosted.AI's own metrics (GET /allocations/{id}/metrics). */
  leases_sampled: number;
  /** Hosted.AI's own gpu_utilization (0-1), the mean over those leases; null without a reading. */
  upstream_utilisation: number | null;
  /** GPU memory those leases use, as Hosted.AI reports it, and the VRAM their slices were granted. */
  memory_used_bytes: number;
  memory_allocated_bytes: number;
  /** memory_used_bytes / memory_allocated_bytes; null without a reading. */
  memory_used_ratio: number | null;
}

export interface UpstreamFailureRow {
  /** allocate, infer, release (or token, pools, list, get, metrics, models). */
  operation: string;
  kind: "error" | "timeout" | "preempted";
  /** A pool id, `local` for the local node, "" when the call named none. */
  pool: string;
  count: number;
}

export interface BreakerRow {
  tenant: string;
  covenant: string;
  target: string;
  phase: BreakerPhase;
}

export interface BreakerTargetRow {
  target: string;
  open: number;
  half_open: number;
  closed: number;
}

/** Spend per minute keyed by tenant, model or pool (the three ways the cost chart can split it). */
export interface SpendSplit {
  tenant: Record<string, number>;
  model: Record<string, number>;
  pool: Record<string, number>;
}

/**
 * One point of the history, computed from two stored readings. Counts and spend are per minute
 * over the interval since the previous reading; error rate and latency are over the trailing
 * minute, utilisation over the trailing five minutes (leases book their seconds when released,
 * so shorter windows would be mostly empty). Gauges are as read at `t`. null: nothing to measure.
 */
export interface TrendPoint {
  t: number;
  interval_s: number;
  strikes_per_min: number;
  errors_per_min: number;
  error_rate: number | null;
  tokens_per_min: number;
  spend_usd_per_min: number;
  spend_by: SpendSplit;
  inference_p50_ms: number | null;
  inference_p95_ms: number | null;
  inference_p99_ms: number | null;
  /** End-to-end request time (edge receipt to answer), over the trailing minute. */
  request_p50_ms: number | null;
  request_p95_ms: number | null;
  request_p99_ms: number | null;
  allocation_p50_ms: number | null;
  allocation_p95_ms: number | null;
  /**
   * Dollars per thousand tokens by pool and by model, over the trailing five minutes (strikes'
   * charges over their tokens); null where no tokens were processed then or it cannot be known.
   */
  usd_per_1k_tokens: { pool: Record<string, number | null>; model: Record<string, number | null> };
  /** Failed upstream calls per minute over the interval, by `<operation> <kind>` (e.g. `infer timeout`). */
  upstream_failures_per_min: Record<string, number>;
  utilisation: Record<string, number | null>;
  /** Hosted.AI's own mean GPU utilisation of the live leases, by pool, at `t` (a gauge). */
  upstream_utilisation: Record<string, number | null>;
  /** GPU memory used ÷ granted on the live leases, by pool, at `t`. */
  memory_used_ratio: Record<string, number | null>;
  leases: Record<string, number>;
  in_flight: number;
  queue_depth: number;
  breakers_tripped: number;
}

export interface DashboardSummary {
  /** When the server computed this (Unix ms). */
  t: number;
  health: { status: HealthStatus; reasons: string[] };
  sources: { total: number; ok: number; failed: number; failed_names: string[] };
  strikes: {
    total: number;
    ok: number;
    error: number;
    /** Over all time; the recent rate is the last history point's. */
    error_rate: number | null;
    by_error_type: { type: string; count: number; share: number }[];
  };
  /** Failed attempts of strikes on a target of their fallback chain, by error type (all time). */
  attempt_failures: { target: string; type: string; count: number }[];
  /** Failed calls to an upstream by operation, kind and pool (all time). */
  upstream_failures: UpstreamFailureRow[];
  breakers: {
    by_target: BreakerTargetRow[];
    /** Open and half-open breakers first, then closed ones; at most BREAKER_ROWS rows. */
    rows: BreakerRow[];
    /** How many rows were left out of `rows`. */
    omitted: number;
  };
  resources: { leases_live: number; in_flight: number; queue_depth: number; pools: PoolRow[] };
  cost: {
    total_usd: number;
    tokens: { prompt: number; completion: number };
    by_tenant: SpendRow[];
    by_model: SpendRow[];
    by_pool: SpendRow[];
  };
  latency: {
    /** End-to-end: from the edge receiving a request to its answer (a streamed one: its last byte). */
    request: Quantiles;
    request_by_pool: (Quantiles & { key: string })[];
    request_by_model: (Quantiles & { key: string })[];
    inference: Quantiles;
    allocation: Quantiles;
    inference_by_pool: (Quantiles & { key: string })[];
    inference_by_model: (Quantiles & { key: string })[];
    allocation_by_pool: (Quantiles & { key: string })[];
  };
  history: {
    /** Readings are kept at least this far apart... */
    spacing_s: number;
    /** ...for this long. */
    retention_s: number;
    /** Whether this request stored a new reading. */
    recorded: boolean;
    /** Oldest first; only points after the request's `since` when it gave one. */
    points: TrendPoint[];
  };
}
