import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { migrateSnapshot } from "./migrate";
import { emptySnapshot, merge, type Snapshot } from "./registry";
import { outlivesCovenant } from "./retire";

/** The one MetricsIndex of a deployment: every scrape asks this instance. */
export const METRICS_INDEX_NAME = "deployment";

/** A request to the index's ring of readings (see `readings`). */
export interface ReadingsRequest {
  /** A reading to store, unless one at most `minSpacingMs` older is already there. */
  append?: { t: number; body: string };
  minSpacingMs: number;
  /** Readings older than this, measured back from the appended one, are dropped. */
  retainMs: number;
  /** Return readings from this time on, plus the one just before it (differences need it); none when absent. */
  from?: number;
}

export interface ReadingsAnswer {
  recorded: boolean;
  /** Oldest first. */
  readings: { t: number; body: string }[];
}

/** What a scrape asks of the index first: whom to ask, and what retired covenants left behind. */
export interface MetricsSources {
  names: string[];
  /** Deployment-wide series (by pool, model, target) of covenants deleted so far, summed. */
  retired: Snapshot;
  /** Changes with every retirement: a scrape that saw it change answers again (see collect.ts). */
  epoch: number;
}

/**
 * Lists the covenant objects that have recorded metrics, so a scrape can ask each of them without
 * scanning Durable Objects (which cannot be enumerated). A covenant registers once and leaves the
 * list when it is deleted, so a scrape asks only live covenants. A deleted covenant's own series
 * (labelled with it) end there; its share of the deployment-wide series (allocation and inference
 * times by pool, GPU time, upstream failures) is folded into `retired`, so those totals never go
 * backwards, which Prometheus would read as a counter reset. Their label sets are bounded by
 * pools, models and targets, so `retired` stays small however many covenants come and go.
 *
 * It also keeps a short, bounded ring of readings of the merged metrics (opaque JSON here; the
 * dashboard defines them), so a page opened later still has recent history to draw. There is one
 * index per deployment, so every isolate's dashboard requests share one ring.
 */
export class MetricsIndex extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, registered_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS readings (t INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS retired (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, body TEXT NOT NULL)`);
  }

  register(name: string): void {
    this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO sources (name, registered_at) VALUES (?, ?)`, name, Date.now());
  }

  list(): string[] {
    return this.ctx.storage.sql.exec<{ name: string }>(`SELECT name FROM sources ORDER BY name`).toArray().map((r) => r.name);
  }

  sources(): MetricsSources {
    return { names: this.list(), ...this.retiredTotals() };
  }

  epoch(): number {
    return this.retiredTotals().epoch;
  }

  /**
   * A covenant was deleted: it leaves the list, and what its counters added to deployment-wide
   * series stays in `retired`. One synchronous step, so no scrape sees half of it.
   */
  retire(name: string, final: Snapshot): MetricsSources {
    const sql = this.ctx.storage.sql;
    const current = this.retiredTotals();
    const body = merge(current.retired, outlivesCovenant(migrateSnapshot(final))).snapshot;
    sql.exec(`INSERT OR REPLACE INTO retired (id, epoch, body) VALUES (1, ?, ?)`, current.epoch + 1, JSON.stringify(body));
    sql.exec(`DELETE FROM sources WHERE name = ?`, name);
    return this.sources();
  }

  private retiredTotals(): { retired: Snapshot; epoch: number } {
    const row = this.ctx.storage.sql.exec<{ epoch: number; body: string }>(`SELECT epoch, body FROM retired WHERE id = 1`).toArray()[0];
    // Totals kept before a metric was renamed are read under its new name.
    return row ? { retired: migrateSnapshot(JSON.parse(row.body) as Snapshot), epoch: row.epoch } : { retired: emptySnapshot(), epoch: 0 };
  }

  /**
   * Stores a reading when the last one is old enough, drops expired ones, and returns those
   * asked for. One synchronous step, so two dashboards polling at once cannot both append.
   */
  readings(req: ReadingsRequest): ReadingsAnswer {
    const sql = this.ctx.storage.sql;
    let recorded = false;
    if (req.append && Number.isFinite(req.append.t)) {
      const { t, body } = req.append;
      const last = sql.exec<{ t: number | null }>(`SELECT max(t) AS t FROM readings`).one().t;
      if (last === null || t - last >= req.minSpacingMs) {
        sql.exec(`INSERT OR REPLACE INTO readings (t, body) VALUES (?, ?)`, Math.trunc(t), body);
        recorded = true;
      }
      sql.exec(`DELETE FROM readings WHERE t < ?`, Math.trunc(t - req.retainMs));
    }
    if (req.from === undefined) return { recorded, readings: [] };
    const from = Number.isFinite(req.from) ? Math.trunc(req.from) : 0;
    const rows = sql
      .exec<{ t: number; body: string }>(
        `SELECT t, body FROM readings WHERE t >= (SELECT coalesce(max(t), ?) FROM readings WHERE t < ?) ORDER BY t`,
        from,
        from,
      )
      .toArray();
    return { recorded, readings: rows };
  }
}
