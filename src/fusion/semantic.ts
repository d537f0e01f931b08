/**
 * The semantic cache: answers for near-duplicate prompts. Similarity is the Jaccard similarity
 * of character 5-gram sets of the loosely normalised text (lower case, no punctuation, single
 * spaces), estimated by MinHash with 64 hash functions (standard error ≈ 0.06 at J = 0.5, less
 * near 1, which is where thresholds sit). It catches re-typed, re-punctuated and lightly edited
 * prompts; it does not catch paraphrases, and it is not meant to — a wrong reuse is worse than a
 * miss, which is why the cache is off unless a covenant turns it on.
 *
 * Entries are scoped by tenant and by the fragment's scope digest (model, system prompt, tools,
 * sampling parameters): only the input may differ between a prompt and the one it reuses.
 */
import { tenantKey } from "./identity";
import { looseForm } from "./normalise";

const PERMUTATIONS = 64;
const SHINGLE = 5;
/** Longer inputs are not compared: their signatures cost more than the cache can save on them. */
export const SEMANTIC_MAX_CHARS = 16_384;

// Seeds for the 64 hash functions, from a fixed splitmix32 sequence: signatures are stable across isolates and versions.
const SEEDS = (() => {
  const seeds = new Uint32Array(PERMUTATIONS);
  let state = 0x9e3779b9;
  for (let i = 0; i < PERMUTATIONS; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    seeds[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return seeds;
})();

/** MurmurHash3's finaliser: a cheap, well-mixed 32-bit permutation. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a of text[from, from + len). */
function fnv1a(text: string, from: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < from + len; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The MinHash signature of a text's 5-gram set (a text shorter than 5 is its own single shingle). */
export function minhash(text: string): Uint32Array {
  const s = looseForm(text);
  const signature = new Uint32Array(PERMUTATIONS).fill(0xffffffff);
  const count = Math.max(1, s.length - SHINGLE + 1);
  for (let i = 0; i < count; i++) {
    const shingle = fnv1a(s, i, Math.min(SHINGLE, s.length));
    for (let k = 0; k < PERMUTATIONS; k++) {
      const h = mix(shingle ^ SEEDS[k]!);
      if (h < signature[k]!) signature[k] = h;
    }
  }
  return signature;
}

/** Estimated Jaccard similarity: the share of hash functions whose minima agree. */
export function similarity(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let k = 0; k < PERMUTATIONS; k++) if (a[k] === b[k]) same++;
  return same / PERMUTATIONS;
}

interface Entry<V> {
  signature: Uint32Array;
  value: V;
  expiresAt: number;
}

export interface SemanticCacheOptions {
  /** Entries kept in all, across tenants and scopes; the oldest entry of the least recently filled scope goes first. */
  maxEntries: number;
  ttlMs: number;
  now: () => number;
}

/** What the executor needs of a semantic cache: this one in memory, or a covenant object's durable one. */
export interface SemanticStore<V> {
  lookup(tenant: string, scope: string, input: string, threshold: number): { value: V; similarity: number } | undefined;
  add(tenant: string, scope: string, input: string, value: V, ttlMs?: number): void;
}

/** The most similar of `candidates` at or above `threshold`, if any. */
export function mostSimilar<V>(signature: Uint32Array, candidates: Iterable<{ signature: Uint32Array; value: V }>, threshold: number): { value: V; similarity: number } | undefined {
  let best: { value: V; similarity: number } | undefined;
  for (const e of candidates) {
    const sim = similarity(signature, e.signature);
    if (sim >= threshold && (best === undefined || sim > best.similarity)) best = { value: e.value, similarity: sim };
  }
  return best;
}

export class SemanticCache<V> implements SemanticStore<V> {
  // Insertion order is recency of filling: add() re-inserts its bucket at the end.
  private readonly buckets = new Map<string, Entry<V>[]>();
  private total = 0;

  constructor(private readonly opts: SemanticCacheOptions) {}

  get size(): number {
    return this.total;
  }

  /** The most similar live entry at or above `threshold`, if any. */
  lookup(tenant: string, scope: string, input: string, threshold: number): { value: V; similarity: number } | undefined {
    if (input.length > SEMANTIC_MAX_CHARS) return undefined;
    const key = tenantKey(tenant, scope);
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const now = this.opts.now();
    const live = bucket.filter((e) => e.expiresAt > now);
    if (live.length !== bucket.length) {
      this.total -= bucket.length - live.length;
      if (live.length === 0) this.buckets.delete(key);
      else this.buckets.set(key, live);
    }
    return mostSimilar(minhash(input), live, threshold);
  }

  add(tenant: string, scope: string, input: string, value: V, ttlMs = this.opts.ttlMs): void {
    if (input.length > SEMANTIC_MAX_CHARS || ttlMs <= 0 || this.opts.maxEntries <= 0) return;
    const key = tenantKey(tenant, scope);
    const bucket = this.buckets.get(key) ?? [];
    this.buckets.delete(key);
    bucket.push({ signature: minhash(input), value, expiresAt: this.opts.now() + ttlMs });
    this.buckets.set(key, bucket);
    this.total++;
    while (this.total > this.opts.maxEntries) {
      const first = this.buckets.entries().next();
      if (first.done) break;
      const [oldestKey, oldest] = first.value;
      oldest.shift();
      this.total--;
      if (oldest.length === 0) this.buckets.delete(oldestKey);
    }
  }
}
