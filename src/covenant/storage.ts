/**
 * The covenant object's SQLite schema and statements. Whatever must survive the object (the
 * contract, leases held, money spent) is written here before a strike answers.
 */
import type { Lease } from "../policy";
import type { CovenantContract } from "../schema";
import { UsageBook, type Retention, type UsageHour, type UsageRow } from "./usage";

export type { UsageHour, UsageRow } from "./usage";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS contract (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
  lease_id TEXT PRIMARY KEY,
  allocation_id TEXT NOT NULL UNIQUE,
  pool_id TEXT NOT NULL,
  model TEXT NOT NULL,
  vram_mb INTEGER NOT NULL,
  tflops REAL NOT NULL,
  price_per_hour REAL NOT NULL,
  preemptible INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  strikes_served INTEGER NOT NULL DEFAULT 0,
  busy_ms REAL NOT NULL DEFAULT 0,
  last_used_at INTEGER NOT NULL,
  -- Kept for older rows; what strikes were charged is derived from the strikes table.
  attributed_usd REAL NOT NULL DEFAULT 0
);
-- Allocations given up on but not yet confirmed released upstream: retried by the alarm.
CREATE TABLE IF NOT EXISTS pending_releases (
  allocation_id TEXT PRIMARY KEY,
  lease_id TEXT,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS strikes (
  strike_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  covenant_id TEXT NOT NULL,
  key_id TEXT,
  model TEXT NOT NULL,
  pool_id TEXT,
  allocation_id TEXT,
  outcome TEXT NOT NULL,
  error_type TEXT,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  allocation_seconds REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  total_ms REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS strikes_by_time ON strikes (created_at);
-- What a lease cost beyond the shares its strikes were charged (idle time), booked at release.
CREATE TABLE IF NOT EXISTS lease_charges (
  lease_id TEXT PRIMARY KEY,
  allocation_id TEXT NOT NULL,
  model TEXT NOT NULL,
  pool_id TEXT NOT NULL,
  billed_seconds REAL NOT NULL,
  cost_usd REAL NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lease_charges_by_time ON lease_charges (at);
`;

export interface StrikeRecord {
  strike_id: string;
  tenant: string;
  covenant_id: string;
  /** The key that asked, when known. */
  key_id: string | null;
  model: string;
  pool_id: string | null;
  allocation_id: string | null;
  outcome: "ok" | "error";
  error_type: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  allocation_seconds: number;
  created_at: number;
  total_ms: number;
}

interface LeaseRow {
  lease_id: string;
  allocation_id: string;
  pool_id: string;
  model: string;
  vram_mb: number;
  tflops: number;
  price_per_hour: number;
  preemptible: number;
  created_at: number;
  expires_at: number;
  state: string;
  strikes_served: number;
  busy_ms: number;
  last_used_at: number;
  attributed_usd: number;
}

/** An allocation given up on: a lease's (lease_id) or an orphan's (found on pool_id, no lease). */
export interface PendingRelease {
  allocation_id: string;
  lease_id: string | null;
  due_at: number;
  attempts: number;
  pool_id: string | null;
}

export interface StoredLease extends Lease {
  attributedUsd: number;
}

export class CovenantStore {
  private readonly usage: UsageBook;

  constructor(
    private readonly sql: SqlStorage,
    transaction: <T>(fn: () => T) => T = (fn) => fn(),
  ) {
    sql.exec(SCHEMA);
    // Added later: the pool an orphan was found on, so its bill can be booked there once released.
    const pending = sql.exec<{ name: string }>(`PRAGMA table_info(pending_releases)`).toArray().map((c) => c.name);
    if (!pending.includes("pool_id")) sql.exec(`ALTER TABLE pending_releases ADD COLUMN pool_id TEXT`);
    this.usage = new UsageBook(sql, transaction);
  }

  contract(): { tenant: string; contract: CovenantContract } | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM contract`).toArray()[0];
    return row ? (JSON.parse(row.body) as { tenant: string; contract: CovenantContract }) : undefined;
  }

  saveContract(tenant: string, contract: CovenantContract): void {
    this.sql.exec(`INSERT OR REPLACE INTO contract (singleton, body) VALUES (1, ?)`, JSON.stringify({ tenant, contract }));
  }

  deleteContract(): void {
    this.sql.exec(`DELETE FROM contract`);
  }

  leases(): StoredLease[] {
    return this.sql.exec<LeaseRow & Record<string, SqlStorageValue>>(`SELECT * FROM leases ORDER BY created_at`).toArray().map((r) => ({
      leaseId: r.lease_id,
      allocationId: r.allocation_id,
      poolId: r.pool_id,
      model: r.model,
      vramMb: r.vram_mb,
      tflops: r.tflops,
      pricePerHour: r.price_per_hour,
      preemptible: r.preemptible === 1,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      state: r.state === "draining" ? "draining" : "active",
      inFlight: 0,
      strikesServed: r.strikes_served,
      busyMs: r.busy_ms,
      busySince: null,
      lastUsedAt: r.last_used_at,
      attributedUsd: this.chargedTo(r.allocation_id),
    }));
  }

  saveLease(l: StoredLease): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO leases (lease_id, allocation_id, pool_id, model, vram_mb, tflops, price_per_hour, preemptible,
         created_at, expires_at, state, strikes_served, busy_ms, last_used_at, attributed_usd)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      l.leaseId, l.allocationId, l.poolId, l.model, l.vramMb, l.tflops, l.pricePerHour, l.preemptible ? 1 : 0,
      l.createdAt, l.expiresAt, l.state, l.strikesServed, l.busyMs, l.lastUsedAt, l.attributedUsd,
    );
  }

  /**
   * What strikes on an allocation were charged: the part of its bill already in the ledger. Failed
   * strikes count too: an agent turn refused after its retry was billed and booked where it ran.
   */
  chargedTo(allocationId: string): number {
    return this.sql.exec<{ usd: number }>(`SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM strikes WHERE allocation_id = ?`, allocationId).one().usd;
  }

  deleteLease(leaseId: string): void {
    this.sql.exec(`DELETE FROM leases WHERE lease_id = ?`, leaseId);
  }

  addPendingRelease(allocationId: string, leaseId: string | null, dueAt: number, attempts = 0, poolId: string | null = null): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO pending_releases (allocation_id, lease_id, due_at, attempts, pool_id) VALUES (?, ?, ?, ?, ?)`,
      allocationId, leaseId, dueAt, attempts, poolId,
    );
  }

  deletePendingRelease(allocationId: string): void {
    this.sql.exec(`DELETE FROM pending_releases WHERE allocation_id = ?`, allocationId);
  }

  pendingReleases(): PendingRelease[] {
    return this.sql.exec<PendingRelease & Record<string, SqlStorageValue>>(
      `SELECT allocation_id, lease_id, due_at, attempts, pool_id FROM pending_releases ORDER BY due_at`,
    ).toArray();
  }

  recordStrike(r: StrikeRecord): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO strikes (strike_id, tenant, covenant_id, key_id, model, pool_id, allocation_id, outcome, error_type,
         prompt_tokens, completion_tokens, cost_usd, allocation_seconds, created_at, total_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.strike_id, r.tenant, r.covenant_id, r.key_id, r.model, r.pool_id, r.allocation_id, r.outcome, r.error_type,
      r.prompt_tokens, r.completion_tokens, r.cost_usd, r.allocation_seconds, r.created_at, r.total_ms,
    );
  }

  recordLeaseCharge(c: { lease_id: string; allocation_id: string; model: string; pool_id: string; billed_seconds: number; cost_usd: number; at: number }): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO lease_charges (lease_id, allocation_id, model, pool_id, billed_seconds, cost_usd, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      c.lease_id, c.allocation_id, c.model, c.pool_id, c.billed_seconds, c.cost_usd, c.at,
    );
  }

  /**
   * A lease charge booked at an estimate (its release failed) made the upstream's bill, once a
   * retried release returns it: the bill less what the allocation's strikes were charged.
   */
  settleLeaseCharge(leaseId: string, billedSeconds: number, billedUsd: number): void {
    this.sql.exec(
      `UPDATE lease_charges SET billed_seconds = ?1,
         cost_usd = ?2 - (SELECT COALESCE(SUM(cost_usd), 0) FROM strikes WHERE strikes.allocation_id = lease_charges.allocation_id)
       WHERE lease_id = ?3`,
      billedSeconds, billedUsd, leaseId,
    );
  }

  /** Settled spend in [from, to): strike shares plus lease remainders, from rows and roll-ups alike. */
  spentBetween(from: number, to: number): number {
    return this.usage.spentBetween(from, to);
  }

  /** Spend and tokens in [from, to) grouped by model or pool. Lease remainders count as cost and allocation time. */
  usageBy(column: "model" | "pool_id", from: number, to: number): UsageRow[] {
    return this.usage.by(column, from, to);
  }

  strikeCount(from: number, to: number): number {
    return this.usage.strikeCount(from, to);
  }

  /** Hour × model × pool × key lines in [from, to), for the usage export. */
  usageHours(from: number, to: number): UsageHour[] {
    return this.usage.hours(from, to);
  }

  /** Rolls old ledger rows into hourly aggregates; when the next roll-up is due (null: nothing to roll). */
  rollUp(now: number, retention: Retention): number | null {
    return this.usage.rollUp(now, retention);
  }

  /**
   * Forget the covenant: it was deleted. Releases still owed upstream stay: they are obligations
   * to the pool, not records of the covenant, and the alarm keeps retrying them.
   */
  wipe(): void {
    this.sql.exec(`DELETE FROM contract; DELETE FROM leases; DELETE FROM strikes; DELETE FROM lease_charges;`);
    this.usage.wipe();
  }
}
