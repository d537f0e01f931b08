import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/** The one MetricsIndex of a deployment: every scrape asks this instance. */
export const METRICS_INDEX_NAME = "deployment";

/**
 * Lists the covenant objects that have recorded metrics, so a scrape can ask each of them without
 * scanning Durable Objects (which cannot be enumerated). A covenant registers once; the list only
 * grows, because a retired covenant's counters stay in its object and must keep being summed, or
 * the deployment's totals would go backwards.
 */
export class MetricsIndex extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, registered_at INTEGER NOT NULL)`);
  }

  register(name: string): void {
    this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO sources (name, registered_at) VALUES (?, ?)`, name, Date.now());
  }

  list(): string[] {
    return this.ctx.storage.sql.exec<{ name: string }>(`SELECT name FROM sources ORDER BY name`).toArray().map((r) => r.name);
  }
}
