/**
 * A covenant object's metrics. Counters and histograms live in memory and are written through to
 * the object's SQLite (table `metric_series`) for exactly the series an event touched: the object
 * is the only writer, so the stored values are exact and survive eviction and restarts. Gauges
 * (live leases, queue depth, breakers) are read from the object when a snapshot is taken.
 */
import { BREAKER_PHASE_VALUE, M } from "./metrics";
import { currentName, migrateSnapshot } from "./migrate";
import { emptySnapshot, inc, merge, metricOf, observe, set, type MetricDef, type SeriesValue, type Snapshot } from "./registry";
import type { FailureKind } from "./upstream-failures";

export interface StrikeFinished {
  tenant: string;
  covenant: string;
  model: string;
  /** null when no target answered (the strike failed before or while placing). */
  pool: string | null;
  /** "ok", or "error" with `errorType` (the API error type, e.g. capacity_exhausted). */
  outcome: "ok" | "error";
  errorType?: string | null;
  /** A new allocation was made for this strike; its latency goes into the allocation histogram. */
  allocated?: boolean;
  allocateMs?: number;
  inferMs?: number;
  costUsd?: number;
  promptTokens?: number;
  completionTokens?: number;
}

/** A request answered: from the edge receiving it to the answer (a streamed one: its last byte). */
export interface RequestFinished {
  /** Where it ran: a pool, `local`, or `fused` for a request answered by fusion. */
  pool: string;
  model: string;
  ms: number;
  /** Whether it met every bound of its covenant's SLO, and whose it is. */
  slo?: { tenant: string; covenant: string; met: boolean };
}

export interface UpstreamFailed {
  operation: string;
  kind: FailureKind;
  /** "" when no pool is known (a token exchange, a pool listing). */
  pool: string;
}

/** Hosted.AI's latest reading of one live lease (GET /allocations/{id}/metrics). */
export interface GpuReading {
  pool: string;
  /** 0-1, as the upstream reports it. */
  utilization: number;
  memoryUsedMb: number;
  /** VRAM the slice was granted. */
  vramMb: number;
}

export interface FusedFinished {
  tenant: string;
  covenant: string;
  strategy: string;
  outcome: "ok" | "error";
  errorType?: string;
  cache: readonly string[];
}

export interface LeaseReleased {
  pool: string;
  /** Time strikes ran on the lease. */
  busyMs: number;
  /** Time from allocation to release. */
  heldMs: number;
}

/** What the object holds right now, for gauges. null when the object holds no covenant. */
export interface GaugeReading {
  tenant: string;
  covenant: string;
  leases: { pool: string; inFlight: number }[];
  queueDepth: number;
  breakers: { target: string; phase: keyof typeof BREAKER_PHASE_VALUE }[];
  /** The object's SQLite size in bytes. */
  storageBytes?: number;
  /** The upstream's own latest readings of live leases (src/covenant/upstream-sampler.ts). */
  gpu?: GpuReading[];
}

export interface MetricsBookOptions {
  /** Read at snapshot time. */
  gauges: () => GaugeReading | null;
  /** This object's name (`<tenant>:<covenant id>`), once it holds a covenant. */
  objectName: () => string | undefined;
  /** Announces this object to the deployment's MetricsIndex; called until it succeeds once. */
  register: (objectName: string) => Promise<void>;
  /** Takes this object off the MetricsIndex, handing over its final counters (see `retire`). */
  retire?: (objectName: string, final: Snapshot) => Promise<unknown>;
  /** false: events are not counted (the operator turned metrics off); gauges are still read. */
  recording?: boolean;
}

/** The operator's switch: `HOMESKILLET_METRICS=off` stops covenant objects counting events. */
export function metricsRecording(env: { HOMESKILLET_METRICS?: string }): boolean {
  return env.HOMESKILLET_METRICS?.trim().toLowerCase() !== "off";
}

const MIB = 1024 * 1024;

const rowPlaceholders = new Map<number, string>();

