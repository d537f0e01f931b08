/**
 * The covenant object's SQLite schema and the statements the shell runs. Everything a strike
 * must not lose (allocations held, the ledger) is written here before the strike answers.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS allocations (
  allocation_id TEXT PRIMARY KEY,
  pool_id       TEXT NOT NULL,
  model         TEXT NOT NULL,
  vram_mb       INTEGER NOT NULL,
  price_per_hour REAL NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  -- 'in_use' while a strike runs on it; 'releasing' when a release must still be sent
  state         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
  kind   TEXT NOT NULL,
  ref    TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, ref)
);
CREATE TABLE IF NOT EXISTS strikes (
  strike_id     TEXT PRIMARY KEY,
  tenant        TEXT NOT NULL,
  covenant_id   TEXT NOT NULL,
  model         TEXT NOT NULL,
  pool_id       TEXT,
  allocation_id TEXT,
  outcome       TEXT NOT NULL,
  error_type    TEXT,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd      REAL NOT NULL DEFAULT 0,
  allocation_seconds REAL NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  total_ms      REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS strikes_by_time ON strikes (created_at);
`;

export interface HeldAllocation {
  allocation_id: string;
  pool_id: string;
  model: string;
  vram_mb: number;
  price_per_hour: number;
  created_at: number;
  expires_at: number;
  state: "in_use" | "releasing";
}

export interface StrikeRecord {
  strike_id: string;
  tenant: string;
  covenant_id: string;
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

export type TimerKind = "release";

export class CovenantStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  holdAllocation(a: HeldAllocation): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO allocations (allocation_id, pool_id, model, vram_mb, price_per_hour, created_at, expires_at, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      a.allocation_id, a.pool_id, a.model, a.vram_mb, a.price_per_hour, a.created_at, a.expires_at, a.state,
    );
  }

  markReleasing(allocationId: string): void {
    this.sql.exec(`UPDATE allocations SET state = 'releasing' WHERE allocation_id = ?`, allocationId);
  }

  forgetAllocation(allocationId: string): void {
    this.sql.exec(`DELETE FROM allocations WHERE allocation_id = ?`, allocationId);
  }

  allocations(): HeldAllocation[] {
    return this.sql.exec<Record<string, SqlStorageValue>>(`SELECT * FROM allocations ORDER BY created_at`).toArray() as unknown as HeldAllocation[];
  }

  setTimer(kind: TimerKind, ref: string, dueAt: number, attempts = 0): void {
    this.sql.exec(
      `INSERT INTO timers (kind, ref, due_at, attempts) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at, attempts = excluded.attempts`,
      kind, ref, dueAt, attempts,
    );
  }

  clearTimer(kind: TimerKind, ref: string): void {
    this.sql.exec(`DELETE FROM timers WHERE kind = ? AND ref = ?`, kind, ref);
  }

  dueTimers(now: number): { kind: TimerKind; ref: string; attempts: number }[] {
    return this.sql
      .exec<{ kind: TimerKind; ref: string; attempts: number }>(`SELECT kind, ref, attempts FROM timers WHERE due_at <= ? ORDER BY due_at`, now)
      .toArray();
  }

  earliestTimer(): number | undefined {
    const row = this.sql.exec<{ due: number | null }>(`SELECT MIN(due_at) AS due FROM timers`).one();
    return row.due ?? undefined;
  }

  recordStrike(r: StrikeRecord): void {
    this.sql.exec(
      `INSERT INTO strikes (strike_id, tenant, covenant_id, model, pool_id, allocation_id, outcome, error_type,
         prompt_tokens, completion_tokens, cost_usd, allocation_seconds, created_at, total_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.strike_id, r.tenant, r.covenant_id, r.model, r.pool_id, r.allocation_id, r.outcome, r.error_type,
      r.prompt_tokens, r.completion_tokens, r.cost_usd, r.allocation_seconds, r.created_at, r.total_ms,
    );
  }

  strikeTotals(): { strikes: number; failed: number; cost_usd: number; completion_tokens: number } {
    return this.sql
      .exec<{ strikes: number; failed: number; cost_usd: number; completion_tokens: number }>(
        `SELECT COUNT(*) AS strikes, COALESCE(SUM(outcome = 'error'), 0) AS failed,
                COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(completion_tokens), 0) AS completion_tokens
         FROM strikes`,
      )
      .one();
  }
}
