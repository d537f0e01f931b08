/**
 * Limits on a key or a covenant — requests and tokens per minute, concurrent strikes, and a key's
 * daily and monthly dollars — as pure functions of (state, event, clock): no I/O, no clock of
 * their own. The single writer of a scope (the key's `KeyLimiter` object, the covenant's object)
 * keeps the state and calls these; one writer per scope is what makes them exact.
 *
 * - **Requests and tokens** are token buckets refilled continuously over a minute: a full bucket
 *   is a burst of the whole limit, then the limit's steady rate (OpenAI's semantics). A strike
 *   takes one request, and reserves its prompt plus `max_tokens`; when it ends the reservation is
 *   settled to what it used (the rest goes back; more is taken, into debt if need be).
 * - **Concurrency** is slots. A slot is a hold with a lease (HOLD_LEASE_MS) that whoever runs the
 *   strike renews while it runs and releases when it ends; a hold whose holder is gone (a crash, a
 *   lost release) expires with its lease, so no slot is lost for good.
 * - **Dollars** (a key's `max_usd_per_day`, `max_usd_per_month`, UTC): a strike is admitted while
 *   the settled spend is under the limit, and its `cost_usd` is added when it settles. Strikes
 *   already running when the limit is reached still settle, so the spend can pass the limit by at
 *   most the cost of the strikes in flight at that moment — each at most its own cost, and at most
 *   `max_concurrent` of them where the key has that limit.
 *
 * A changed limit keeps what was used: a bucket of 100 with 30 left becomes, at 50, a bucket
 * with -20 (in debt until it refills); at 200, one with 130. A removed limit forgets its bucket.
 */
import type { CovenantLimits, Limits } from "../schema/tenancy";
import { budgetDay } from "./budget";

/** Buckets refill their whole limit over this long. */
export const LIMIT_WINDOW_MS = 60_000;
/** A hold not renewed, nor settled, for this long is dropped (its holder is gone). */
export const HOLD_LEASE_MS = 60_000;
/** Whoever runs a strike renews its holds this often (well inside HOLD_LEASE_MS). */
export const HOLD_RENEW_MS = 20_000;
/** What a refused strike is told to wait when only a concurrency slot is missing. */
export const CONCURRENCY_RETRY_MS = 1_000;

export type LimitScope = "key" | "covenant";
export type RateLimitName = "requests_per_minute" | "tokens_per_minute" | "max_concurrent";
export type BudgetLimitName = "max_usd_per_day" | "max_usd_per_month";

/** Both kinds of limit as one shape (a covenant's never has the dollar ones). */
export type AnyLimits = Limits | CovenantLimits;

export interface Bucket {
  /** The limit per minute the bucket was last filled for. */
  capacity: number;
  /** What was left at `at` (negative: in debt). */
  level: number;
  at: number;
}

export interface Hold {
  id: string;
  /** Tokens reserved at admission; what is not used goes back when the hold is settled. */
  tokens: number;
  /** Whether it holds a concurrency slot. */
  slot: boolean;
  expiresAt: number;
}

export interface Spend {
  dayStart: number;
  dayUsd: number;
  monthStart: number;
  monthUsd: number;
}

export interface LimitState {
  requests: Bucket | null;
  tokens: Bucket | null;
  holds: ReadonlyMap<string, Hold>;
  spend: Spend;
  /** A revoked key is refused from then on; what it has running still settles. */
  revoked: boolean;
}

/** One limit as OpenAI's `x-ratelimit-*` headers tell it. */
export interface LimitView {
  limit: number;
  /** Whole units left now (never below 0). */
  remaining: number;
  /** Ms until the bucket is full again. */
  resetMs: number;
}

export interface RateView {
  requests?: LimitView;
  tokens?: LimitView;
}

export type LimitRefusal =
  | {
      kind: "rate";
      limit: RateLimitName;
      value: number;
      retryAfterMs: number;
      /** Tokens the strike asked for (tokens_per_minute only). */
      requested?: number;
      /** The strike asks for more tokens than the whole limit: waiting never helps. */
      tooLarge?: boolean;
    }
  | { kind: "budget"; limit: BudgetLimitName; value: number; spentUsd: number; resetsAt: number }
  | { kind: "revoked" };

