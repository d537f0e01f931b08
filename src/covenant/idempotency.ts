import type { StrikeInput, StrikeOutcome } from "./types";

/** How long a finished strike's answer is kept for replays of the same Idempotency-Key. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

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
  const material = JSON.stringify([input.model ?? null, input.promptText, input.maxTokens, input.temperature, input.latencySensitive, input.fusion ?? null]);
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

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, strike_id TEXT NOT NULL, created_at INTEGER NOT NULL, outcome TEXT
    )`);
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
  }
}
