import type { StrikeInput, StrikeOutcome } from "./types";

/** How long a finished strike's answer is kept for replays of the same Idempotency-Key. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/**
 * Records a covenant keeps at most. Past it the oldest finished records go first, so a client
 * sending a fresh key with every request cannot grow the object's storage without bound; a key
 * still running is never evicted. 10,000 keys cover a day at one keyed strike every 9 s; a busier
 * covenant keeps a shorter window than the TTL, which the README states.
 */
export const IDEMPOTENCY_MAX_RECORDS = 10_000;

interface Row {
  key: string;
  fingerprint: string;
  strike_id: string;
  created_at: number;
  outcome: string | null;
}

const encoder = new TextEncoder();

/** What makes two requests "the same strike": everything that shapes the answer. */
export async function fingerprint(input: StrikeInput): Promise<string> {
  const material = JSON.stringify([input.model ?? null, input.promptText, input.maxTokens, input.temperature, input.latencySensitive, input.fusion ?? null,
    // Appended only when present, so the fingerprints of plain requests stay what they were.
    ...(input.turn !== undefined || input.seed !== undefined ? [input.turn ?? null, input.seed ?? null] : [])]);
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(material));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Client-supplied Idempotency-Keys: a strike sent twice runs (and is billed) once. The first
 * request's outcome is stored; a repeat while it runs waits for it; a repeat after it finished
 * gets the stored answer. Outcomes worth retrying (5xx) are not kept, so a retry runs again —
 * under the original strike id, so the ledger still holds the strike at most once.
 */
export class IdempotencyBook {
  private readonly inflight = new Map<string, Promise<StrikeOutcome>>();
  private count: number;

  constructor(
    private readonly sql: SqlStorage,
    private readonly maxRecords = IDEMPOTENCY_MAX_RECORDS,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, strike_id TEXT NOT NULL, created_at INTEGER NOT NULL, outcome TEXT
    )`);
    sql.exec(`CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at)`);
    this.count = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM idempotency`).one().n;
  }

  async run(input: StrikeInput & { idempotencyKey: string }, execute: (input: StrikeInput) => Promise<StrikeOutcome>): Promise<StrikeOutcome> {
    const key = input.idempotencyKey;
    const print = await fingerprint(input);
    const row = this.sql.exec<Row & Record<string, SqlStorageValue>>(`SELECT * FROM idempotency WHERE key = ?`, key).toArray()[0];
    if (row && row.fingerprint !== print) {
      return {
        ok: false,
        status: 422,
        error: { type: "idempotency_key_reused", message: "this Idempotency-Key was used for a different request", param: "idempotency-key" },
      };
    }
    if (row?.outcome) return { ...(JSON.parse(row.outcome) as StrikeOutcome), replayed: true };
    const running = this.inflight.get(key);
    if (running) return { ...(await running), replayed: true };

    const strikeId = row?.strike_id ?? input.strikeId;
    if (!row) this.sql.exec(`INSERT INTO idempotency (key, fingerprint, strike_id, created_at) VALUES (?, ?, ?, ?)`, key, print, strikeId, Date.now());
    const pending = execute({ ...input, strikeId });
    this.inflight.set(key, pending);
    if (!row && ++this.count > this.maxRecords) this.evictOldest();
    try {
      const outcome = await pending;
      if (outcome.ok || outcome.status < 500) this.sql.exec(`UPDATE idempotency SET outcome = ? WHERE key = ?`, JSON.stringify(outcome), key);
      return outcome;
    } finally {
      this.inflight.delete(key);
    }
  }

  expire(now: number): void {
    this.sql.exec(`DELETE FROM idempotency WHERE created_at < ?`, now - IDEMPOTENCY_TTL_MS);
    this.count = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM idempotency`).one().n;
  }

  /** Every record goes with the covenant: a covenant created later under the same id starts clean. */
  forget(): void {
    this.sql.exec(`DELETE FROM idempotency`);
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  private evictOldest(): void {
    const excess = this.count - this.maxRecords;
    // Oldest first, skipping keys still running (their record is what makes a repeat wait).
    const oldest = this.sql
      .exec<{ key: string }>(`SELECT key FROM idempotency ORDER BY created_at, rowid LIMIT ?`, excess + this.inflight.size + 1)
      .toArray()
      .map((r) => r.key)
      .filter((k) => !this.inflight.has(k))
      .slice(0, excess);
    for (const key of oldest) this.sql.exec(`DELETE FROM idempotency WHERE key = ?`, key);
    this.count -= oldest.length;
  }

}
