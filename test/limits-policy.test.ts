// Limits as pure policy (src/policy/limits.ts): buckets, slots, budgets, and what clients are told.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  admit,
  emptyLimitState,
  formatResetDuration,
  HOLD_LEASE_MS,
  LIMIT_WINDOW_MS,
  mergeViews,
  rateLimitHeaders,
  refusalAnswer,
  refusalHeaders,
  renew,
  revoke,
  settle,
  type AnyLimits,
  type LimitState,
} from "../src/policy";

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

/** Admits and returns the new state, failing the test on a refusal. */
function take(state: LimitState, limits: AnyLimits, holdId: string, tokens: number, now: number): LimitState {
  const r = admit(state, limits, { holdId, tokens }, now);
  expect(r.admission.ok, JSON.stringify(r.admission)).toBe(true);
  return r.state;
}

describe("formatResetDuration (OpenAI's x-ratelimit-reset-* format)", () => {
  it.each([
    [0, "0s"],
    [0.2, "1ms"],
    [20, "20ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [1234, "1.234s"],
    [59_999, "59.999s"],
    [60_000, "1m0s"],
    [90_500, "1m30.5s"],
    [360_000, "6m0s"],
    [3_723_000, "1h2m3s"],
  ])("%s ms → %s", (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});

describe("requests_per_minute: a burst of the whole limit, then a steady rate", () => {
  it("admits the limit at once, then one more per 60/limit seconds", () => {
    const limits = { requests_per_minute: 60 };
    let state = emptyLimitState(T0);
    for (let i = 0; i < 60; i++) state = take(state, limits, `h${i}`, 0, T0);
    const refused = admit(state, limits, { holdId: "x", tokens: 0 }, T0);
    expect(refused.admission).toMatchObject({ ok: false, refusal: { kind: "rate", limit: "requests_per_minute", value: 60, retryAfterMs: 1000 } });
    // Half a second later there is half a request: still no.
    expect(admit(state, limits, { holdId: "x", tokens: 0 }, T0 + 500).admission).toMatchObject({ ok: false, refusal: { retryAfterMs: 500 } });
    state = take(state, limits, "y", 0, T0 + 1000);
    expect(admit(state, limits, { holdId: "z", tokens: 0 }, T0 + 1000).admission.ok).toBe(false);
    // A full minute refills the whole burst, and no more.
    state = admit(state, limits, { holdId: "w", tokens: 0 }, T0 + 1000 + LIMIT_WINDOW_MS).state;
    expect(admit(state, limits, { holdId: "v", tokens: 0 }, T0 + 1000 + LIMIT_WINDOW_MS).admission).toMatchObject({ ok: true, view: { requests: { limit: 60, remaining: 58 } } });
  });

  it("keeps what was used when the limit changes", () => {
    let state = emptyLimitState(T0);
    for (let i = 0; i < 70; i++) state = take(state, { requests_per_minute: 100 }, `h${i}`, 0, T0);
    // 30 left of 100; at 50 that is -20: in debt for 21 requests' worth of refill before the next.
    const lowered = admit(state, { requests_per_minute: 50 }, { holdId: "x", tokens: 0 }, T0);
    expect(lowered.admission).toMatchObject({ ok: false, refusal: { limit: "requests_per_minute", value: 50, retryAfterMs: Math.ceil((21 * 60_000) / 50) } });
    // At 200 it is 130 left.
    const raised = admit(state, { requests_per_minute: 200 }, { holdId: "x", tokens: 0 }, T0);
    expect(raised.admission).toMatchObject({ ok: true, view: { requests: { limit: 200, remaining: 129 } } });
  });
});

describe("tokens_per_minute: reserved at admission, settled to what was used", () => {
  const limits = { tokens_per_minute: 1000 };

  it("reserves prompt + max_tokens and gives back what was not used", () => {
    let state = take(emptyLimitState(T0), limits, "a", 300, T0);
    state = take(state, limits, "b", 300, T0);
    state = take(state, limits, "c", 300, T0);
    const refused = admit(state, limits, { holdId: "d", tokens: 300 }, T0);
    // 100 left, 300 wanted: 200 tokens at 1000/min is 12 s.
    expect(refused.admission).toMatchObject({ ok: false, refusal: { limit: "tokens_per_minute", requested: 300, retryAfterMs: 12_000 } });
    state = settle(state, "a", { tokens: 100, usd: 0 }, T0).state;
    const after = admit(state, limits, { holdId: "d", tokens: 300 }, T0);
    expect(after.admission).toMatchObject({ ok: true, view: { tokens: { limit: 1000, remaining: 0 } } });
  });

  it("takes more when a strike used more than it reserved (debt), and settles a hold once", () => {
    let state = take(emptyLimitState(T0), limits, "a", 100, T0);
    state = settle(state, "a", { tokens: 400, usd: 0 }, T0).state;
    state = settle(state, "a", { tokens: 400, usd: 0 }, T0).state; // again: nothing happens
    expect(admit(state, limits, { holdId: "b", tokens: 1 }, T0).admission).toMatchObject({ ok: true, view: { tokens: { remaining: 599 } } });
  });

  it("refuses for good a request larger than the whole limit, and says not to retry", () => {
    const r = admit(emptyLimitState(T0), limits, { holdId: "a", tokens: 1001 }, T0);
    expect(r.admission).toMatchObject({ ok: false, refusal: { limit: "tokens_per_minute", tooLarge: true, requested: 1001 } });
    if (r.admission.ok) return;
    const answer = refusalAnswer("key", r.admission.refusal);
    expect(answer).toMatchObject({ status: 429, final: true, error: { type: "rate_limited", scope: "key", param: "max_tokens", limit: "tokens_per_minute", limit_value: 1000 } });
    expect(refusalHeaders(answer)).toMatchObject({ "x-should-retry": "false" });
  });
});

describe("max_concurrent: slots that are always released, and expire if a release is lost", () => {
  const limits = { max_concurrent: 2 };

  it("refuses a third strike while two run, and admits it when one ends", () => {
    let state = take(emptyLimitState(T0), limits, "a", 10, T0);
    state = take(state, limits, "b", 10, T0);
    expect(admit(state, limits, { holdId: "c", tokens: 10 }, T0).admission).toMatchObject({ ok: false, refusal: { limit: "max_concurrent", value: 2 } });
    state = settle(state, "a", { tokens: 0, usd: 0 }, T0 + 5).state;
    expect(admit(state, limits, { holdId: "c", tokens: 10 }, T0 + 5).admission.ok).toBe(true);
  });

  it("frees a slot whose holder stopped renewing, and keeps one that renews", () => {
    let state = take(emptyLimitState(T0), limits, "lost", 0, T0);
    state = take(state, limits, "alive", 0, T0);
    state = renew(state, "alive", T0 + HOLD_LEASE_MS - 1).state;
    expect(admit(state, limits, { holdId: "c", tokens: 0 }, T0 + HOLD_LEASE_MS - 1).admission.ok).toBe(false);
    const later = admit(state, limits, { holdId: "c", tokens: 0 }, T0 + HOLD_LEASE_MS);
    expect(later.admission.ok).toBe(true);
    expect(later.dropped.map((h) => h.id)).toEqual(["lost"]);
    expect(admit(later.state, limits, { holdId: "d", tokens: 0 }, T0 + HOLD_LEASE_MS).admission.ok).toBe(false);
  });
});

describe("a key's dollars per day and per month", () => {
  it("admits while the settled spend is under the limit, and resets at 00:00 UTC", () => {
    const limits = { max_usd_per_day: 1, max_usd_per_month: 1.5 };
    let state = take(emptyLimitState(T0), limits, "a", 0, T0);
    state = take(state, limits, "b", 0, T0);
    // Both were admitted under the limit; both settle: the overshoot is theirs, and bounded by them.
    state = settle(state, "a", { tokens: 0, usd: 0.6 }, T0).state;
    state = settle(state, "b", { tokens: 0, usd: 0.6 }, T0).state;
    const refused = admit(state, limits, { holdId: "c", tokens: 0 }, T0 + 1);
    expect(refused.admission).toMatchObject({ ok: false, refusal: { kind: "budget", limit: "max_usd_per_day", value: 1, spentUsd: 1.2, resetsAt: Date.UTC(2026, 11, 8) } });
    if (!refused.admission.ok) {
      expect(refusalAnswer("key", refused.admission.refusal)).toMatchObject({
        status: 402,
        error: { type: "budget_exhausted", scope: "key", budget: "max_usd_per_day", limit_usd: 1, spent_usd: 1.2, resets_at: "2026-12-08T00:00:00.000Z" },
      });
    }
    const tomorrow = Date.UTC(2026, 11, 8, 0, 0, 1);
    state = take(state, limits, "d", 0, tomorrow);
    state = settle(state, "d", { tokens: 0, usd: 0.4 }, tomorrow).state;
    expect(admit(state, limits, { holdId: "e", tokens: 0 }, tomorrow).admission).toMatchObject({ ok: false, refusal: { limit: "max_usd_per_month", spentUsd: 1.6, resetsAt: Date.UTC(2027, 0, 1) } });
    expect(admit(state, limits, { holdId: "e", tokens: 0 }, Date.UTC(2027, 0, 1)).admission.ok).toBe(true);
  });
});

describe("what clients are told", () => {
  it("names the limit that keeps the strike waiting longest, with its scope", () => {
    const limits = { requests_per_minute: 1, tokens_per_minute: 600, max_concurrent: 1 };
    const state = take(emptyLimitState(T0), limits, "a", 300, T0);
    const r = admit(state, limits, { holdId: "b", tokens: 300 }, T0);
    expect(r.admission.ok).toBe(false);
    if (r.admission.ok) return;
    // requests: 60 s; tokens: 0 (300 left); concurrency: 1 s.
    expect(r.admission.refusal).toMatchObject({ limit: "requests_per_minute", retryAfterMs: 60_000 });
    const answer = refusalAnswer("covenant", r.admission.refusal);
    expect(answer.error.message).toContain("covenant's requests_per_minute");
    expect(answer.error).toMatchObject({ type: "rate_limited", scope: "covenant", limit: "requests_per_minute", limit_value: 1, retry_after_s: 60 });
    expect(refusalHeaders(answer)).toEqual({ "retry-after": "60", "retry-after-ms": "60000" });
  });

  it("writes the six headers, derived by hand", () => {
    // 60 requests/min after one: 59 left, full again in 1 s. 6000 tokens/min after 60: 5940 left, full in 600 ms.
    const limits = { requests_per_minute: 60, tokens_per_minute: 6000 };
    const r = admit(emptyLimitState(T0), limits, { holdId: "a", tokens: 60 }, T0);
    expect(r.admission.ok).toBe(true);
    expect(rateLimitHeaders(r.admission.view)).toEqual({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-limit-tokens": "6000",
      "x-ratelimit-remaining-tokens": "5940",
      "x-ratelimit-reset-tokens": "600ms",
    });
  });

  it("merges a key's and a covenant's views per limit, keeping the tighter", () => {
    const key = { requests: { limit: 100, remaining: 90, resetMs: 6000 }, tokens: { limit: 1000, remaining: 10, resetMs: 59_000 } };
    const covenant = { requests: { limit: 10, remaining: 3, resetMs: 42_000 } };
    expect(mergeViews(key, covenant)).toEqual({ requests: covenant.requests, tokens: key.tokens });
    expect(mergeViews(undefined, undefined)).toEqual({});
  });

  it("refuses a revoked key, while what it has running still settles", () => {
    const limits = { max_concurrent: 3 };
    let state = take(emptyLimitState(T0), limits, "a", 0, T0);
    state = revoke(state);
    expect(admit(state, limits, { holdId: "b", tokens: 0 }, T0).admission).toMatchObject({ ok: false, refusal: { kind: "revoked" } });
    const settled = settle(state, "a", { tokens: 0, usd: 0 }, T0);
    expect(settled.hold?.id).toBe("a");
    expect(refusalAnswer("key", { kind: "revoked" })).toMatchObject({ status: 401, error: { type: "key_revoked" } });
  });
});

// ---- any interleaving never admits more than the limit ----------------------------------------

type Op =
  | { op: "admit"; tokens: number }
  | { op: "settle"; pick: number; used: number; usd: number }
  | { op: "renew"; pick: number }
  | { op: "edit"; limits: AnyLimits | null }
  | { op: "revoke" }
  | { op: "wait"; ms: number };

const limitsArb: fc.Arbitrary<AnyLimits> = fc.record(
  {
    requests_per_minute: fc.integer({ min: 1, max: 30 }),
    tokens_per_minute: fc.integer({ min: 50, max: 3000 }),
    max_concurrent: fc.integer({ min: 1, max: 6 }),
  },
  { requiredKeys: [] },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("admit" as const), tokens: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("settle" as const), pick: fc.nat(), used: fc.integer({ min: 0, max: 500 }), usd: fc.double({ min: 0, max: 0.5, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("renew" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("edit" as const), limits: fc.option(limitsArb, { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("revoke" as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("wait" as const), ms: fc.oneof(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 500, max: 90_000 })) }) },
);

interface Charge {
  at: number;
  /** An admission (a settlement otherwise). */
  admitted: boolean;
  requests: number;
  tokens: number;
}

/**
 * Within one epoch (a stretch of time under one unchanged limit), a token bucket of C per minute
 * can never have let through more than C + C·(b − a)/60 s in any window [a, b] that ends with an
 * admission: charges are what admissions took, less what settlements gave back (or plus what they
 * took, when a strike used more than it held — debt that later admissions must wait out).
 */
function checkWindows(charges: Charge[], kind: "requests" | "tokens", capacity: number): void {
  for (let i = 0; i < charges.length; i++) {
    let net = 0;
    for (let j = i; j < charges.length; j++) {
      net += charges[j]![kind];
      if (!charges[j]!.admitted) continue;
      const allowed = capacity + ((charges[j]!.at - charges[i]!.at) * capacity) / LIMIT_WINDOW_MS;
      expect(net, `${kind} in [${charges[i]!.at}, ${charges[j]!.at}] under ${capacity}/min`).toBeLessThanOrEqual(allowed + 1e-6);
    }
  }
}

describe("any interleaving of admissions, settlements, limit edits and revocations", () => {
  it("never admits more than the limit", () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { minLength: 1, maxLength: 80 }), (initial, ops) => {
        let now = T0;
        let limits: AnyLimits | null = initial;
        let state = emptyLimitState(now);
        let revoked = false;
        // The test's own record of what is running: id → reserved tokens and lease end.
        const running = new Map<string, { tokens: number; slot: boolean; expiresAt: number }>();
        let epoch: { limits: AnyLimits; charges: Charge[] } | null = limits ? { limits, charges: [] } : null;
        const closeEpoch = () => {
          if (!epoch) return;
          if (epoch.limits.requests_per_minute !== undefined) checkWindows(epoch.charges, "requests", epoch.limits.requests_per_minute);
          if (epoch.limits.tokens_per_minute !== undefined) checkWindows(epoch.charges, "tokens", epoch.limits.tokens_per_minute);
        };
        let next = 0;
        for (const o of ops) {
          if (o.op === "wait") now += o.ms;
          else if (o.op === "edit") {
            closeEpoch();
            limits = o.limits;
            epoch = limits ? { limits, charges: [] } : null;
          } else if (o.op === "revoke") {
            state = revoke(state);
            revoked = true;
          } else if (o.op === "renew") {
            const ids = [...running.keys()];
            if (ids.length === 0) continue;
            const id = ids[o.pick % ids.length]!;
            const r = renew(state, id, now);
            state = r.state;
            const mine = running.get(id)!;
            if (mine.expiresAt > now) mine.expiresAt = Math.max(mine.expiresAt, now + HOLD_LEASE_MS);
            expect(r.hold?.expiresAt ?? null).toBe(mine.expiresAt > now ? mine.expiresAt : null);
          } else if (o.op === "settle") {
            const ids = [...running.keys()];
            if (ids.length === 0) continue;
            const id = ids[o.pick % ids.length]!;
            const mine = running.get(id)!;
            running.delete(id);
            const r = settle(state, id, { tokens: o.used, usd: o.usd }, now);
            state = r.state;
            // A hold that outlived its lease is gone: settling it gives nothing back.
            if (mine.expiresAt > now) {
              expect(r.hold?.id).toBe(id);
              if (mine.tokens > 0) epoch?.charges.push({ at: now, admitted: false, requests: 0, tokens: o.used - mine.tokens });
            } else {
              expect(r.hold).toBeUndefined();
            }
          } else if (limits) {
            const id = `h${next++}`;
            const r = admit(state, limits, { holdId: id, tokens: o.tokens }, now);
            state = r.state;
            for (const [rid, h] of running) if (h.expiresAt <= now) running.delete(rid);
            if (r.admission.ok) {
              expect(revoked).toBe(false);
              const live = [...running.values()].filter((h) => h.slot).length;
              if (limits.max_concurrent !== undefined) expect(live + 1).toBeLessThanOrEqual(limits.max_concurrent);
              if (r.admission.hold) running.set(id, { tokens: r.admission.hold.tokens, slot: r.admission.hold.slot, expiresAt: r.admission.hold.expiresAt });
              epoch!.charges.push({ at: now, admitted: true, requests: 1, tokens: limits.tokens_per_minute !== undefined ? o.tokens : 0 });
              // What the headers say never exceeds the limit.
              for (const v of Object.values(r.admission.view)) expect(v.remaining).toBeLessThanOrEqual(v.limit);
            } else if (r.admission.refusal.kind === "rate") {
              expect(r.admission.refusal.retryAfterMs).toBeGreaterThan(0);
            }
          }
        }
        closeEpoch();
      }),
      { numRuns: 400 },
    );
  });
});
