import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

/**
 * One per tenant: the list of the tenant's covenants, so they can be listed without scanning
 * objects. Covenant objects stay the source of truth for each contract.
 */
export class TenantDirectory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS covenants (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)`);
  }

  /** Claims an id; false when the tenant already has a covenant by that name. */
  add(id: string, createdAt: string): boolean {
    const inserted = this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO covenants (id, created_at) VALUES (?, ?)`, id, createdAt);
    return inserted.rowsWritten > 0;
  }

  remove(id: string): void {
    this.ctx.storage.sql.exec(`DELETE FROM covenants WHERE id = ?`, id);
  }

  list(): { id: string; created_at: string }[] {
    return this.ctx.storage.sql.exec<{ id: string; created_at: string }>(`SELECT id, created_at FROM covenants ORDER BY id`).toArray();
  }
}
