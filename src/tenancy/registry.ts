import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { AuditEntry, AuditQuery } from "../schema/tenancy";
import { AuditStore, retentionDays, type AuditPage } from "./audit";

/** The one TenantRegistry of a deployment. */
export const REGISTRY_NAME = "deployment";

export interface RegisteredTenant {
  id: string;
  created_at: string;
}

/**
 * The deployment's list of tenants created through the operator API, and its audit log. Changes
 * to a tenant's keys, quotas and covenants are made in that tenant's objects; this object only
 * learns of them as audit entries. Tenants from configuration (HOMESKILLET_TENANT_KEYS, the dev
 * key) are not listed here: they exist while configured.
 */
export class TenantRegistry extends DurableObject<Env> {
  private readonly audit: AuditStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)`);
    this.audit = new AuditStore(ctx.storage.sql, retentionDays(env.HOMESKILLET_AUDIT_RETENTION_DAYS));
  }

  /** Claims a tenant id; false when it is taken. */
  claim(id: string, now: number): boolean {
    return this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?, ?)`, id, now).rowsWritten > 0;
  }

  release(id: string): boolean {
    return this.ctx.storage.sql.exec(`DELETE FROM tenants WHERE id = ?`, id).rowsWritten > 0;
  }

  has(id: string): boolean {
    return this.ctx.storage.sql.exec(`SELECT 1 FROM tenants WHERE id = ?`, id).toArray().length > 0;
  }

  /** Tenants in id order, `limit` after `after`. */
  list(after: string | undefined, limit: number): RegisteredTenant[] {
    return this.ctx.storage.sql
      .exec<{ id: string; created_at: number }>(`SELECT id, created_at FROM tenants WHERE id > ? ORDER BY id LIMIT ?`, after ?? "", limit)
      .toArray()
      .map((r) => ({ id: r.id, created_at: new Date(r.created_at).toISOString() }));
  }

  appendAudit(entries: AuditEntry[]): void {
    this.audit.append(entries, Date.now());
  }

  auditPage(query: AuditQuery): AuditPage {
    return this.audit.page(query);
  }
}