export type Admission =
  | { ok: true; hold: Hold | null; view: RateView }
  | { ok: false; refusal: LimitRefusal; view: RateView };

export interface AdmitAsk {
  holdId: string;
  /** Prompt tokens plus `max_tokens`: what tokens_per_minute reserves. */
  tokens: number;
  /** How long the hold lasts unless renewed (HOLD_LEASE_MS). */
  holdMs?: number;
}

/** What a finished strike used, to settle its hold with. */
export interface Used {
  tokens: number;
  usd: number;
}

export function emptyLimitState(now: number): LimitState {
  const { dayStart, monthStart } = periods(now);
  return { requests: null, tokens: null, holds: new Map(), spend: { dayStart, dayUsd: 0, monthStart, monthUsd: 0 }, revoked: false };
}

/** Whether anything in these limits needs counting at all (a key without any costs no call). */
export function hasLimits(limits: AnyLimits | null | undefined): limits is AnyLimits {
  if (!limits) return false;
  for (const value of Object.values(limits)) if (value !== undefined && value !== null) return true;
  return false;
}

/** Per-ms refill of a bucket of `capacity` per minute. */
const rate = (capacity: number) => capacity / LIMIT_WINDOW_MS;

/** A bucket's level at `now`, refilled continuously and never above its capacity. */
export function levelAt(b: Bucket, now: number): number {
  return Math.min(b.capacity, b.level + Math.max(0, now - b.at) * rate(b.capacity));
}

/**
 * The bucket for a limit of `capacity` at `now`: a full new one when there was none, else the old
 * one refilled, with what was used carried over when the limit changed.
 */
export function bucketFor(prev: Bucket | null, capacity: number, now: number): Bucket {
  if (!prev) return { capacity, level: capacity, at: now };
  const at = Math.max(prev.at, now);
  const level = levelAt(prev, at);
  if (prev.capacity === capacity) return { capacity, level, at };
  return { capacity, level: Math.min(capacity, capacity - (prev.capacity - level)), at };
}

export function bucketView(b: Bucket, now: number): LimitView {
  const level = levelAt(b, now);
  return {
    limit: b.capacity,
    remaining: Math.max(0, Math.floor(level + 1e-9)),
    resetMs: Math.max(0, Math.ceil(((b.capacity - level) * LIMIT_WINDOW_MS) / b.capacity - 1e-9)),
  };
}

/** Ms until a bucket holds `need`, or Infinity when it never can (more than its capacity). */
function waitFor(b: Bucket, need: number, now: number): number {
  if (need > b.capacity) return Infinity;
  const level = levelAt(b, now);
  if (level >= need) return 0;
  return Math.ceil(((need - level) * LIMIT_WINDOW_MS) / b.capacity);
}

function periods(now: number): { dayStart: number; monthStart: number; dayEnd: number; monthEnd: number } {
  const day = budgetDay(now);
  const d = new Date(now);
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { dayStart: day.start, dayEnd: day.resetsAt, monthStart, monthEnd };
}

/** The spend with the day and the month rolled over to those of `now`. */
export function spendAt(spend: Spend, now: number): Spend {
  const p = periods(now);
  return {
    dayStart: p.dayStart,
    dayUsd: spend.dayStart === p.dayStart ? spend.dayUsd : 0,
    monthStart: p.monthStart,
    monthUsd: spend.monthStart === p.monthStart ? spend.monthUsd : 0,
  };
}

/** Holds whose lease has not run out. */
export function liveHolds(holds: ReadonlyMap<string, Hold>, now: number): Map<string, Hold> {
  const live = new Map<string, Hold>();
  for (const [id, h] of holds) if (h.expiresAt > now) live.set(id, h);
  return live;
}

export function slotsInUse(holds: ReadonlyMap<string, Hold>, now: number): number {
  let n = 0;
  for (const h of holds.values()) if (h.slot && h.expiresAt > now) n++;
  return n;
}

