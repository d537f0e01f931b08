/**
 * A covenant's usage over months, in bounded storage. Every strike is a ledger row (`strikes`) and
 * every lease's idle remainder a charge (`lease_charges`); rows older than the raw retention (7 days
 * by default) roll up into hourly aggregates per model, pool, key and outcome (`usage_hourly`), kept
 * for the aggregate retention (400 days). Usage, spend and the export answer from rows and
 * aggregates alike, so a roll-up changes no total: an hour that has rolled up is counted when it
 * starts inside the period asked for, which for periods older than the raw retention makes the
 * hour the resolution.
 */

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
export const RAW_RETENTION_DAYS = 7;
export const AGGREGATE_RETENTION_DAYS = 400;
/** Hours rolled up in one pass at most, so one alarm never holds the object for long. */
const HOURS_PER_PASS = 24;

export interface Retention {
  rawMs: number;
  aggregateMs: number;
}

function days(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** `HOMESKILLET_LEDGER_RAW_DAYS` and `HOMESKILLET_LEDGER_AGGREGATE_DAYS`, or the defaults. */
export function retentionFrom(env: { HOMESKILLET_LEDGER_RAW_DAYS?: string; HOMESKILLET_LEDGER_AGGREGATE_DAYS?: string }): Retention {
  return {
    rawMs: days(env.HOMESKILLET_LEDGER_RAW_DAYS, RAW_RETENTION_DAYS) * DAY_MS,
    aggregateMs: days(env.HOMESKILLET_LEDGER_AGGREGATE_DAYS, AGGREGATE_RETENTION_DAYS) * DAY_MS,
  };
}

export const hourOf = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS;

export interface UsageRow {
  key: string;
  strikes: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  allocation_seconds: number;
  /** cost_usd per thousand tokens (prompt and completion) of the line; null without tokens. */
  usd_per_1k_tokens: number | null;
}

/**
 * Dollars per thousand tokens: what a line cost (its strikes' charges, its leases' idle remainders
 * and any billed failure) over the tokens it processed, prompt and completion alike. null when it
 * processed none (a lease held and never used), since no price per token exists then.
 */
export function usdPer1kTokens(costUsd: number, tokens: number): number | null {
  return tokens > 0 ? (costUsd / tokens) * 1000 : null;
}

/** One line of the usage export: an hour of one model on one pool under one key. */
export interface UsageHour {
  hour: number;
  model: string;
  pool_id: string;
  key_id: string;
  strikes: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  allocation_seconds: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS usage_hourly (
  hour INTEGER NOT NULL,
  model TEXT NOT NULL,
  pool_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  strikes INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  allocation_seconds REAL NOT NULL,
  PRIMARY KEY (hour, model, pool_id, key_id, outcome)
);
`;

/** Events that cost something: successful strikes, lease remainders, and failures that were billed. */
const BILLED = `(outcome IN ('ok', 'lease') OR cost_usd > 0)`;

const ADD = `ON CONFLICT (hour, model, pool_id, key_id, outcome) DO UPDATE SET
  strikes = strikes + excluded.strikes, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
  completion_tokens = completion_tokens + excluded.completion_tokens, cost_usd = cost_usd + excluded.cost_usd,
  allocation_seconds = allocation_seconds + excluded.allocation_seconds`;

/**
 * Every priced event in [from, to) as (hour, model, pool, key, outcome, amounts): raw strikes, raw
 * lease charges (outcome `lease`), and rolled-up hours. The one source every usage query reads.
 * Allocation seconds are the GPU-slice seconds Hosted.AI billed, which lease charges carry; a
 * strike's own busy time is not billed apart from its lease, so strikes add none.
 */
const EVENTS = `
  SELECT (created_at / ${HOUR_MS}) * ${HOUR_MS} AS hour, model, COALESCE(pool_id, '') AS pool_id, COALESCE(key_id, '') AS key_id, outcome,
         1 AS strikes, prompt_tokens, completion_tokens, cost_usd, 0 AS allocation_seconds
  FROM strikes WHERE created_at >= ?1 AND created_at < ?2
  UNION ALL
  SELECT (at / ${HOUR_MS}) * ${HOUR_MS}, model, pool_id, '', 'lease', 0, 0, 0, cost_usd, billed_seconds
  FROM lease_charges WHERE at >= ?1 AND at < ?2
  UNION ALL
  SELECT hour, model, pool_id, key_id, outcome, strikes, prompt_tokens, completion_tokens, cost_usd, allocation_seconds
  FROM usage_hourly WHERE hour >= ?1 AND hour < ?2`;

export class UsageBook {
  constructor(
    private readonly sql: SqlStorage,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    sql.exec(SCHEMA);
    // Ledgers written before strikes carried their key gain the column.
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(strikes)`).toArray().map((c) => c.name);
    if (!columns.includes("key_id")) sql.exec(`ALTER TABLE strikes ADD COLUMN key_id TEXT`);
  }

  /** Settled spend in [from, to), successful or not, with lease remainders. */
  spentBetween(from: number, to: number): number {
    return this.sql.exec<{ usd: number }>(`SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM (${EVENTS})`, from, to).one().usd;
  }

  /**
   * Spend and tokens in [from, to) of successful strikes, plus lease remainders and failures the
   * upstream billed (an agent turn refused after its retry), grouped by model or pool.
   */
  by(column: "model" | "pool_id", from: number, to: number): UsageRow[] {
    return this.sql
      .exec<Omit<UsageRow, "usd_per_1k_tokens"> & Record<string, SqlStorageValue>>(
        `SELECT ${column} AS key, SUM(CASE WHEN outcome = 'ok' THEN strikes ELSE 0 END) AS strikes, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
                SUM(cost_usd) AS cost_usd, SUM(allocation_seconds) AS allocation_seconds
         FROM (${EVENTS}) WHERE ${BILLED} AND ${column} != '' GROUP BY ${column} ORDER BY cost_usd DESC, key`,
        from,
        to,
      )
      .toArray()
      .map((r) => ({ ...r, usd_per_1k_tokens: usdPer1kTokens(r.cost_usd, r.prompt_tokens + r.completion_tokens) }));
  }

  strikeCount(from: number, to: number): number {
    return this.sql.exec<{ n: number }>(`SELECT COALESCE(SUM(strikes), 0) AS n FROM (${EVENTS}) WHERE outcome = 'ok'`, from, to).one().n;
  }

  /** Hour × model × pool × key lines for the usage export, oldest first. */
  hours(from: number, to: number): UsageHour[] {
    return this.sql
      .exec<UsageHour & Record<string, SqlStorageValue>>(
        `SELECT hour, model, pool_id, key_id, SUM(CASE WHEN outcome = 'ok' THEN strikes ELSE 0 END) AS strikes,
                SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
                SUM(cost_usd) AS cost_usd, SUM(allocation_seconds) AS allocation_seconds
         FROM (${EVENTS}) WHERE ${BILLED} GROUP BY hour, model, pool_id, key_id ORDER BY hour, model, pool_id, key_id`,
        from,
        to,
      )
      .toArray();
  }

  /**
   * Rolls complete hours older than the raw retention into aggregates (rows and their sums move in
   * one transaction, so no total ever sees both or neither), at most HOURS_PER_PASS hours a pass;
   * drops aggregates past their retention. Returns when the next roll-up is due (now, when this
   * pass left some), or null while there are no raw rows at all.
   */
  rollUp(now: number, retention: Retention): number | null {
    const cutoff = hourOf(now - retention.rawMs);
    this.sql.exec(`DELETE FROM usage_hourly WHERE hour < ?`, hourOf(now - retention.aggregateMs));
    const oldest = this.oldestRaw();
    if (oldest === null) return null;
    if (oldest >= cutoff) return hourOf(oldest) + HOUR_MS + retention.rawMs;
    const until = Math.min(cutoff, hourOf(oldest) + HOURS_PER_PASS * HOUR_MS);
    this.transaction(() => {
      this.sql.exec(
        `INSERT INTO usage_hourly (hour, model, pool_id, key_id, outcome, strikes, prompt_tokens, completion_tokens, cost_usd, allocation_seconds)
         SELECT (created_at / ${HOUR_MS}) * ${HOUR_MS}, model, COALESCE(pool_id, ''), COALESCE(key_id, ''), outcome,
                COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), 0
         FROM strikes WHERE created_at < ?1 GROUP BY 1, 2, 3, 4, 5 ${ADD}`,
        until,
      );
      this.sql.exec(
        `INSERT INTO usage_hourly (hour, model, pool_id, key_id, outcome, strikes, prompt_tokens, completion_tokens, cost_usd, allocation_seconds)
         SELECT (at / ${HOUR_MS}) * ${HOUR_MS}, model, pool_id, '', 'lease', 0, 0, 0, SUM(cost_usd), SUM(billed_seconds)
         FROM lease_charges WHERE at < ?1 GROUP BY 1, 2, 3 ${ADD}`,
        until,
      );
      this.sql.exec(`DELETE FROM strikes WHERE created_at < ?`, until);
      this.sql.exec(`DELETE FROM lease_charges WHERE at < ?`, until);
    });
    const next = this.oldestRaw();
    return next === null ? null : until < cutoff ? now : hourOf(next) + HOUR_MS + retention.rawMs;
  }

  private oldestRaw(): number | null {
    return this.sql
      .exec<{ t: number | null }>(`SELECT MIN(t) AS t FROM (SELECT MIN(created_at) AS t FROM strikes UNION ALL SELECT MIN(at) FROM lease_charges)`)
      .one().t;
  }

  wipe(): void {
    this.sql.exec(`DELETE FROM usage_hourly`);
  }
}
