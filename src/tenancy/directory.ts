import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { DEFAULT_QUOTAS, type AuditEntry, type KeyCreate, type KeyPatch, type KeyView, type TenantQuotas } from "../schema/tenancy";
import { AuditOutbox, auditEntry, type NewAuditEntry } from "./audit";
import type { PrincipalRecord } from "../auth/principal";
import { KeyStore } from "./key-store";
import { REGISTRY_NAME } from "./registry";
import { covenantObjectName } from "../covenant/naming";

/** An MCP session counts against the quota until closed, or this long after it was last seen. */
export const MCP_SESSION_TTL_MS = 3_600_000;
/** Retry of audit delivery and of covenant retirement after a deleted tenant. */
const RETRY_MS = 5_000;

export type QuotaName = keyof TenantQuotas;
export type Refused = { ok: false; status: 403 | 404 | 409 | 410; type: string; message: string; param?: string };
export type Done<T> = { ok: true; value: T } | Refused;

/** Who asked for a change, for the audit log. */
export interface Actor {
  actor: string;
  requestId: string | null;
}

const quotaExceeded = (quota: QuotaName, limit: number): Refused => ({
  ok: false,
  status: 403,
  type: "quota_exceeded",
  message: `this tenant may hold at most ${limit} ${quota.replace("_", " ")}; the operator sets quotas`,
  param: `quotas.${quota}`,
});

/**
 * One per tenant: its covenants' list, its API keys, its quotas, its open MCP sessions, and the
 * audit entries of changes made here until the registry has them. Covenant objects stay the source
 * of truth for each contract. The single writer of everything a tenant's quotas count, so a quota
 * holds exactly however many isolates ask at once.
 */
export class TenantDirectory extends DurableObject<Env> {
  private readonly keys: KeyStore;
  private readonly outbox: AuditOutbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS covenants (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS tenant_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS mcp_sessions (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS retiring (covenant TEXT PRIMARY KEY)`);
    this.keys = new KeyStore(sql);
    this.outbox = new AuditOutbox(sql);
  }

  // ---- the tenant ------------------------------------------------------------------------------

  /** Makes this object a tenant created through the operator API. */
  async setup(tenant: string, quotas: Partial<TenantQuotas>, who: Actor): Promise<TenantQuotas> {
    const full = { ...DEFAULT_QUOTAS, ...quotas };
    this.meta("tenant", tenant);
    this.meta("quotas", JSON.stringify(full));
    this.meta("created_at", String(Date.now()));
    this.ctx.storage.sql.exec(`DELETE FROM tenant_meta WHERE k = 'deleted_at'`);
    await this.record({ tenant, kind: "tenant", action: "tenant.create", target: tenant, before: null, after: { id: tenant, quotas: full }, ...this.who(who) });
    return full;
  }

  quotas(): TenantQuotas {
    const stored = this.meta("quotas");
    return stored ? { ...DEFAULT_QUOTAS, ...(JSON.parse(stored) as Partial<TenantQuotas>) } : DEFAULT_QUOTAS;
  }

  async setQuotas(tenant: string, quotas: Partial<TenantQuotas>, who: Actor): Promise<TenantQuotas> {
    const before = this.quotas();
    const after = { ...before, ...quotas };
    this.meta("quotas", JSON.stringify(after));
    await this.record({ tenant, kind: "tenant", action: "tenant.update", target: tenant, before: { quotas: before }, after: { quotas: after }, ...this.who(who) });
    return after;
  }

  usage(now = Date.now()): { covenants: number; keys: number; mcp_sessions: number } {
    const sql = this.ctx.storage.sql;
    return {
      covenants: sql.exec<{ n: number }>(`SELECT count(*) AS n FROM covenants`).one().n,
      keys: this.keys.activeCount(now),
      mcp_sessions: sql.exec<{ n: number }>(`SELECT count(*) AS n FROM mcp_sessions WHERE seen_at > ?`, now - MCP_SESSION_TTL_MS).one().n,
    };
  }

  createdAt(): string | null {
    const at = this.meta("created_at");
    return at ? new Date(Number(at)).toISOString() : null;
  }

  deleted(): boolean {
    return this.meta("deleted_at") !== undefined;
  }

  /**
   * Deletes the tenant: every key is revoked at once, and every covenant is retired (its leases
   * released) — now if it can be, else by this object's alarm once its running strikes finish.
   */
  async removeTenant(tenant: string, who: Actor): Promise<{ keys_revoked: number; covenants: string[] }> {
    const now = Date.now();
    const revoked = this.keys.revokeAll(now);
    this.meta("deleted_at", String(now));
    const covenants = this.list().map((c) => c.id);
    for (const id of ["default", ...covenants]) this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO retiring (covenant) VALUES (?)`, id);
    this.ctx.storage.sql.exec(`DELETE FROM mcp_sessions`);
    this.meta("tenant", tenant);
    await this.record({ tenant, kind: "tenant", action: "tenant.delete", target: tenant, before: { keys: revoked, covenants }, after: null, ...this.who(who) });
    return { keys_revoked: revoked, covenants };
  }

