// A key's limits: the KeyLimiter object (one per limited key) and the edge's admission, driven
// with hand-made principals — exactly as the auth middleware hands them to the strike service.
import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runStrike, startStreamedStrike, type Caller, type StrikeAsk } from "../src/api/strike-service";
import type { Principal } from "../src/auth/principal";
import { admitForKey, KeyLimiter, keyLimiterName } from "../src/limits";
import { formatResetDuration, LIMIT_WINDOW_MS, type AnyLimits } from "../src/policy";
import type { Limits } from "../src/schema";
import { eventually, createCovenant } from "./support/covenants";
import { call, strike } from "./support/gateway";
import { expectBurstAdmitted, rateLimitHeadersOf } from "./support/ratelimit";

function principal(limits: Limits | null, narrowing: { models?: string[]; covenants?: string[] } = {}): Principal {
  return {
    tenant: "dev",
    keyId: `key_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
    scopes: new Set(["strike"]),
    covenants: narrowing.covenants ?? null,
    models: narrowing.models ?? null,
    limits,
    expiresAt: null,
  };
}

const caller = (p: Principal): Caller => ({ env, tenant: p.tenant, principal: p });
const limiterOf = (p: Principal) => env.KEY_LIMITER.getByName(keyLimiterName(p.tenant, p.keyId));

function ask(overrides: Partial<StrikeAsk> = {}): StrikeAsk {
  return { covenantId: "default", model: "gemma-2b-it", prompt: "hello from a key", maxTokens: 16, temperature: 0, latencySensitive: false, ...overrides };
}

const rateHeaders = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith("x-ratelimit-")));

describe("the KeyLimiter object", () => {
  it("admits exactly the limit of 200 concurrent admissions", async () => {
    const p = principal({ requests_per_minute: 50 });
    const stub = limiterOf(p);
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => stub.admit(p.limits!, `h${i}`, 10)));
    const refused = results.filter((r) => !r.ok);
    expectBurstAdmitted(results.filter((r) => r.ok).length, refused.length, 200, 50, Date.now() - t0);
    expect(refused[0]).toMatchObject({ ok: false, refusal: { kind: "rate", limit: "requests_per_minute", value: 50 } });
  });

  it("never holds more slots than max_concurrent, and a settled slot comes back", async () => {
    const p = principal({ max_concurrent: 5 });
    const stub = limiterOf(p);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => stub.admit(p.limits!, `h${i}`, 10)));
    const admitted = results.flatMap((r) => (r.ok && r.hold ? [r.hold.id] : []));
    expect(admitted.length).toBe(5);
    expect((await stub.status(p.limits!)).slots).toBe(5);
    expect((await stub.admit(p.limits!, "late", 10)).ok).toBe(false);
    await stub.settle(admitted[0]!, { tokens: 0, usd: 0 });
    await stub.settle(admitted[0]!, { tokens: 0, usd: 0 }); // twice: no second slot
    expect((await stub.admit(p.limits!, "late", 10)).ok).toBe(true);
    expect((await stub.admit(p.limits!, "later", 10)).ok).toBe(false);
  });

  it("keeps its buckets, holds and spend through a restart, and lets an abandoned hold expire", async () => {
    const p = principal({ requests_per_minute: 3, max_concurrent: 2, max_usd_per_day: 10 });
    const stub = limiterOf(p);
    expect((await stub.admit(p.limits!, "a", 10)).ok).toBe(true);
    expect((await stub.admit(p.limits!, "b", 10)).ok).toBe(true);
    await stub.settle("a", { tokens: 5, usd: 1.25 });
    await runInDurableObject(stub, async (_instance, state) => {
      // A new instance over the same storage: what an eviction and the next request would see.
      const restarted = new KeyLimiter(state, env);
      const status = restarted.status(p.limits!);
      expect(status).toMatchObject({ slots: 1, holds: 1, spend: { day_usd: 1.25 }, revoked: false, view: { requests: { limit: 3, remaining: 1 } } });
      expect(restarted.admit(p.limits!, "c", 10).ok).toBe(true);
      expect(restarted.admit(p.limits!, "d", 10)).toMatchObject({ ok: false, refusal: { limit: "requests_per_minute" } });
      // Whoever ran "b" and "c" is gone and stopped renewing: once their leases run out, their slots are free.
      state.storage.sql.exec(`UPDATE holds SET expires_at = ?`, Date.now() - 1);
      const later = new KeyLimiter(state, env);
      expect(later.status(p.limits!).slots).toBe(0);
      expect(later.status({ max_concurrent: 2 }).holds).toBe(0);
    });
  });

  it("refuses everything once revoked, while what runs still settles", async () => {
    const p = principal({ max_concurrent: 3 });
    const stub = limiterOf(p);
    expect((await stub.admit(p.limits!, "a", 0)).ok).toBe(true);
    await stub.revoke();
    expect(await stub.admit(p.limits!, "b", 0)).toMatchObject({ ok: false, refusal: { kind: "revoked" } });
    await stub.settle("a", { tokens: 0, usd: 0 });
    expect((await stub.status(p.limits!)).slots).toBe(0);
  });
});

describe("admission at the edge", () => {
  it("asks no one about a key without limits", async () => {
    const before = (await listDurableObjectIds(env.KEY_LIMITER)).length;
    for (const limits of [null, {}]) expect(await admitForKey(env, principal(limits), "h", 100)).toBeUndefined();
    expect((await listDurableObjectIds(env.KEY_LIMITER)).length).toBe(before);
  });

  it("answers a limited key with the six headers, worked out by hand, and refuses past its limit", async () => {
    const p = principal({ requests_per_minute: 2, tokens_per_minute: 600 });
    const first = await runStrike(caller(p), ask({ maxTokens: 30 }));
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    const reserved = first.body.classification.prompt_tokens + 30;
    // 2 a minute, one taken: full again in 30 s. 600 tokens a minute, `reserved` taken: 100 ms a token.
    expect(rateHeaders(first.headers)).toEqual({
      "x-ratelimit-limit-requests": "2",
      "x-ratelimit-remaining-requests": "1",
      "x-ratelimit-reset-requests": "30s",
      "x-ratelimit-limit-tokens": "600",
      "x-ratelimit-remaining-tokens": String(600 - reserved),
      "x-ratelimit-reset-tokens": formatResetDuration(reserved * 100),
    });
    // The key's limit spans covenants: the second strike goes elsewhere and still counts.
    const { id } = await createCovenant({});
    const second = await runStrike(caller(p), ask({ covenantId: id }));
    expect(second.ok).toBe(true);
    expect(second.headers["x-ratelimit-remaining-requests"]).toBe("0");
    const third = await runStrike(caller(p), ask());
    expect(third).toMatchObject({ ok: false, status: 429, error: { type: "rate_limited", scope: "key", limit: "requests_per_minute", limit_value: 2 } });
    if (third.ok) return;
    expect(third.error.message).toContain("key's requests_per_minute");
    expect(third.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    expect(Number(third.headers["retry-after"])).toBeLessThanOrEqual(30);
    expect(Object.keys(rateHeaders(third.headers)).length).toBe(6);
    expect(third.headers["x-ratelimit-remaining-requests"]).toBe("0");
  });

  it("shows, per limit, the tighter of a key's and a covenant's", async () => {
    const { id } = await createCovenant({ limits: { requests_per_minute: 2 } });
    const p = principal({ requests_per_minute: 100, tokens_per_minute: 10_000 });
    const answer = await runStrike(caller(p), ask({ covenantId: id }));
    expect(answer.ok).toBe(true);
    expect(answer.headers).toMatchObject({ "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1", "x-ratelimit-limit-tokens": "10000" });
  });

  it("settles a key's tokens to what the strike used, also for a stream", async () => {
    const p = principal({ tokens_per_minute: 100_000 });
    const whole = await runStrike(caller(p), ask({ maxTokens: 200 }));
    expect(whole.ok).toBe(true);
    if (!whole.ok) return;
    const used = whole.body.usage.prompt_tokens + whole.body.usage.completion_tokens;
    const settled = await eventually(() => limiterOf(p).status(p.limits!), (s) => s.holds === 0);
    expect(settled.holds).toBe(0);
    // What is left: the limit less what was used (refilled a little since, never above the limit).
    expect(settled.view.tokens!.remaining).toBeGreaterThanOrEqual(100_000 - used);

    const started = await startStreamedStrike(caller(p), ask({ maxTokens: 64 }));
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    expect(started.headers["x-ratelimit-limit-tokens"]).toBe("100000");
    while (await started.rest.nextBatch());
    expect((await eventually(() => limiterOf(p).status(p.limits!), (s) => s.holds === 0)).holds).toBe(0);
  });

  it("holds a key to max_concurrent across its strikes, and frees every slot", async () => {
    const p = principal({ max_concurrent: 5 });
    const { id } = await createCovenant({ models: ["qwen-32b"] });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => runStrike(caller(p), ask({ covenantId: id, model: "qwen-32b", prompt: `slow ${i}`, maxTokens: 4096 }))));
    expect(answers.filter((a) => a.ok).length).toBe(5);
    for (const a of answers.filter((x) => !x.ok)) expect(a).toMatchObject({ status: 429, error: { scope: "key", limit: "max_concurrent", limit_value: 5 } });
    expect((await eventually(() => limiterOf(p).status(p.limits!), (s) => s.slots === 0)).slots).toBe(0);
  });

  it("refuses with 402 once a key's daily dollars are spent", async () => {
    const p = principal({ max_usd_per_day: 1e-12 });
    const first = await runStrike(caller(p), ask());
    expect(first.ok).toBe(true);
    if (first.ok) expect(first.body.cost_usd).toBeGreaterThan(1e-12);
    // The strike's cost reaches the limiter when the covenant settles it, just after the answer.
    await eventually(() => limiterOf(p).status(p.limits!), (s) => s.holds === 0);
    const second = await runStrike(caller(p), ask());
    expect(second).toMatchObject({ ok: false, status: 402, error: { type: "budget_exhausted", scope: "key", budget: "max_usd_per_day", limit_usd: 1e-12 } });
    if (!first.ok || second.ok) return;
    expect(second.error.spent_usd).toBeCloseTo(first.body.cost_usd, 12);
  });
});

describe("a key narrowed to some models or covenants", () => {
  it("is refused other models (403) and other covenants (as if they did not exist)", async () => {
    const p = principal(null, { models: ["gemma-2b-it"], covenants: ["default"] });
    expect(await runStrike(caller(p), ask({ model: "mistral-7b" }))).toMatchObject({ ok: false, status: 403, error: { type: "model_not_allowed", param: "model" } });
    const { id } = await createCovenant({});
    expect(await runStrike(caller(p), ask({ covenantId: id }))).toMatchObject({ ok: false, status: 404, error: { type: "covenant_not_found", param: "covenant_id" } });
    expect(await runStrike(caller(p), ask({ covenantId: "never-made" }))).toMatchObject({ ok: false, status: 404, error: { type: "covenant_not_found" } });
  });

  it("has a strike that names no model routed among its models only", async () => {
    const p = principal(null, { models: ["gemma-2b-it"] });
    // Hard coding would route to a large model; this key may only run gemma-2b-it.
    const answer = await runStrike(caller(p), ask({ model: undefined, prompt: "Implement a lock-free concurrent hash map in C++ with resizing and explain the memory ordering." }));
    expect(answer.ok && answer.body.model).toBe("gemma-2b-it");
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    expect(await runStrike(caller(p), ask({ covenantId: id, model: undefined }))).toMatchObject({ ok: false, status: 403, error: { type: "model_not_allowed" } });
  });
});

// ---- one run of the property against the object itself -----------------------------------------

type Op = { op: "burst"; n: number; tokens: number } | { op: "settle"; pick: number; used: number } | { op: "edit"; limits: AnyLimits } | { op: "revoke" };

describe("the KeyLimiter under any interleaving", () => {
  it("never admits more than its limits", async () => {
    const limitsArb = fc.record({ requests_per_minute: fc.integer({ min: 1, max: 12 }), tokens_per_minute: fc.integer({ min: 100, max: 2000 }), max_concurrent: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: [] });
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant("burst" as const), n: fc.integer({ min: 1, max: 8 }), tokens: fc.integer({ min: 0, max: 600 }) }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant("settle" as const), pick: fc.nat(), used: fc.integer({ min: 0, max: 700 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("edit" as const), limits: limitsArb }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("revoke" as const) }) },
    );
    await fc.assert(
      fc.asyncProperty(limitsArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), async (initial, ops) => {
        // fast-check's records have no prototype; what crosses RPC is plain data.
        const p = principal({ ...initial });
        const stub = limiterOf(p);
        let limits: AnyLimits = { ...initial };
        let revoked = false;
        let next = 0;
        const running = new Map<string, { slot: boolean }>();
        // One epoch per unchanged limit: admissions in it, and when it began.
        let epoch = { limits, admitted: 0, tokens: 0, startedAt: Date.now() };
        const closeEpoch = () => {
          const elapsed = Date.now() - epoch.startedAt;
          const rpm = epoch.limits.requests_per_minute;
          if (rpm !== undefined) expect(epoch.admitted).toBeLessThanOrEqual(rpm + Math.floor((elapsed * rpm) / LIMIT_WINDOW_MS));
        };
        for (const o of ops) {
          if (o.op === "edit") {
            closeEpoch();
            limits = { ...o.limits };
            epoch = { limits, admitted: 0, tokens: 0, startedAt: Date.now() };
          } else if (o.op === "revoke") {
            await stub.revoke();
            revoked = true;
          } else if (o.op === "settle") {
            const ids = [...running.keys()];
            if (ids.length === 0) continue;
            const id = ids[o.pick % ids.length]!;
            running.delete(id);
            await stub.settle(id, { tokens: o.used, usd: 0 });
          } else {
            // Admissions sent together, as concurrent strikes of one key would be.
            const free = limits.max_concurrent === undefined ? Infinity : limits.max_concurrent - [...running.values()].filter((h) => h.slot).length;
            const results = await Promise.all(Array.from({ length: o.n }, () => stub.admit(limits, `h${next++}`, o.tokens)));
            const admitted = results.filter((r) => r.ok);
            if (revoked) expect(admitted.length).toBe(0);
            expect(admitted.length).toBeLessThanOrEqual(Math.max(0, free));
            if (limits.tokens_per_minute !== undefined && o.tokens > limits.tokens_per_minute) expect(admitted.length).toBe(0);
            for (const r of admitted) if (r.ok && r.hold) running.set(r.hold.id, { slot: r.hold.slot });
            epoch.admitted += admitted.length;
          }
        }
        closeEpoch();
        // Whatever happened, the object's own count of slots is the strikes still running.
        expect((await stub.status(limits)).slots).toBe([...running.values()].filter((h) => h.slot).length);
      }),
      { numRuns: 25 },
    );
  });
});

// ---- issued keys, over HTTP ----------------------------------------------------------------------

async function issueKey(body: Record<string, unknown>): Promise<string> {
  const res = await call("/v1/keys", { method: "POST", body: JSON.stringify({ name: `limits-${crypto.randomUUID().slice(0, 6)}`, scopes: ["strike"], ...body }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

const chatAs = (key: string, body: Record<string, unknown>, covenant?: string) =>
  call("/v1/chat/completions", { method: "POST", key, body: JSON.stringify(body), headers: covenant ? { "x-homeskillet-covenant": covenant } : {} });

describe("issued keys over HTTP", () => {
  it("puts a limited key's six headers on every strike response, and refuses past its limit", async () => {
    const key = await issueKey({ limits: { requests_per_minute: 3, tokens_per_minute: 900 } });
    const r1 = await strike({ model: "gemma-2b-it", prompt: "issued one", max_tokens: 60 }, key);
    expect(r1.status).toBe(200);
    const s1 = (await r1.json()) as { classification: { prompt_tokens: number } };
    const reserved = s1.classification.prompt_tokens + 60;
    // 3 a minute, one taken: 20 s to full. 900 tokens a minute: 1 token per 66.7 ms.
    expect(rateLimitHeadersOf(r1)).toEqual({
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "2",
      "x-ratelimit-reset-requests": "20s",
      "x-ratelimit-limit-tokens": "900",
      "x-ratelimit-remaining-tokens": String(900 - reserved),
      "x-ratelimit-reset-tokens": formatResetDuration((reserved * 60_000) / 900),
    });
    const r2 = await chatAs(key, { model: "gemma-2b-it", messages: [{ role: "user", content: "issued two" }], max_tokens: 20 });
    expect(r2.status).toBe(200);
    expect(r2.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    const r3 = await chatAs(key, { model: "gemma-2b-it", messages: [{ role: "user", content: "issued three" }], max_tokens: 20, stream: true });
    expect(r3.status).toBe(200);
    expect(r3.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(r3.headers.get("x-ratelimit-limit-tokens")).toBe("900");
    await r3.text();
    const r4 = await strike({ model: "gemma-2b-it", prompt: "issued four", max_tokens: 20 }, key);
    expect(r4.status).toBe(429);
    expect(r4.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(r4.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(await r4.json()).toMatchObject({ error: { type: "rate_limited", scope: "key", limit: "requests_per_minute", limit_value: 3 } });
    // Another key of the same tenant is not held back by this one's limit.
    expect((await strike({ model: "gemma-2b-it", prompt: "someone else", max_tokens: 8 })).status).toBe(200);
  });

  it("shares a covenant's limit between two issued keys", async () => {
    const { id } = await createCovenant({ limits: { requests_per_minute: 50 } });
    const [a, b] = await Promise.all([issueKey({}), issueKey({})]);
    const t0 = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0
          ? strike({ covenant_id: id, model: "gemma-2b-it", prompt: `shared ${i}`, max_tokens: 8 }, a)
          : chatAs(b!, { model: "gemma-2b-it", messages: [{ role: "user", content: `shared ${i}` }], max_tokens: 8 }, id),
      ),
    );
    const limited = responses.filter((r) => r.status === 429);
    expectBurstAdmitted(responses.filter((r) => r.status === 200).length, limited.length, 200, 50, Date.now() - t0);
    for (const r of limited) expect(await r.json()).toMatchObject({ error: { scope: "covenant", limit: "requests_per_minute" } });
  });

  it("keeps a narrowed key to its models (403) and its covenants (404)", async () => {
    const { id } = await createCovenant({});
    const key = await issueKey({ models: ["gemma-2b-it"], covenants: ["default"] });
    const wrongModel = await strike({ model: "mistral-7b", prompt: "not mine", max_tokens: 8 }, key);
    expect(wrongModel.status).toBe(403);
    expect(await wrongModel.json()).toMatchObject({ error: { type: "model_not_allowed", param: "model" } });
    const wrongCovenant = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "not mine", max_tokens: 8 }, key);
    expect(wrongCovenant.status).toBe(404);
    expect(await wrongCovenant.json()).toMatchObject({ error: { type: "covenant_not_found", param: "covenant_id" } });
    const openai = await chatAs(key, { model: "qwen-14b", messages: [{ role: "user", content: "x" }] });
    expect(openai.status).toBe(403);
    expect(await openai.json()).toMatchObject({ error: { code: "model_not_allowed", param: "model", type: "permission_error" } });
    const auto = await chatAs(key, { model: "auto", messages: [{ role: "user", content: "Prove that there are infinitely many primes, step by step." }], max_tokens: 8 });
    expect(auto.status).toBe(200);
    expect(((await auto.json()) as { model: string }).model).toBe("gemma-2b-it");
  });
});
