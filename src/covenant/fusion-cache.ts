/**
 * The covenant object's SQLite caches: fusion's fragment results, and (under tables of their own,
 * see answer-cache.ts) plain strikes' answers. A Durable Object is evicted after a short
 * idle spell (seconds locally, a minute or two when deployed), and a cache held in its memory went
 * with it: a repeat after a quiet minute missed, whatever the TTL said. Entries here live out
 * their TTL however often the object restarts. Reads and writes are synchronous SQLite calls in
 * the object's own storage, so the executor uses them exactly as it uses the in-memory caches of
 * src/fusion. Keys start with the tenant (tenantKey), as there.
 *
 * Cached answers are tenant content at rest: they are kept no longer than the covenant's
 * `fusion.cache_ttl_s`, at most `cache_max_entries` of them, and go when the covenant is deleted.
 */
import { minhash, mostSimilar, SEMANTIC_MAX_CHARS, tenantKey, type FragmentSuccess, type ResultStore, type SemanticStore } from "../fusion";

export interface CacheLimits {
  maxEntries: number;
  /** Time to live for entries set without one. */
  ttlMs: number;
}

/** Table names are fixed by the code that owns a cache, never taken from a request. */
const TABLE_NAME = /^[a-z_]{1,40}$/;

function tableName(table: string): string {
  if (!TABLE_NAME.test(table)) throw new Error(`invalid cache table name ${JSON.stringify(table)}`);
  return table;
}

/** Exact results by tenant and hash; least recently used evicted first. Fusion's fragment results by default. */
export class SqlResultCache<V = FragmentSuccess> implements ResultStore<V> {
  private readonly table: string;

  constructor(
    private readonly sql: SqlStorage,
    /** Read on every write, so a changed covenant policy applies at once. */
    private readonly limits: () => CacheLimits,
    private readonly now: () => number = Date.now,
    table = "fusion_results",
  ) {
    const t = (this.table = tableName(table));
    sql.exec(`CREATE TABLE IF NOT EXISTS ${t} (
      key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${t}_by_use ON ${t} (used_at);
    CREATE INDEX IF NOT EXISTS ${t}_by_expiry ON ${t} (expires_at);`);
  }

  get(tenant: string, hash: string): V | undefined {
    const t = this.table;
    const key = tenantKey(tenant, hash);
    const row = this.sql.exec<{ value: string; expires_at: number }>(`SELECT value, expires_at FROM ${t} WHERE key = ?`, key).toArray()[0];
    if (!row) return undefined;
    const now = this.now();
    if (row.expires_at <= now) {
      this.sql.exec(`DELETE FROM ${t} WHERE key = ?`, key);
      return undefined;
    }
    this.sql.exec(`UPDATE ${t} SET used_at = ? WHERE key = ?`, now, key);
    return JSON.parse(row.value) as V;
  }

  set(tenant: string, hash: string, value: V, ttlMs?: number): void {
    const { maxEntries, ttlMs: defaultTtl } = this.limits();
    const ttl = ttlMs ?? defaultTtl;
    if (ttl <= 0 || maxEntries <= 0) return;
    const t = this.table;
    const now = this.now();
    this.sql.exec(
      `INSERT INTO ${t} (key, value, expires_at, used_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, used_at = excluded.used_at`,
      tenantKey(tenant, hash),
      JSON.stringify(value),
      now + ttl,
      now,
    );
    this.sql.exec(`DELETE FROM ${t} WHERE expires_at <= ?`, now);
    const excess = this.size - maxEntries;
    if (excess > 0) this.sql.exec(`DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} ORDER BY used_at, rowid LIMIT ?)`, excess);
  }

  get size(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${this.table}`).one().n;
  }

  clear(): void {
    this.sql.exec(`DELETE FROM ${this.table}`);
  }
}

/** Near-duplicate answers by tenant and scope (see src/fusion/semantic.ts); oldest evicted first. Fusion's by default. */
export class SqlSemanticCache<V = FragmentSuccess> implements SemanticStore<V> {
  private readonly table: string;

  constructor(
    private readonly sql: SqlStorage,
    private readonly limits: () => CacheLimits,
    private readonly now: () => number = Date.now,
    table = "fusion_semantic",
  ) {
    const t = (this.table = tableName(table));
    sql.exec(`CREATE TABLE IF NOT EXISTS ${t} (
      id INTEGER PRIMARY KEY AUTOINCREMENT, scope_key TEXT NOT NULL, signature BLOB NOT NULL, value TEXT NOT NULL, expires_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${t}_by_scope ON ${t} (scope_key, expires_at);
    CREATE INDEX IF NOT EXISTS ${t}_by_expiry ON ${t} (expires_at);`);
  }

  lookup(tenant: string, scope: string, input: string, threshold: number): { value: V; similarity: number } | undefined {
    if (input.length > SEMANTIC_MAX_CHARS) return undefined;
    const t = this.table;
    // Signatures first; only the best match's answer is read.
    const rows = this.sql
      .exec<{ id: number; signature: ArrayBuffer }>(`SELECT id, signature FROM ${t} WHERE scope_key = ? AND expires_at > ?`, tenantKey(tenant, scope), this.now())
      .toArray();
    if (rows.length === 0) return undefined;
    const best = mostSimilar(
      minhash(input),
      rows.map((r) => ({ signature: new Uint32Array(r.signature), value: r.id })),
      threshold,
    );
    if (!best) return undefined;
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM ${t} WHERE id = ?`, best.value).one();
    return { value: JSON.parse(row.value) as V, similarity: best.similarity };
  }

  add(tenant: string, scope: string, input: string, value: V, ttlMs?: number): void {
    const { maxEntries, ttlMs: defaultTtl } = this.limits();
    const ttl = ttlMs ?? defaultTtl;
    if (input.length > SEMANTIC_MAX_CHARS || ttl <= 0 || maxEntries <= 0) return;
    const t = this.table;
    const now = this.now();
    // A copy: the signature's own buffer may be a view into a larger one.
    const signature = minhash(input).slice().buffer;
    this.sql.exec(`INSERT INTO ${t} (scope_key, signature, value, expires_at) VALUES (?, ?, ?, ?)`, tenantKey(tenant, scope), signature, JSON.stringify(value), now + ttl);
    this.sql.exec(`DELETE FROM ${t} WHERE expires_at <= ?`, now);
    const excess = this.size - maxEntries;
    if (excess > 0) this.sql.exec(`DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} ORDER BY id LIMIT ?)`, excess);
  }

  get size(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${this.table}`).one().n;
  }

  clear(): void {
    this.sql.exec(`DELETE FROM ${this.table}`);
  }
}