  /** Covenants a deleted tenant still has to retire. */
  retiring(): string[] {
    return this.ctx.storage.sql.exec<{ covenant: string }>(`SELECT covenant FROM retiring ORDER BY covenant`).toArray().map((r) => r.covenant);
  }

  private retired(covenant: string): void {
    this.ctx.storage.sql.exec(`DELETE FROM retiring WHERE covenant = ?`, covenant);
    this.ctx.storage.sql.exec(`DELETE FROM covenants WHERE id = ?`, covenant);
  }

  /**
   * Retires what a deleted tenant still has: each covenant releases its leases and goes. One that
   * has strikes running answers 409 and is tried again by the alarm. Returns those left.
   */
  async retireCovenants(): Promise<string[]> {
    const tenant = this.meta("tenant");
    if (tenant === undefined) return [];
    for (const id of this.retiring()) {
      const stub = this.env.COVENANT.getByName(covenantObjectName(tenant, id));
      const r = await stub.retire(tenant, id).catch(() => undefined);
      if (r && (r.ok || r.status === 404)) this.retired(id);
    }
    const left = this.retiring();
    if (left.length > 0) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
    return left;
  }

  // ---- covenants --------------------------------------------------------------------------------

  /** Claims an id within the tenant's covenant quota. */
  add(id: string, createdAt: string): Done<true> {
    if (this.deleted()) return { ok: false, status: 410, type: "tenant_deleted", message: "this tenant was deleted" };
    const sql = this.ctx.storage.sql;
    if (sql.exec(`SELECT 1 FROM covenants WHERE id = ?`, id).toArray().length > 0) {
      return { ok: false, status: 409, type: "covenant_exists", message: `covenant ${id} already exists`, param: "id" };
    }
    const quota = this.quotas().covenants;
    if (this.usage().covenants >= quota) return quotaExceeded("covenants", quota);
    sql.exec(`INSERT INTO covenants (id, created_at) VALUES (?, ?)`, id, createdAt);
    return { ok: true, value: true };
  }

  remove(id: string): void {
    this.ctx.storage.sql.exec(`DELETE FROM covenants WHERE id = ?`, id);
  }

  list(): { id: string; created_at: string }[] {
    return this.ctx.storage.sql.exec<{ id: string; created_at: string }>(`SELECT id, created_at FROM covenants ORDER BY id`).toArray();
  }

  // ---- keys -------------------------------------------------------------------------------------

  async createKey(tenant: string, grant: KeyCreate, who: Actor): Promise<Done<{ view: KeyView; secret: string }>> {
    if (this.deleted()) return { ok: false, status: 410, type: "tenant_deleted", message: "this tenant was deleted" };
    const quota = this.quotas().keys;
    if (this.keys.activeCount(Date.now()) >= quota) return quotaExceeded("keys", quota);
    const created = await this.keys.create(tenant, grant, who.actor, Date.now());
    await this.record({ tenant, kind: "key", action: "key.create", target: created.view.id, before: null, after: created.view, ...this.who(who) });
    return { ok: true, value: created };
  }

  listKeys(): KeyView[] {
    return this.keys.list();
  }

  getKey(id: string): KeyView | undefined {
    return this.keys.get(id);
  }

  async patchKey(tenant: string, id: string, patch: KeyPatch, who: Actor): Promise<Done<KeyView>> {
    const r = this.keys.patch(id, patch);
    if (r === "not_found") return keyNotFound(id);
    if (r === "revoked") return { ok: false, status: 409, type: "key_revoked", message: `key ${id} is revoked and cannot be changed` };
    await this.record({ tenant, kind: "key", action: "key.update", target: id, before: r.before, after: r.after, ...this.who(who) });
    return { ok: true, value: r.after };
  }