/** The buckets for these limits at `now` (limits removed forget their bucket). */
function bucketsFor(state: LimitState, limits: AnyLimits, now: number): { requests: Bucket | null; tokens: Bucket | null } {
  return {
    requests: limits.requests_per_minute !== undefined ? bucketFor(state.requests, limits.requests_per_minute, now) : null,
    tokens: limits.tokens_per_minute !== undefined ? bucketFor(state.tokens, limits.tokens_per_minute, now) : null,
  };
}

function viewOfBuckets(b: { requests: Bucket | null; tokens: Bucket | null }, now: number): RateView {
  return { ...(b.requests ? { requests: bucketView(b.requests, now) } : {}), ...(b.tokens ? { tokens: bucketView(b.tokens, now) } : {}) };
}

/** What the headers would say now, without admitting anything. */
export function rateView(state: LimitState, limits: AnyLimits, now: number): RateView {
  return viewOfBuckets(bucketsFor(state, limits, now), now);
}

/**
 * Admits a strike or refuses it, naming the limit. Admission takes one request, reserves
 * `ask.tokens`, takes a slot where there is a concurrency limit, and leaves a hold to settle (the
 * hold is null when nothing needs settling: requests alone are never given back). A refusal
 * changes nothing but the clock: buckets are refilled to `now`, expired holds dropped.
 */
export function admit(state: LimitState, limits: AnyLimits, ask: AdmitAsk, now: number): { state: LimitState; admission: Admission; dropped: Hold[] } {
  const holds = liveHolds(state.holds, now);
  const dropped = [...state.holds.values()].filter((h) => !holds.has(h.id));
  const buckets = bucketsFor(state, limits, now);
  const spend = spendAt(state.spend, now);
  const settled: LimitState = { ...state, ...buckets, holds, spend };
  const refuse = (refusal: LimitRefusal) => ({ state: settled, admission: { ok: false as const, refusal, view: viewOfBuckets(buckets, now) }, dropped });

  if (state.revoked) return refuse({ kind: "revoked" });
  const keyLimits = limits as Limits;
  const p = periods(now);
  if (keyLimits.max_usd_per_day !== undefined && spend.dayUsd >= keyLimits.max_usd_per_day) {
    return refuse({ kind: "budget", limit: "max_usd_per_day", value: keyLimits.max_usd_per_day, spentUsd: spend.dayUsd, resetsAt: p.dayEnd });
  }
  if (keyLimits.max_usd_per_month !== undefined && spend.monthUsd >= keyLimits.max_usd_per_month) {
    return refuse({ kind: "budget", limit: "max_usd_per_month", value: keyLimits.max_usd_per_month, spentUsd: spend.monthUsd, resetsAt: p.monthEnd });
  }

  // Every limit is checked; a refusal names the one that keeps the strike waiting longest.
  const refusals: Extract<LimitRefusal, { kind: "rate" }>[] = [];
  const tokens = Math.max(0, Math.ceil(ask.tokens));
  if (buckets.requests) {
    const wait = waitFor(buckets.requests, 1, now);
    if (wait > 0) refusals.push({ kind: "rate", limit: "requests_per_minute", value: buckets.requests.capacity, retryAfterMs: wait });
  }
  if (buckets.tokens) {
    const wait = waitFor(buckets.tokens, tokens, now);
    if (wait === Infinity) {
      refusals.push({ kind: "rate", limit: "tokens_per_minute", value: buckets.tokens.capacity, retryAfterMs: LIMIT_WINDOW_MS, requested: tokens, tooLarge: true });
    } else if (wait > 0) {
      refusals.push({ kind: "rate", limit: "tokens_per_minute", value: buckets.tokens.capacity, retryAfterMs: wait, requested: tokens });
    }
  }
  if (limits.max_concurrent !== undefined && slotsInUse(holds, now) >= limits.max_concurrent) {
    refusals.push({ kind: "rate", limit: "max_concurrent", value: limits.max_concurrent, retryAfterMs: CONCURRENCY_RETRY_MS });
  }
  if (refusals.length > 0) {
    const tooLarge = refusals.find((r) => r.tooLarge);
    return refuse(tooLarge ?? refusals.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a)));
  }

  const requests = buckets.requests ? { ...buckets.requests, level: buckets.requests.level - 1 } : null;
  const tokenBucket = buckets.tokens ? { ...buckets.tokens, level: buckets.tokens.level - tokens } : null;
  const needsHold = tokenBucket !== null || limits.max_concurrent !== undefined || keyLimits.max_usd_per_day !== undefined || keyLimits.max_usd_per_month !== undefined;
  const hold: Hold | null = needsHold
    ? { id: ask.holdId, tokens: tokenBucket ? tokens : 0, slot: limits.max_concurrent !== undefined, expiresAt: now + (ask.holdMs ?? HOLD_LEASE_MS) }
    : null;
  const nextHolds = hold ? new Map(holds).set(hold.id, hold) : holds;
  const next: LimitState = { ...settled, requests, tokens: tokenBucket, holds: nextHolds };
  return { state: next, admission: { ok: true, hold, view: viewOfBuckets({ requests, tokens: tokenBucket }, now) }, dropped };
}

