/**
 * The answer cache: plain strikes' answers, kept in the covenant object's SQLite so a repeat is
 * answered without touching the upstream. The covenant's `cache` section decides:
 *
 *   mode          off | deterministic (temperature 0 only, the default) | always (any temperature)
 *   ttl_s         how long an answer is served (checked against the current setting on every hit)
 *   max_entries   answers kept (and, with `semantic`, as many signatures), least recently used first out
 *   semantic      also answer near-duplicates, at `semantic_threshold` (MinHash, src/fusion/semantic.ts)
 *
 * Never cached: agent turns (tools, response formats: the answer is checked per request), fused
 * requests and their fragments (fusion has caches of its own), and — whatever the mode says — a
 * strike at a non-zero temperature unless the covenant chose `always`.
 *
 * **Exact** means everything that shapes the answer: the tenant (every key starts with it, see
 * tenantKey), the covenant, the resolved model, the prompt exactly as the upstream would get it,
 * max_tokens, temperature and seed. **Semantic** keeps all of those exact but the last user turn:
 * the system prompt and earlier turns of a conversation must be identical, and only the text of
 * the last user message is compared loosely — so a changed instruction never reuses an answer.
 *
 * The storage is fusion's (SqlResultCache and SqlSemanticCache of fusion-cache.ts) under tables
 * of its own; entries go when the covenant is deleted (`forget`).
 */
import { canonicalJson, sha256Hex } from "../fusion";
import type { CovenantContract, StrikeCache, Usage } from "../schema";
import { SqlResultCache, SqlSemanticCache, type CacheLimits } from "./fusion-cache";
import type { StrikeInput } from "./types";

/** What is kept of an answer: enough to serve it again and to say what it saved. */
export interface CachedAnswer {
  text: string;
  finishReason: "stop" | "length";
  model: string;
  /** What the original inference reported and cost: what a hit saves. */
  usage: Usage;
  costUsd: number;
  /** The strike that ran it, and when it ended (epoch ms). */
  strikeId: string;
  createdAt: number;
}

/** Where a strike stands with the cache: how to look it up, or why it is not looked up. */
export type CacheVerdict = { use: true; settings: CovenantContract["cache"] } | { use: false; reason: string };

/** Whether this strike's answer may come from (and go to) the cache. Pure. */
export function cacheVerdict(contract: CovenantContract, input: StrikeInput, fragment: boolean): CacheVerdict {
  const settings = contract.cache;
  if (settings.mode === "off") return { use: false, reason: "the covenant's cache is off" };
  if (fragment || input.fusion) return { use: false, reason: "fused requests use fusion's caches" };
  if (input.turn) return { use: false, reason: "agent turns are never cached" };
  if (settings.mode === "deterministic" && input.temperature !== 0) return { use: false, reason: "a non-zero temperature under mode deterministic" };
  return { use: true, settings };
}

/** The strike's identity in the cache: the exact key, and for near-duplicates the scope and loose text. */
export interface AnswerIdentity {
  hash: string;
  /** Everything but the last user turn, digested: near-duplicates must share it exactly. */
  scope: string;
  /** The last user turn's text (or the whole prompt), compared loosely. */
  loose: string;
}

const LAST_TURN = "\nuser: ";

/**
 * The prompt cut before its last user turn: what comes before must match exactly, the turn itself
 * only loosely. Plain prompts and single user messages have no context. One backward scan.
 */
export function splitLastTurn(prompt: string): { context: string; turn: string } {
  const at = prompt.lastIndexOf(LAST_TURN);
  if (at >= 0) return { context: prompt.slice(0, at + 1), turn: prompt.slice(at + LAST_TURN.length) };
  if (prompt.startsWith(LAST_TURN.slice(1))) return { context: "", turn: prompt.slice(LAST_TURN.length - 1) };
  return { context: "", turn: prompt };
}

export async function answerIdentity(input: StrikeInput, model: string): Promise<AnswerIdentity> {
  const params = { v: 1, covenant: input.covenantId, model, max_tokens: input.maxTokens, temperature: input.temperature, seed: input.seed ?? null };
  const { context, turn } = splitLastTurn(input.promptText);
  const [hash, scope] = await Promise.all([sha256Hex(canonicalJson({ ...params, prompt: input.promptText })), sha256Hex(canonicalJson({ ...params, context }))]);
  return { hash: `answer/${hash}`, scope: `answer/${scope}`, loose: turn };
}

/** A cached answer found for a strike. */
export interface CacheHit {
  status: "hit" | "semantic";
  similarity: number;
  answer: CachedAnswer;
}

export class AnswerCache {
  private limits: CacheLimits = { maxEntries: 1, ttlMs: 1 };
  private readonly exact: SqlResultCache<CachedAnswer>;
  private readonly near: SqlSemanticCache<CachedAnswer>;

  constructor(
    sql: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {
    this.exact = new SqlResultCache<CachedAnswer>(sql, () => this.limits, now, "answer_results");
    this.near = new SqlSemanticCache<CachedAnswer>(sql, () => this.limits, now, "answer_semantic");
  }

  /** The exact answer, else (with `semantic` on) the nearest at or above the threshold; none older than `ttl_s`. */
  lookup(tenant: string, id: AnswerIdentity, settings: CovenantContract["cache"]): CacheHit | undefined {
    const fresh = (a: CachedAnswer) => this.now() - a.createdAt < settings.ttl_s * 1000;
    const exact = this.exact.get(tenant, id.hash);
    if (exact && fresh(exact)) return { status: "hit", similarity: 1, answer: exact };
    if (!settings.semantic) return undefined;
    const near = this.near.lookup(tenant, id.scope, id.loose, settings.semantic_threshold);
    return near && fresh(near.value) ? { status: "semantic", similarity: near.similarity, answer: near.value } : undefined;
  }

  store(tenant: string, id: AnswerIdentity, answer: CachedAnswer, settings: CovenantContract["cache"]): void {
    this.limits = { maxEntries: settings.max_entries, ttlMs: settings.ttl_s * 1000 };
    this.exact.set(tenant, id.hash, answer);
    if (settings.semantic) this.near.add(tenant, id.scope, id.loose, answer);
  }

  get size(): { exact: number; semantic: number } {
    return { exact: this.exact.size, semantic: this.near.size };
  }

  /** Drops every cached answer (the covenant is being deleted). */
  forget(): void {
    this.exact.clear();
    this.near.clear();
  }
}

/** The strike response's `cache` field for a hit. */
export function hitReport(hit: CacheHit, now: number): StrikeCache {
  return {
    status: hit.status,
    ...(hit.status === "semantic" ? { similarity: hit.similarity } : {}),
    source_strike_id: hit.answer.strikeId,
    age_s: Math.max(0, Math.round((now - hit.answer.createdAt) / 1000)),
    saved_usd: hit.answer.costUsd,
    saved_tokens: hit.answer.usage.total_tokens,
  };
}

/**
 * A cached answer as a stream's tokens: word by word (each word with the spaces after it), as an
 * upstream would send them, without waiting between pieces. One pass over the text.
 */
export function streamPieces(text: string): string[] {
  const pieces: string[] = [];
  let from = 0;
  let inSpace = false;
  for (let i = 0; i < text.length; i++) {
    const space = text.charCodeAt(i) <= 0x20;
    if (!space && inSpace && i > from) {
      pieces.push(text.slice(from, i));
      from = i;
    }
    inSpace = space;
  }
  if (from < text.length) pieces.push(text.slice(from));
  return pieces;
}
