/**
 * A tenant's API keys, in its TenantDirectory's SQLite. Only hashes are stored: the secret exists
 * in the answer that issues it and nowhere else. Rotation keeps the previous hash working until a
 * grace period ends; revocation and expiry are checked on every authentication.
 */
import { sha256Hex } from "../auth/keys";
import type { PrincipalRecord } from "../auth/principal";
import { newTaggedSecret } from "../auth/tagged-secret";
import type { KeyCreate, KeyPatch, KeyView, Limits, Scope } from "../schema/tenancy";

/** Issued keys start with this, so a leaked one is recognisable (and greppable by scanners). */
export const KEY_PREFIX = "hsk_live_";
/** How much of a key `prefix` shows: enough to tell keys apart, far too little to use one. */
const SHOWN_SECRET_CHARS = 6;
/** `last_used_at` is written at most this often per key, so authentication is not a write each time. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface Row {
  id: string;
  name: string;
  hash: string;
  prefix: string;
  scopes: string;
  covenants: string | null;
  models: string | null;
  limits: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  prev_hash: string | null;
  prev_expires_at: number | null;
  created_by: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
  scopes TEXT NOT NULL, covenants TEXT, models TEXT, limits TEXT,
  created_at INTEGER NOT NULL, expires_at INTEGER, last_used_at INTEGER, revoked_at INTEGER,
  prev_hash TEXT, prev_expires_at INTEGER, created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_by_prev_hash ON keys (prev_hash);
`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function keyView(row: Row): KeyView {
  return {
    id: row.id,
    object: "key",
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as Scope[],
    covenants: json<string[]>(row.covenants),
    models: json<string[]>(row.models),
    limits: json<Limits>(row.limits),
    created_at: iso(row.created_at)!,
    expires_at: iso(row.expires_at),
    last_used_at: iso(row.last_used_at),
    revoked_at: iso(row.revoked_at),
    previous_secret_expires_at: row.prev_hash !== null && row.prev_expires_at !== null ? iso(row.prev_expires_at) : null,
    created_by: row.created_by,
  };
}

function newKeyId(): string {
  return `key_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

async function mint(tenant: string): Promise<{ secret: string; hash: string; prefix: string }> {
  const secret = newTaggedSecret(KEY_PREFIX, tenant);
  const dot = secret.indexOf(".");
  return { secret, hash: await sha256Hex(secret), prefix: `${secret.slice(0, dot + 1 + SHOWN_SECRET_CHARS)}…` };
}

export class KeyStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Keys that count against the quota: not revoked and not expired. */
  activeCount(now: number): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, now).one().n;
  }

  /** Stores a new key. The secret returned is never stored or shown again. */
  async create(tenant: string, grant: KeyCreate, createdBy: string, now: number): Promise<{ view: KeyView; secret: string }> {
    const { secret, hash, prefix } = await mint(tenant);
    const id = newKeyId();
    this.sql.exec(
      `INSERT INTO keys (id, name, hash, prefix, scopes, covenants, models, limits, created_at, expires_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      grant.name,
      hash,
      prefix,
      JSON.stringify([...new Set(grant.scopes)]),
      grant.covenants ? JSON.stringify([...new Set(grant.covenants)]) : null,
      grant.models ? JSON.stringify([...new Set(grant.models)]) : null,
      grant.limits && Object.keys(grant.limits).length > 0 ? JSON.stringify(grant.limits) : null,
      now,
      grant.expires_at ? Date.parse(grant.expires_at) : null,
      createdBy,
    );
    return { view: keyView(this.row(id)!), secret };
  }

  get(id: string): KeyView | undefined {
    const row = this.row(id);
    return row ? keyView(row) : undefined;
  }

  list(): KeyView[] {
    return this.sql.exec<Row & Record<string, SqlStorageValue>>(`SELECT * FROM keys ORDER BY created_at, id`).toArray().map((r) => keyView(r as Row));
  }

  /** Name, limits and expiry; a revoked key cannot be changed. */
  patch(id: string, patch: KeyPatch): { before: KeyView; after: KeyView } | "not_found" | "revoked" {
    const row = this.row(id);
    if (!row) return "not_found";
    if (row.revoked_at !== null) return "revoked";
    const before = keyView(row);
    if (patch.name !== undefined) this.sql.exec(`UPDATE keys SET name = ? WHERE id = ?`, patch.name, id);
    if (patch.expires_at !== undefined) this.sql.exec(`UPDATE keys SET expires_at = ? WHERE id = ?`, patch.expires_at === null ? null : Date.parse(patch.expires_at), id);
    if (patch.limits !== undefined) {
      const limits = patch.limits && Object.keys(patch.limits).length > 0 ? JSON.stringify(patch.limits) : null;
      this.sql.exec(`UPDATE keys SET limits = ? WHERE id = ?`, limits, id);
    }
    return { before, after: keyView(this.row(id)!) };
  }

  revoke(id: string, now: number): { before: KeyView; after: KeyView } | "not_found" {
    const row = this.row(id);
    if (!row) return "not_found";
    const before = keyView(row);
    if (row.revoked_at === null) this.sql.exec(`UPDATE keys SET revoked_at = ?, prev_hash = NULL, prev_expires_at = NULL WHERE id = ?`, now, id);
    return { before, after: keyView(this.row(id)!) };
  }

  /** Revokes every key (a deleted tenant); returns how many were live. */
  revokeAll(now: number): number {
    const live = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM keys WHERE revoked_at IS NULL`).one().n;
    this.sql.exec(`UPDATE keys SET revoked_at = ?, prev_hash = NULL, prev_expires_at = NULL WHERE revoked_at IS NULL`, now);
    return live;
  }

  /** A new secret; the old one keeps working for `graceS` seconds, then never. */
  async rotate(tenant: string, id: string, graceS: number, now: number): Promise<{ before: KeyView; after: KeyView; secret: string } | "not_found" | "revoked"> {
    const row = this.row(id);
    if (!row) return "not_found";
    if (row.revoked_at !== null) return "revoked";
    const before = keyView(row);
    const { secret, hash, prefix } = await mint(tenant);
    this.sql.exec(
      `UPDATE keys SET hash = ?, prefix = ?, prev_hash = ?, prev_expires_at = ? WHERE id = ?`,
      hash,
      prefix,
      graceS > 0 ? row.hash : null,
      graceS > 0 ? now + graceS * 1000 : null,
      id,
    );
    return { before, after: keyView(this.row(id)!), secret };
  }

  /**
   * The grant behind a key's hash, or null when it is unknown, revoked, expired, or a rotated-out
   * secret past its grace. Notes the use (at most once a minute per key).
   */
  authenticate(tenant: string, hash: string, now: number): PrincipalRecord | null {
    const row = this.sql
      .exec<Row & Record<string, SqlStorageValue>>(`SELECT * FROM keys WHERE hash = ? OR prev_hash = ?`, hash, hash)
      .toArray()[0] as Row | undefined;
    if (!row || row.revoked_at !== null) return null;
    if (row.expires_at !== null && row.expires_at <= now) return null;
    const current = row.hash === hash;
    if (!current && (row.prev_expires_at === null || row.prev_expires_at <= now)) return null;
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      this.sql.exec(`UPDATE keys SET last_used_at = ? WHERE id = ?`, now, row.id);
    }
    // A secret in its grace period stops working when the grace ends, even if cached until then.
    const ends = [row.expires_at, current ? null : row.prev_expires_at].filter((t): t is number => t !== null);
    return {
      tenant,
      keyId: row.id,
      scopes: JSON.parse(row.scopes) as Scope[],
      covenants: json<string[]>(row.covenants),
      models: json<string[]>(row.models),
      limits: json<Limits>(row.limits),
      expiresAt: ends.length > 0 ? Math.min(...ends) : null,
    };
  }

  private row(id: string): Row | undefined {
    return this.sql.exec<Row & Record<string, SqlStorageValue>>(`SELECT * FROM keys WHERE id = ?`, id).toArray()[0] as Row | undefined;
  }
}
