/**
 * From a bearer secret to a Principal. Configured keys (HOMESKILLET_TENANT_KEYS, the dev key) are
 * read from configuration; issued keys (`hsk_live_…`) are asked of their tenant's TenantDirectory,
 * which holds only their hashes. What an isolate learns of an issued key it keeps for
 * KEY_CACHE_S seconds at most (HOMESKILLET_KEY_CACHE_S): that is how long a revocation, a rotation's
 * end or a change of limits takes to reach every isolate. The isolate that makes a change drops
 * what it had at once.
 */
import type { Env } from "../env";
import { taggedTenant } from "./tagged-secret";
import { buildKeyTable, sha256Hex, type KeyTable } from "./keys";
import { configuredPrincipal, principalOf, type Principal, type PrincipalRecord } from "./principal";

export const ISSUED_KEY_PREFIX = "hsk_live_";
/** Default seconds an isolate trusts what it learned of an issued key. */
export const KEY_CACHE_S = 5;
/** Keys one isolate remembers at most; the oldest are forgotten first. */
const CACHE_ENTRIES = 10_000;

interface Cached {
  principal: Principal | null;
  until: number;
}

// Keyed by the secret as presented, so a key this isolate already knows costs one map lookup and
// no digest (a SHA-256 is an async crossing into the runtime on every request). The isolate holds
// each secret it is sent while it serves the request anyway; the hash is still all that is stored
// or sent anywhere. A secret longer than any real key is cached by its hash, so garbage sent as
// keys cannot grow the cache beyond CACHE_ENTRIES short strings; a hash's entry is longer than
// any secret cached as itself, so no secret can be taken for another's hash.
const cache = new Map<string, Cached>();
const LONGEST_CACHED_SECRET = 256;
const HASHED = "#".repeat(LONGEST_CACHED_SECRET);
/** Which cache entries belong to which key id, so a change made here drops them at once. */
const cacheKeysOfKey = new Map<string, Set<string>>();

// The key table is derived from configuration once per isolate (configuration cannot change
// without a new isolate), keyed by the raw settings so tests with other settings stay correct.
let configured: { source: string; table: Promise<KeyTable> } | undefined;

export function tenantKeyTable(env: Env): Promise<KeyTable> {
  const source = `${env.HOMESKILLET_TENANT_KEYS ?? ""}\u0000${env.HOMESKILLET_DEV_KEY ?? ""}`;
  if (configured?.source !== source) configured = { source, table: buildKeyTable(env.HOMESKILLET_TENANT_KEYS, env.HOMESKILLET_DEV_KEY) };
  return configured.table;
}

export function keyCacheMs(env: Pick<Env, "HOMESKILLET_KEY_CACHE_S">): number {
  const n = Number(env.HOMESKILLET_KEY_CACHE_S);
  return env.HOMESKILLET_KEY_CACHE_S !== undefined && Number.isFinite(n) && n >= 0 ? n * 1000 : KEY_CACHE_S * 1000;
}

export type Resolved = { ok: true; principal: Principal } | { ok: false; reason: "invalid" | "expired" };

/** The principal behind a secret, or why there is none. */
export async function resolveKey(env: Env, secret: string, now = Date.now()): Promise<Resolved> {
  let hash = secret.length > LONGEST_CACHED_SECRET ? await sha256Hex(secret) : undefined;
  const cacheKey = hash === undefined ? secret : HASHED + hash;
  let entry = cache.get(cacheKey);
  if (!entry || entry.until <= now) {
    hash ??= await sha256Hex(secret);
    entry = { principal: await lookup(env, secret, hash), until: now + keyCacheMs(env) };
    remember(cacheKey, entry);
  }
  const p = entry.principal;
  if (!p) return { ok: false, reason: "invalid" };
  if (p.expiresAt !== null && p.expiresAt <= now) return { ok: false, reason: "expired" };
  return { ok: true, principal: p };
}

async function lookup(env: Env, secret: string, hash: string): Promise<Principal | null> {
  const tenant = (await tenantKeyTable(env)).get(hash);
  if (tenant) return configuredPrincipal(tenant);
  const owner = taggedTenant(ISSUED_KEY_PREFIX, secret);
  if (!owner) return null;
  const record: PrincipalRecord | null = await env.TENANTS.getByName(owner).authenticate(owner, hash);
  return record ? principalOf(record) : null;
}

function remember(cacheKey: string, entry: Cached): void {
  if (cache.size >= CACHE_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.delete(cacheKey);
  cache.set(cacheKey, entry);
  const keyId = entry.principal?.keyId;
  if (keyId) cacheKeysOfKey.set(keyId, (cacheKeysOfKey.get(keyId) ?? new Set()).add(cacheKey));
}

/** This isolate changed a key: forget what it knew, so its next use asks again. */
export function forgetKey(keyId: string): void {
  for (const cacheKey of cacheKeysOfKey.get(keyId) ?? []) cache.delete(cacheKey);
  cacheKeysOfKey.delete(keyId);
}

/** Forgets every key of a tenant (a deleted tenant). */
export function forgetTenant(tenant: string): void {
  for (const [cacheKey, entry] of cache) if (entry.principal?.tenant === tenant) cache.delete(cacheKey);
}