/**
 * Settles a hold: its slot is freed, its tokens are trued up to what the strike used, its dollars
 * are added to the spend. An unknown hold (settled already) changes nothing, so a hold can be
 * settled twice safely; an expired one (its holder was taken for gone) is only dropped.
 */
export function settle(state: LimitState, holdId: string, used: Used, now: number): { state: LimitState; hold: Hold | undefined } {
  const hold = state.holds.get(holdId);
  if (!hold) return { state, hold: undefined };
  const holds = new Map(state.holds);
  holds.delete(holdId);
  if (hold.expiresAt <= now) return { state: { ...state, holds }, hold: undefined };
  let tokens = state.tokens;
  if (tokens && hold.tokens > 0) {
    const at = Math.max(tokens.at, now);
    const refund = hold.tokens - Math.max(0, used.tokens);
    tokens = { ...tokens, level: Math.min(tokens.capacity, levelAt(tokens, at) + refund), at };
  }
  const usd = Number.isFinite(used.usd) && used.usd > 0 ? used.usd : 0;
  const rolled = spendAt(state.spend, now);
  const spend = usd > 0 ? { ...rolled, dayUsd: rolled.dayUsd + usd, monthUsd: rolled.monthUsd + usd } : state.spend;
  return { state: { ...state, holds, tokens, spend }, hold };
}

/** Extends a running strike's hold; an unknown or expired one stays gone. */
export function renew(state: LimitState, holdId: string, now: number, holdMs = HOLD_LEASE_MS): { state: LimitState; hold: Hold | undefined } {
  const hold = state.holds.get(holdId);
  if (!hold || hold.expiresAt <= now) return { state, hold: undefined };
  const renewed = { ...hold, expiresAt: Math.max(hold.expiresAt, now + holdMs) };
  return { state: { ...state, holds: new Map(state.holds).set(holdId, renewed) }, hold: renewed };
}

export function revoke(state: LimitState): LimitState {
  return { ...state, revoked: true };
}

// ---- how a limit is told to clients --------------------------------------------------------

/**
 * A duration the way OpenAI's `x-ratelimit-reset-*` headers write it (Go's): `20ms`, `1s`,
 * `1.5s`, `6m0s`, `1h2m3s`.
 */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const sMs = total % 60_000;
  const s = sMs % 1000 === 0 ? String(sMs / 1000) : (sMs / 1000).toFixed(3).replace(/0{1,3}$/, ""); // toFixed(3) writes at most three zeros (test/audit: /0+$/ is quadratic)
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** The tighter of two views of one limit: fewer left, or (as many) longer until full. */
export function tighterView(a: LimitView | undefined, b: LimitView | undefined): LimitView | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a;
}

