/**
 * The tenant-scoped result cache: fragment results by hash, each with its own expiry, at most
 * `maxEntries` of them, least recently used evicted first. No I/O and no clock of its own. The
 * covenant object keeps its results in SQLite instead (src/covenant/fusion-cache.ts, the same
 * ResultStore face), so that they outlive its evictions; this one serves the simulator and tests.
 * Every key starts with the tenant (see tenantKey): one tenant's hash can never find another's
 * entry, however the hashes compare.
 */
import { tenantKey } from "./identity";

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export interface ResultCacheOptions {
  maxEntries: number;
  /** Default time to live, for entries set without one. */
  ttlMs: number;
  now: () => number;
}

/** What the executor needs of a result cache: this one in memory, or a covenant object's durable one. */
export interface ResultStore<V> {
  get(tenant: string, hash: string): V | undefined;
  set(tenant: string, hash: string, value: V, ttlMs?: number): void;
}

export class ResultCache<V> implements ResultStore<V> {
  // A Map iterates in insertion order; re-inserting on every hit keeps the least recent first.
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly opts: ResultCacheOptions) {}

  get(tenant: string, hash: string): V | undefined {
    const key = tenantKey(tenant, hash);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= this.opts.now()) {
      if (entry !== undefined) this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(tenant: string, hash: string, value: V, ttlMs = this.opts.ttlMs): void {
    if (ttlMs <= 0 || this.opts.maxEntries <= 0) return;
    const key = tenantKey(tenant, hash);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.opts.now() + ttlMs });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Forgets a tenant's entries (e.g. when its covenant is deleted); every tenant's without one. */
  clear(tenant?: string): void {
    if (tenant === undefined) return this.entries.clear();
    const prefix = tenantKey(tenant, "");
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