  async revokeKey(tenant: string, id: string, who: Actor): Promise<Done<KeyView>> {
    const r = this.keys.revoke(id, Date.now());
    if (r === "not_found") return keyNotFound(id);
    if (r.before.revoked_at === null) await this.record({ tenant, kind: "key", action: "key.revoke", target: id, before: r.before, after: r.after, ...this.who(who) });
    return { ok: true, value: r.after };
  }

  async rotateKey(tenant: string, id: string, graceS: number, who: Actor): Promise<Done<{ view: KeyView; secret: string }>> {
    const r = await this.keys.rotate(tenant, id, graceS, Date.now());
    if (r === "not_found") return keyNotFound(id);
    if (r === "revoked") return { ok: false, status: 409, type: "key_revoked", message: `key ${id} is revoked and cannot be rotated` };
    await this.record({ tenant, kind: "key", action: "key.rotate", target: id, before: r.before, after: { ...r.after, grace_s: graceS }, ...this.who(who) });
    return { ok: true, value: { view: r.after, secret: r.secret } };
  }

  authenticate(tenant: string, hash: string): PrincipalRecord | null {
    if (this.deleted()) return null;
    return this.keys.authenticate(tenant, hash, Date.now());
  }

  /** Whether an issued key may still be used (an open MCP session asks before running work). */
  keyUsable(id: string): boolean {
    const key = this.keys.get(id);
    return !this.deleted() && key !== undefined && key.revoked_at === null && (key.expires_at === null || Date.parse(key.expires_at) > Date.now());
  }

  // ---- MCP sessions -----------------------------------------------------------------------------

  /** Counts a new session against the quota, or refuses it. */
  openMcpSession(id: string): Done<true> {
    if (this.deleted()) return { ok: false, status: 410, type: "tenant_deleted", message: "this tenant was deleted" };
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    sql.exec(`DELETE FROM mcp_sessions WHERE seen_at <= ?`, now - MCP_SESSION_TTL_MS);
    const quota = this.quotas().mcp_sessions;
    if (this.usage(now).mcp_sessions >= quota) return quotaExceeded("mcp_sessions", quota);
    sql.exec(`INSERT OR REPLACE INTO mcp_sessions (id, seen_at) VALUES (?, ?)`, id, now);
    return { ok: true, value: true };
  }

  /** A live session says so; one unseen for MCP_SESSION_TTL_MS stops counting. */
  touchMcpSession(id: string): void {
    this.ctx.storage.sql.exec(`UPDATE mcp_sessions SET seen_at = ? WHERE id = ?`, Date.now(), id);
  }

  closeMcpSession(id: string): void {
    this.ctx.storage.sql.exec(`DELETE FROM mcp_sessions WHERE id = ?`, id);
  }

  // ---- audit ------------------------------------------------------------------------------------

  /** An audit entry for a change made elsewhere on this tenant's behalf (a covenant's). */
  async recordChange(entry: NewAuditEntry): Promise<void> {
    await this.record(entry);
  }

  override async alarm(): Promise<void> {
    const delivered = await this.deliver();
    const left = await this.retireCovenants();
    if (!delivered && left.length === 0) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
  }

  /** Writes the entry with the change (same step), then hands it on; the alarm retries a failure. */
  private async record(entry: NewAuditEntry): Promise<void> {
    this.outbox.add(auditEntry(entry));
    if (!(await this.deliver())) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
  }

  private deliver(): Promise<boolean> {
    const registry = this.env.TENANT_REGISTRY.getByName(REGISTRY_NAME);
    return this.outbox.flush((entries: AuditEntry[]) => registry.appendAudit(entries));
  }

  private who(who: Actor): { actor: string; request_id: string | null } {
    return { actor: who.actor, request_id: who.requestId };
  }

  private meta(k: string, v?: string): string | undefined {
    const sql = this.ctx.storage.sql;
    if (v !== undefined) {
      sql.exec(`INSERT OR REPLACE INTO tenant_meta (k, v) VALUES (?, ?)`, k, v);
      return v;
    }
    return sql.exec<{ v: string }>(`SELECT v FROM tenant_meta WHERE k = ?`, k).toArray()[0]?.v;
  }
}

function keyNotFound(id: string): Refused {
  return { ok: false, status: 404, type: "key_not_found", message: `no key ${id}`, param: "id" };
}