/** A key's and a covenant's views as one: per limit, the tighter. */
export function mergeViews(...views: (RateView | undefined)[]): RateView {
  let requests: LimitView | undefined;
  let tokens: LimitView | undefined;
  for (const v of views) {
    requests = tighterView(requests, v?.requests);
    tokens = tighterView(tokens, v?.tokens);
  }
  return { ...(requests ? { requests } : {}), ...(tokens ? { tokens } : {}) };
}

/** OpenAI's rate-limit headers for what is limited (three for requests, three for tokens). */
export function rateLimitHeaders(view: RateView): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [kind, v] of [["requests", view.requests], ["tokens", view.tokens]] as const) {
    if (!v) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(v.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(v.remaining);
    headers[`x-ratelimit-reset-${kind}`] = formatResetDuration(v.resetMs);
  }
  return headers;
}

/** Whole seconds to wait, at least one (the `Retry-After` header and `retry_after_s`). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** What a refusal looks like to the client: its status and error body. */
export interface RefusalAnswer {
  status: 401 | 402 | 429;
  error: {
    type: "rate_limited" | "budget_exhausted" | "key_revoked";
    message: string;
    param?: string;
    scope?: LimitScope;
    limit?: string;
    limit_value?: number;
    retry_after_s?: number;
    retry_after_ms?: number;
    requested_tokens?: number;
    budget?: string;
    limit_usd?: number;
    spent_usd?: number;
    resets_at?: string;
  };
  /** The request can never fit: clients should not retry it (`x-should-retry: false`). */
  final?: boolean;
}

const usd = (n: number) => `$${n.toFixed(4)}`;

export function refusalAnswer(scope: LimitScope, refusal: LimitRefusal): RefusalAnswer {
  const whose = scope === "key" ? "the key's" : "the covenant's";
  if (refusal.kind === "revoked") return { status: 401, error: { type: "key_revoked", message: "this key has been revoked" } };
  if (refusal.kind === "budget") {
    const resetsAt = new Date(refusal.resetsAt).toISOString();
    return {
      status: 402,
      error: {
        type: "budget_exhausted",
        message: `${whose} ${refusal.limit} of ${usd(refusal.value)} is spent (${usd(refusal.spentUsd)}); it resets at ${resetsAt}`,
        scope,
        limit: refusal.limit,
        budget: refusal.limit,
        limit_usd: refusal.value,
        spent_usd: refusal.spentUsd,
        resets_at: resetsAt,
      },
    };
  }
  const retryAfterS = retryAfterSeconds(refusal.retryAfterMs);
  const common = { type: "rate_limited" as const, scope, limit: refusal.limit, limit_value: refusal.value, retry_after_s: retryAfterS, retry_after_ms: refusal.retryAfterMs };
  if (refusal.tooLarge) {
    return {
      status: 429,
      final: true,
      error: {
        ...common,
        param: "max_tokens",
        requested_tokens: refusal.requested!,
        message: `this request needs ${refusal.requested} tokens (prompt + max_tokens), more than ${whose} whole tokens_per_minute of ${refusal.value}: it can never be admitted; lower max_tokens`,
      },
    };
  }
  const what =
    refusal.limit === "max_concurrent"
      ? `${whose} max_concurrent of ${refusal.value} strikes are running`
      : refusal.limit === "requests_per_minute"
        ? `${whose} requests_per_minute limit of ${refusal.value} is reached`
        : `${whose} tokens_per_minute limit of ${refusal.value} is reached (this request needs ${refusal.requested})`;
  return {
    status: 429,
    error: { ...common, ...(refusal.requested !== undefined ? { requested_tokens: refusal.requested } : {}), message: `${what}; retry in ${retryAfterS} s` },
  };
}

/** The headers of a refusal: when to retry, and whether to. */
export function refusalHeaders(answer: RefusalAnswer): Record<string, string> {
  const headers: Record<string, string> = {};
  if (answer.error.retry_after_s !== undefined) headers["retry-after"] = String(answer.error.retry_after_s);
  if (answer.error.retry_after_ms !== undefined) headers["retry-after-ms"] = String(answer.error.retry_after_ms);
  if (answer.final) headers["x-should-retry"] = "false";
  return headers;
}