/** `(?, ?, ?), (?, ?, ?), …` for `n` rows, built once per row count. */
function upsertRows(n: number): string {
  let rows = rowPlaceholders.get(n);
  if (!rows) {
    rows = Array.from({ length: n }, () => "(?, ?, ?)").join(", ");
    rowPlaceholders.set(n, rows);
  }
  return rows;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS metric_series (metric TEXT NOT NULL, labels TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (metric, labels));
CREATE TABLE IF NOT EXISTS metric_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

interface PendingRetirement {
  name: string;
  final: Snapshot;
}

export class MetricsBook {
  private readonly snap: Snapshot = emptySnapshot();
  private pending: PendingRetirement | undefined;
  private registered: boolean;
  private registering: Promise<void> | undefined;
  private readonly recording: boolean;
  /** Series touched inside `together`, written when it returns. */
  private held: [MetricDef, string][] | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly opts: MetricsBookOptions,
  ) {
    sql.exec(SCHEMA);
    this.recording = opts.recording ?? true;
    const defs = new Map<string, MetricDef>(Object.values(M).map((d) => [d.name, d]));
    const renamed: [MetricDef, string, string][] = [];
    for (const row of sql.exec<{ metric: string; labels: string; value: string }>(`SELECT metric, labels, value FROM metric_series`)) {
      const name = currentName(row.metric, row.labels);
      const def = defs.get(name);
      if (!def || def.kind === "gauge") continue; // a metric this version no longer has
      const series = metricOf(this.snap, def).series;
      const value = JSON.parse(row.value) as SeriesValue;
      if (name === row.metric) series[row.labels] = typeof value === "number" && typeof series[row.labels] === "number" ? (series[row.labels] as number) + value : value;
      else {
        series[row.labels] = ((series[row.labels] as number | undefined) ?? 0) + (value as number);
        renamed.push([def, row.metric, row.labels]);
      }
    }
    // A series stored under a name since renamed moves to its new name, once.
    for (const [def, old, key] of renamed) {
      sql.exec(`DELETE FROM metric_series WHERE metric = ? AND labels = ?`, old, key);
      sql.exec(`INSERT OR REPLACE INTO metric_series (metric, labels, value) VALUES (?, ?, ?)`, def.name, key, JSON.stringify(this.snap.metrics[def.name]!.series[key]));
    }
    this.registered = sql.exec(`SELECT 1 FROM metric_meta WHERE key = 'registered'`).toArray().length > 0;
    const pending = sql.exec<{ value: string }>(`SELECT value FROM metric_meta WHERE key = 'retiring'`).toArray()[0];
    const parsed = pending ? (JSON.parse(pending.value) as PendingRetirement) : undefined;
    this.pending = parsed ? { ...parsed, final: migrateSnapshot(parsed.final) } : undefined;
  }

  /**
   * The covenant was deleted. Its counters leave this object at once (a covenant created again
   * under the same id starts from zero) and go to the MetricsIndex, which keeps their share of
   * deployment-wide series and stops asking this object. Until the index has them they stay in
   * this object's snapshot, so no scrape in between sees a total fall. False when the index could
   * not be reached: `retirementPending` stays true and `finishRetirement` tries again.
   */
  async retire(): Promise<boolean> {
    await this.registering;
    const name = this.sql.exec<{ value: string }>(`SELECT value FROM metric_meta WHERE key = 'registered'`).toArray()[0]?.value;
    if (name !== undefined && !this.pending) {
      this.pending = { name, final: structuredClone(this.snap) };
      this.sql.exec(`INSERT OR REPLACE INTO metric_meta (key, value) VALUES ('retiring', ?)`, JSON.stringify(this.pending));
    }
    this.sql.exec(`DELETE FROM metric_series; DELETE FROM metric_meta WHERE key = 'registered'`);
    for (const metric of Object.keys(this.snap.metrics)) delete this.snap.metrics[metric];
    this.registered = false;
    return this.finishRetirement();
  }

  get retirementPending(): boolean {
    return this.pending !== undefined;
  }

  async finishRetirement(): Promise<boolean> {
    const pending = this.pending;
    if (!pending) return true;
    try {
      await this.opts.retire?.(pending.name, pending.final);
    } catch {
      return false;
    }
    this.pending = undefined;
    this.sql.exec(`DELETE FROM metric_meta WHERE key = 'retiring'`);
    // A covenant created again meanwhile registered before the index dropped the name: again.
    this.registered = false;
    if (Object.keys(this.snap.metrics).length > 0) this.ensureRegistered(pending.name);
    return true;
  }

  strikeFinished(e: StrikeFinished): void {
    if (!this.recording) return;
    const pool = e.pool ?? "";
    const who = { tenant: e.tenant, covenant: e.covenant, model: e.model, pool };
    const touched: [MetricDef, string][] = [[M.strikes, inc(this.snap, M.strikes, { ...who, outcome: e.outcome, error_type: e.outcome === "ok" ? "" : (e.errorType ?? "") })]];
    if (e.allocated && e.pool && e.allocateMs !== undefined) {
      touched.push([M.allocationSeconds, observe(this.snap, M.allocationSeconds, { pool, purpose: "strike" }, Math.max(0, e.allocateMs) / 1000)]);
    }
    if (e.outcome === "ok" && e.pool && e.inferMs !== undefined) {
      touched.push([M.inferenceSeconds, observe(this.snap, M.inferenceSeconds, { pool, model: e.model }, Math.max(0, e.inferMs) / 1000)]);
    }
    if (e.costUsd) touched.push([M.costUsd, inc(this.snap, M.costUsd, who, e.costUsd)]);
    if (e.promptTokens) touched.push([M.tokens, inc(this.snap, M.tokens, { ...who, kind: "prompt" }, e.promptTokens)]);
    if (e.completionTokens) touched.push([M.tokens, inc(this.snap, M.tokens, { ...who, kind: "completion" }, e.completionTokens)]);
    this.persist(touched);
  }

  /** A request answered (not a replay): its end-to-end time, by where it ran. */
  requestFinished(e: RequestFinished): void {
    if (!this.recording) return;
    const touched: [MetricDef, string][] = [[M.requestSeconds, observe(this.snap, M.requestSeconds, { pool: e.pool, model: e.model }, Math.max(0, e.ms) / 1000)]];
    if (e.slo) touched.push([M.sloRequests, inc(this.snap, M.sloRequests, { tenant: e.slo.tenant, covenant: e.slo.covenant, met: String(e.slo.met) }, 1)]);
    this.persist(touched);
  }

  /** An allocation made ahead of demand (the warm pool), not for a waiting strike. */
  warmAllocated(e: { pool: string; allocateMs: number }): void {
    if (!this.recording) return;
    const key = observe(this.snap, M.allocationSeconds, { pool: e.pool, purpose: "warm" }, Math.max(0, e.allocateMs) / 1000);
    this.persist([[M.allocationSeconds, key]]);
  }

  leaseReleased(e: LeaseReleased): void {
    if (!this.recording) return;
    const labels = { pool: e.pool };
    this.persist([
      [M.leaseBusySeconds, inc(this.snap, M.leaseBusySeconds, labels, Math.max(0, e.busyMs) / 1000)],
      [M.leaseHeldSeconds, inc(this.snap, M.leaseHeldSeconds, labels, Math.max(0, e.heldMs) / 1000)],
      [M.leasesReleased, inc(this.snap, M.leasesReleased, labels)],
    ]);
  }

  /** A strike's attempt on a target of its fallback chain failed (it may be retried or fall back). */
  attemptFailed(e: { target: string; type: string }): void {
    if (!this.recording) return;
    this.persist([[M.attemptFailures, inc(this.snap, M.attemptFailures, e)]]);
  }

  /** One call to an upstream failed (src/telemetry/upstream-failures.ts). */
  upstreamFailed(e: UpstreamFailed): void {
    if (!this.recording) return;
    this.persist([[M.upstreamFailures, inc(this.snap, M.upstreamFailures, { operation: e.operation, kind: e.kind, pool: e.pool })]]);
  }

  /** A fused request answered or failed; `cache` is each fragment's cache outcome. */
  fusedFinished(e: FusedFinished): void {
    if (!this.recording) return;
    const who = { tenant: e.tenant, covenant: e.covenant };
    const touched: [MetricDef, string][] = [
      [M.fusedRequests, inc(this.snap, M.fusedRequests, { ...who, strategy: e.strategy, outcome: e.outcome, error_type: e.outcome === "ok" ? "" : (e.errorType ?? "") })],
    ];
    for (const result of e.cache) touched.push([M.cacheLookups, inc(this.snap, M.cacheLookups, { ...who, result })]);
    this.persist(touched);
  }

  /** Stored counters and histograms plus gauges read now: what `metricsSnapshot()` returns. */
  snapshot(): Snapshot {
    const out = this.pending ? merge(this.snap, this.pending.final).snapshot : structuredClone(this.snap);
    const g = this.opts.gauges();
    if (!g) return out;
    const who = { tenant: g.tenant, covenant: g.covenant };
    const perPool = new Map<string, number>();
    for (const l of g.leases) perPool.set(l.pool, (perPool.get(l.pool) ?? 0) + 1);
    for (const [pool, n] of perPool) set(out, M.liveLeases, { ...who, pool }, n);
    set(out, M.inFlight, who, g.leases.reduce((n, l) => n + l.inFlight, 0));
    set(out, M.queueDepth, who, g.queueDepth);
    if (g.storageBytes !== undefined) set(out, M.storageBytes, who, g.storageBytes);
    for (const b of g.breakers) set(out, M.breakerState, { ...who, target: b.target }, BREAKER_PHASE_VALUE[b.phase]);
    const gpu = new Map<string, { n: number; util: number; used: number; vram: number }>();
    for (const r of g.gpu ?? []) {
      const p = gpu.get(r.pool) ?? { n: 0, util: 0, used: 0, vram: 0 };
      gpu.set(r.pool, { n: p.n + 1, util: p.util + r.utilization, used: p.used + r.memoryUsedMb, vram: p.vram + r.vramMb });
    }
    for (const [pool, p] of gpu) {
      set(out, M.gpuLeasesSampled, { pool }, p.n);
      set(out, M.gpuUtilizationSum, { pool }, p.util);
      set(out, M.gpuMemoryUsedBytes, { pool }, p.used * MIB);
      set(out, M.gpuMemoryAllocatedBytes, { pool }, p.vram * MIB);
    }
    return out;
  }

  /**
   * Books several events with one write: what `book` records is written, in one statement, when it
   * returns (before anything else can run), so every event is still written through.
   */
  together(book: () => void): void {
    if (this.held) return book();
    this.held = [];
    try {
      book();
    } finally {
      const touched = this.held;
      this.held = null;
      this.persist(touched);
    }
  }

  private persist(touched: [MetricDef, string][]): void {
    if (this.held) {
      this.held.push(...touched);
      return;
    }
    // One statement for every series the events touched: each exec crosses into the runtime, and
    // on the strike path that crossing, not SQLite, is most of the cost.
    if (touched.length === 0) return;
    // A series touched twice gets two identical rows (its latest value): the later replaces the
    // earlier within the statement, cheaper than finding the pair on every strike.
    const values: string[] = [];
    for (const [def, key] of touched) values.push(def.name, key, JSON.stringify(this.snap.metrics[def.name]!.series[key]));
    this.sql.exec(`INSERT OR REPLACE INTO metric_series (metric, labels, value) VALUES ${upsertRows(touched.length)}`, ...values);
    const name = this.opts.objectName();
    if (name) this.ensureRegistered(name);
  }

  /**
   * Registration runs in the background once per object: a strike never waits for it, and a
   * failure leaves the flag unset so the next event tries again.
   */
  private ensureRegistered(objectName: string): void {
    if (this.registered || this.registering) return;
    this.registering = this.opts
      .register(objectName)
      .then(() => {
        this.registered = true;
        this.sql.exec(`INSERT OR REPLACE INTO metric_meta (key, value) VALUES ('registered', ?)`, objectName);
      })
      .catch(() => {})
      .finally(() => {
        this.registering = undefined;
      });
  }

  /** Settles when any registration under way has finished (tests; shutdown). */
  async settled(): Promise<void> {
    await this.registering;
  }
}
