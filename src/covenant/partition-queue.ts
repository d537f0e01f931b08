/** Strikes a covenant holds while every upstream's breaker is open, at most. */
export const PARTITION_QUEUE_LIMIT = 256;

interface Waiter {
  strikeId: string;
  rank: number;
  seq: number;
  wake: () => void;
}

/**
 * Where strikes wait out a partition: when every target's breaker is open, an accepted strike
 * waits here (bounded, each until its own deadline) instead of failing, and resumes — highest
 * priority first — when a probe brings a target back. Each waiting strike has a row in SQLite, so
 * the covenant's status shows them and a restarted object knows how many it lost.
 */
export class PartitionQueue {
  private waiters: Waiter[] = [];
  private seq = 0;
  /** Strikes that were waiting when the previous incarnation of the object stopped. */
  readonly lostOnRestart: number;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS partition_queue (strike_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, deadline INTEGER NOT NULL, enqueued_at INTEGER NOT NULL)`);
    this.lostOnRestart = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM partition_queue`).one().n;
    sql.exec(`DELETE FROM partition_queue`);
  }

  get depth(): number {
    return this.waiters.length;
  }

  get full(): boolean {
    return this.waiters.length >= PARTITION_QUEUE_LIMIT;
  }

  /** Waits until woken (a target came back, or a probe is due) or `timeoutMs` passes. */
  async wait(strikeId: string, rank: number, deadline: number, timeoutMs: number): Promise<void> {
    this.sql.exec(`INSERT OR REPLACE INTO partition_queue (strike_id, rank, deadline, enqueued_at) VALUES (?, ?, ?, ?)`, strikeId, rank, deadline, Date.now());
    try {
      await new Promise<void>((resolve) => {
        const waiter: Waiter = { strikeId, rank, seq: this.seq++, wake: () => done() };
        const timer = setTimeout(() => done(), Math.max(0, timeoutMs));
        const done = () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        };
        this.waiters.push(waiter);
      });
    } finally {
      this.sql.exec(`DELETE FROM partition_queue WHERE strike_id = ?`, strikeId);
    }
  }

  /** Resumes every waiting strike, highest priority first, oldest first within a priority. */
  wakeAll(): void {
    const order = [...this.waiters].sort((a, b) => b.rank - a.rank || a.seq - b.seq);
    for (const w of order) w.wake();
  }
}
