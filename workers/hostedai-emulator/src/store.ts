// The cluster's SQLite tables and every query against them. Free capacity is never stored: it is
// always derived from the active allocations, so it cannot drift from them.
import type { PoolSpec, PoolStatus, PoolTier } from "./catalogue";
import type { GpuCapacity } from "./placement";
import type { AllocationStatus } from "./schemas";
import type { InferenceBill, InferenceRecordView } from "./views";

/** Billed inferences kept for GET /admin/inferences; older ones are dropped as new ones arrive. */
export const INFERENCE_LOG_LIMIT = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pools (
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, tier TEXT NOT NULL, region TEXT NOT NULL,
  gpu_model TEXT NOT NULL, gpu_count INTEGER NOT NULL, vram_mb_per_gpu INTEGER NOT NULL,
  tflops_per_gpu REAL NOT NULL, price_per_gpu_hour REAL NOT NULL, status TEXT NOT NULL,
  preemptible_price_per_gpu_hour REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gpus (
  id TEXT PRIMARY KEY, pool_id TEXT NOT NULL, position INTEGER NOT NULL,
  vram_mb INTEGER NOT NULL, tflops REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS gpus_by_pool ON gpus (pool_id, position);
CREATE TABLE IF NOT EXISTS allocations (
  id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, owner TEXT NOT NULL, pool_id TEXT NOT NULL,
  gpu_id TEXT NOT NULL, status TEXT NOT NULL, vram_mb INTEGER NOT NULL, tflops REAL NOT NULL,
  preemptible INTEGER NOT NULL, duration_seconds INTEGER NOT NULL, created_at REAL NOT NULL,
  expires_at REAL NOT NULL, ended_at REAL, price_per_hour REAL NOT NULL, metadata TEXT NOT NULL,
  billed_seconds INTEGER, cost_usd REAL,
  inference_count INTEGER NOT NULL DEFAULT 0, latency_ms_total REAL NOT NULL DEFAULT 0,
  busy_ms REAL NOT NULL DEFAULT 0, busy_until REAL NOT NULL DEFAULT 0,
  memory_used_mb INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS allocations_by_status ON allocations (status, expires_at);
CREATE INDEX IF NOT EXISTS allocations_by_gpu ON allocations (gpu_id, status);
CREATE TABLE IF NOT EXISTS inflight (
  id TEXT PRIMARY KEY, allocation_id TEXT NOT NULL, latency_ms REAL NOT NULL, ends_at_real REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inflight_by_allocation ON inflight (allocation_id, ends_at_real);
-- What each inference delivered and was billed, newest INFERENCE_LOG_LIMIT kept (GET /admin/inferences).
CREATE TABLE IF NOT EXISTS inference_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, inference_id TEXT NOT NULL, allocation_id TEXT NOT NULL,
  pool_id TEXT NOT NULL, owner TEXT NOT NULL, metadata TEXT NOT NULL, model TEXT NOT NULL,
  stream INTEGER NOT NULL, outcome TEXT NOT NULL, prompt_tail TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, text TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export type PoolRow = PoolSpec & { tier: PoolTier; status: PoolStatus };

export interface AllocationRow {
  id: string;
  sequence: number;
  owner: string;
  pool_id: string;
  gpu_id: string;
  status: AllocationStatus;
  vram_mb: number;
  tflops: number;
  preemptible: number;
  duration_seconds: number;
  /** Emulated epoch ms, like every timestamp of an allocation. */
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  price_per_hour: number;
  metadata: string;
  billed_seconds: number | null;
  cost_usd: number | null;
  inference_count: number;
  latency_ms_total: number;
  /** Emulated ms during which at least one inference ran (a union of intervals, not a sum). */
  busy_ms: number;
  /** Emulated end of the latest inference interval recorded into busy_ms. */
  busy_until: number;
  memory_used_mb: number;
}

export type NewAllocation = Pick<
  AllocationRow,
  | "id" | "sequence" | "owner" | "pool_id" | "gpu_id" | "vram_mb" | "tflops" | "preemptible"
  | "duration_seconds" | "created_at" | "expires_at" | "price_per_hour" | "metadata"
>;

export interface InflightRow {
  id: string;
  allocation_id: string;
  latency_ms: number;
  ends_at_real: number;
}

type Row = Record<string, SqlStorageValue>;

export class ClusterStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    // A cluster stored before preemptible prices were per pool gains the column (pools are rewritten on reset).
    const columns = sql.exec<{ name: string }>("PRAGMA table_info(pools)").toArray().map((c) => c.name);
    if (!columns.includes("preemptible_price_per_gpu_hour")) {
      sql.exec("ALTER TABLE pools ADD COLUMN preemptible_price_per_gpu_hour REAL NOT NULL DEFAULT 0");
    }
  }

  // ---- counters and settings ----

  number(key: string): number | undefined {
    const row = this.sql.exec<{ value: number }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  setNumber(key: string, value: number): void {
    this.sql.exec("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  increment(key: string, by = 1): number {
    const next = (this.number(key) ?? 0) + by;
    this.setNumber(key, next);
    return next;
  }

  text(key: string): string | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM settings WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  setText(key: string, value: string): void {
    this.sql.exec("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  // ---- pools and GPUs ----

  replacePools(pools: readonly PoolSpec[]): void {
    this.sql.exec("DELETE FROM pools");
    this.sql.exec("DELETE FROM gpus");
    pools.forEach((p, position) => {
      this.sql.exec(
        `INSERT INTO pools (id, position, tier, region, gpu_model, gpu_count, vram_mb_per_gpu, tflops_per_gpu,
           price_per_gpu_hour, status, preemptible_price_per_gpu_hour) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        p.id, position, p.tier, p.region, p.gpu_model, p.gpu_count,
        p.vram_mb_per_gpu, p.tflops_per_gpu, p.price_per_gpu_hour, p.status, p.preemptible_price_per_gpu_hour,
      );
      for (let i = 0; i < p.gpu_count; i++) {
        this.sql.exec("INSERT INTO gpus VALUES (?, ?, ?, ?, ?)", `${p.id}-gpu-${i}`, p.id, i, p.vram_mb_per_gpu, p.tflops_per_gpu);
      }
    });
  }

  pools(): PoolRow[] {
    return this.sql.exec<Row>("SELECT * FROM pools ORDER BY position").toArray().map(asPool);
  }

  pool(id: string): PoolRow | undefined {
    const row = this.sql.exec<Row>("SELECT * FROM pools WHERE id = ?", id).toArray()[0];
    return row ? asPool(row) : undefined;
  }

  /** VRAM and TFLOPS held by active allocations, per pool. */
  usageByPool(): Map<string, { vram_mb: number; tflops: number }> {
    const rows = this.sql
      .exec<{ pool_id: string; vram_mb: number; tflops: number }>(
        "SELECT pool_id, SUM(vram_mb) AS vram_mb, SUM(tflops) AS tflops FROM allocations WHERE status = 'active' GROUP BY pool_id",
      )
      .toArray();
    return new Map(rows.map((r) => [r.pool_id, { vram_mb: r.vram_mb, tflops: r.tflops }]));
  }

  gpuCapacities(poolId: string): GpuCapacity[] {
    return this.sql
      .exec<{ id: string; vram_mb: number; tflops: number; used_vram_mb: number; used_tflops: number }>(
        `SELECT g.id, g.vram_mb, g.tflops,
                COALESCE(SUM(a.vram_mb), 0) AS used_vram_mb, COALESCE(SUM(a.tflops), 0) AS used_tflops
         FROM gpus g LEFT JOIN allocations a ON a.gpu_id = g.id AND a.status = 'active'
         WHERE g.pool_id = ? GROUP BY g.id ORDER BY g.position`,
        poolId,
      )
      .toArray()
      .map((g) => ({
        id: g.id,
        vram_mb: g.vram_mb,
        tflops: g.tflops,
        free_vram_mb: g.vram_mb - g.used_vram_mb,
        free_tflops: g.tflops - g.used_tflops,
      }));
  }

  // ---- allocations ----

  insertAllocation(a: NewAllocation): void {
    this.sql.exec(
      `INSERT INTO allocations (id, sequence, owner, pool_id, gpu_id, status, vram_mb, tflops, preemptible,
         duration_seconds, created_at, expires_at, price_per_hour, metadata)
       VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)`,
      a.id, a.sequence, a.owner, a.pool_id, a.gpu_id, a.vram_mb, a.tflops, a.preemptible,
      a.duration_seconds, a.created_at, a.expires_at, a.price_per_hour, a.metadata,
    );
  }

  allocation(id: string): AllocationRow | undefined {
    return this.sql.exec<Row>("SELECT * FROM allocations WHERE id = ?", id).toArray()[0] as AllocationRow | undefined;
  }

  allocations(filter: { owner?: string; status?: AllocationStatus }): AllocationRow[] {
    const conditions: [string, string][] = [];
    if (filter.owner !== undefined) conditions.push(["owner = ?", filter.owner]);
    if (filter.status !== undefined) conditions.push(["status = ?", filter.status]);
    const clause = conditions.length > 0 ? `WHERE ${conditions.map(([sql]) => sql).join(" AND ")}` : "";
    const args = conditions.map(([, value]) => value);
    return this.sql.exec<Row>(`SELECT * FROM allocations ${clause} ORDER BY sequence`, ...args).toArray() as unknown as AllocationRow[];
  }

  /** Active preemptible allocations of a pool, oldest first. */
  activePreemptible(poolId: string): AllocationRow[] {
    return this.sql
      .exec<Row>("SELECT * FROM allocations WHERE status = 'active' AND preemptible = 1 AND pool_id = ? ORDER BY sequence", poolId)
      .toArray() as unknown as AllocationRow[];
  }

  activeDueBy(emulatedMs: number): AllocationRow[] {
    return this.sql
      .exec<Row>("SELECT * FROM allocations WHERE status = 'active' AND expires_at <= ? ORDER BY expires_at", emulatedMs)
      .toArray() as unknown as AllocationRow[];
  }

  earliestActiveExpiry(poolId?: string): number | undefined {
    const row = poolId === undefined
      ? this.sql.exec<{ t: number | null }>("SELECT MIN(expires_at) AS t FROM allocations WHERE status = 'active'").one()
      : this.sql.exec<{ t: number | null }>("SELECT MIN(expires_at) AS t FROM allocations WHERE status = 'active' AND pool_id = ?", poolId).one();
    return row.t ?? undefined;
  }

  endAllocation(id: string, status: AllocationStatus, endedAt: number, billedSeconds: number, costUsd: number): void {
    this.sql.exec(
      "UPDATE allocations SET status = ?, ended_at = ?, billed_seconds = ?, cost_usd = ? WHERE id = ?",
      status, endedAt, billedSeconds, costUsd, id,
    );
  }

  recordInferenceStart(id: string, memoryUsedMb: number, busyMs: number, busyUntil: number): void {
    this.sql.exec(
      "UPDATE allocations SET memory_used_mb = MAX(memory_used_mb, ?), busy_ms = ?, busy_until = ? WHERE id = ?",
      memoryUsedMb, busyMs, busyUntil, id,
    );
  }

  recordInferenceDone(id: string, latencyMs: number): void {
    this.sql.exec(
      "UPDATE allocations SET inference_count = inference_count + 1, latency_ms_total = latency_ms_total + ? WHERE id = ?",
      latencyMs, id,
    );
  }

  // ---- inferences in flight ----

  insertInflight(row: InflightRow): void {
    this.sql.exec("INSERT INTO inflight VALUES (?, ?, ?, ?)", row.id, row.allocation_id, row.latency_ms, row.ends_at_real);
  }

  /** Inferences on the allocation still running at `realMs`. */
  runningOn(allocationId: string, realMs: number): number {
    return this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM inflight WHERE allocation_id = ? AND ends_at_real > ?", allocationId, realMs)
      .one().n;
  }

  /** A preempted allocation's inferences stop at once: they leave the in-flight set uncounted. */
  dropInflightOf(allocationId: string): void {
    this.sql.exec("DELETE FROM inflight WHERE allocation_id = ?", allocationId);
  }

  takeInflight(id: string): InflightRow | undefined {
    return this.sql.exec<Row>("DELETE FROM inflight WHERE id = ? RETURNING *", id).toArray()[0] as InflightRow | undefined;
  }

  inflightEndedBefore(realMs: number): InflightRow[] {
    return this.sql.exec<Row>("SELECT * FROM inflight WHERE ends_at_real < ?", realMs).toArray() as unknown as InflightRow[];
  }

  // ---- billed inferences ----

  logInference(inferenceId: string, allocation: AllocationRow, bill: InferenceBill, at: number): void {
    this.sql.exec(
      `INSERT INTO inference_log (inference_id, allocation_id, pool_id, owner, metadata, model, stream, outcome,
         prompt_tail, prompt_tokens, completion_tokens, cost_usd, text, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      inferenceId, allocation.id, allocation.pool_id, allocation.owner, allocation.metadata, bill.model, bill.stream ? 1 : 0,
      bill.outcome, bill.prompt_tail, bill.prompt_tokens, bill.completion_tokens, bill.cost_usd, bill.text, at,
    );
    this.sql.exec("DELETE FROM inference_log WHERE seq <= (SELECT MAX(seq) FROM inference_log) - ?", INFERENCE_LOG_LIMIT);
  }

  /** Billed inferences, oldest first. */
  inferenceLog(): InferenceRecordView[] {
    return this.sql
      .exec<Row>("SELECT * FROM inference_log ORDER BY seq")
      .toArray()
      .map((r) => ({
        inference_id: r.inference_id as string,
        allocation_id: r.allocation_id as string,
        pool_id: r.pool_id as string,
        owner: r.owner as string,
        metadata: JSON.parse(r.metadata as string) as Record<string, string>,
        model: r.model as string,
        stream: r.stream === 1,
        outcome: r.outcome as InferenceRecordView["outcome"],
        prompt_tail: r.prompt_tail as string,
        prompt_tokens: r.prompt_tokens as number,
        completion_tokens: r.completion_tokens as number,
        cost_usd: r.cost_usd as number,
        text: r.text as string,
        at: r.at as number,
      }));
  }

  // ---- everything ----

  clear(): void {
    for (const table of ["pools", "gpus", "allocations", "inflight", "inference_log", "kv", "settings"]) this.sql.exec(`DELETE FROM ${table}`);
  }
}

function asPool(row: Row): PoolRow {
  return row as unknown as PoolRow;
}
