/**
 * The audit log: every change to tenants, keys, covenants and limits, who made it (a key id or
 * `operator`, never a secret), when, what it was before and after, and the request that asked.
 *
 * Entries are made where the change is made, in the same synchronous step (an outbox in that
 * object's SQLite), and delivered to the deployment's TenantRegistry, which keeps them for
 * AUDIT_RETENTION_DAYS. Delivery is idempotent by entry id, so an outbox retried after a failure
 * never writes an entry twice. Entries are only ever added, and dropped only by retention.
 */
import type { AuditEntry, AuditQuery } from "../schema/tenancy";

/** Default retention; a deployment may set HOMESKILLET_AUDIT_RETENTION_DAYS. */
export const AUDIT_RETENTION_DAYS = 400;
const DAY_MS = 86_400_000;
/** Entries per page when the caller does not say. */
const DEFAULT_PAGE = 100;

export type NewAuditEntry = Omit<AuditEntry, "id" | "at"> & { at?: string };

export function auditEntry(e: NewAuditEntry, now = Date.now()): AuditEntry {
  return { ...e, id: `aud_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`, at: e.at ?? new Date(now).toISOString() };
}

export function retentionDays(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && Number.isFinite(n) && n >= 1 ? Math.floor(n) : AUDIT_RETENTION_DAYS;
}

/** Entries waiting to reach the registry, kept in the changing object's own SQLite. */
export class AuditOutbox {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS audit_outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL)`);
  }

  add(entry: AuditEntry): void {
    this.sql.exec(`INSERT OR IGNORE INTO audit_outbox (id, body) VALUES (?, ?)`, entry.id, JSON.stringify(entry));
  }

  get size(): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM audit_outbox`).one().n;
  }

  /** Hands every waiting entry to `deliver`; true when none is left. */
  async flush(deliver: (entries: AuditEntry[]) => Promise<unknown>): Promise<boolean> {
    const rows = this.sql.exec<{ id: string; body: string }>(`SELECT id, body FROM audit_outbox ORDER BY rowid LIMIT 500`).toArray();
    if (rows.length === 0) return true;
    try {
      await deliver(rows.map((r) => JSON.parse(r.body) as AuditEntry));
    } catch {
      return false;
    }
    for (const r of rows) this.sql.exec(`DELETE FROM audit_outbox WHERE id = ?`, r.id);
    return this.size === 0;
  }
}

export interface AuditPage {
  object: "list";
  data: AuditEntry[];
  /** Pass as `after` for the next page; null on the last. */
  next: string | null;
}

/** The registry's side: append (idempotently), page through, and enforce retention. */
export class AuditStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly retainDays: number,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS audit (
      id TEXT PRIMARY KEY, at INTEGER NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL
    )`);
    sql.exec(`CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at, id)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, at, id)`);
  }

  append(entries: readonly AuditEntry[], now: number): void {
    for (const e of entries) {
      this.sql.exec(`INSERT OR IGNORE INTO audit (id, at, tenant, kind, body) VALUES (?, ?, ?, ?, ?)`, e.id, Date.parse(e.at), e.tenant, e.kind, JSON.stringify(e));
    }
    this.sql.exec(`DELETE FROM audit WHERE at < ?`, now - this.retainDays * DAY_MS);
  }

  /** Oldest first, from `from` to `to`, optionally one tenant's and one kind; cursor-paged. */
  page(q: AuditQuery): AuditPage {
    const limit = q.limit ?? DEFAULT_PAGE;
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.tenant !== undefined) where.push("tenant = ?"), args.push(q.tenant);
    if (q.kind !== undefined) where.push("kind = ?"), args.push(q.kind);
    if (q.from !== undefined) where.push("at >= ?"), args.push(Date.parse(q.from));
    if (q.to !== undefined) where.push("at < ?"), args.push(Date.parse(q.to));
    const cursor = q.after ? decodeCursor(q.after) : undefined;
    if (cursor) where.push("(at > ? OR (at = ? AND id > ?))"), args.push(cursor.at, cursor.at, cursor.id);
    const rows = this.sql
      .exec<{ id: string; at: number; body: string }>(
        `SELECT id, at, body FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at, id LIMIT ?`,
        ...args,
        limit + 1,
      )
      .toArray();
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return { object: "list", data: shown.map((r) => JSON.parse(r.body) as AuditEntry), next: more && last ? encodeCursor(last.at, last.id) : null };
  }
}

function encodeCursor(at: number, id: string): string {
  return `${at.toString(36)}.${id}`;
}

/** A cursor that does not parse is refused by the route (see `validCursor`). */
function decodeCursor(text: string): { at: number; id: string } | undefined {
  const dot = text.indexOf(".");
  const at = parseInt(text.slice(0, dot), 36);
  return dot > 0 && Number.isFinite(at) ? { at, id: text.slice(dot + 1) } : undefined;
}

export function validCursor(text: string): boolean {
  return /^[0-9a-z]{1,12}\.aud_[0-9a-f]{1,32}$/.test(text);
}
