// Issued API keys: the secret shown once and stored as a hash, scopes, narrowing to covenants and
// models, never more than the issuing key, revocation within the cache bound, rotation with grace.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { resolveKey, sha256Hex } from "../src/auth";
import type { Env } from "../src/env";
import { keyLimiterName } from "../src/limits";
import type { KeyView } from "../src/schema";
import { createCovenant } from "./support/covenants";
import { call, KEYS, strike } from "./support/gateway";
import { issueKey } from "./support/keys";

/** The test pool's HOMESKILLET_KEY_CACHE_S, in ms: how long an isolate may keep a key it knew. */
const CACHE_MS = 1000;
const waitOutCache = () => new Promise((r) => setTimeout(r, CACHE_MS + 200));

describe("issuing keys", () => {
  it("shows the secret once, prefixed; stores only its hash; lists and gets without it", async () => {
    const created = await issueKey({ name: "ci", scopes: ["strike", "covenants:read"] });
    expect(created.key).toMatch(/^hsk_live_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(created.id).toMatch(/^key_/);
    expect(created.prefix.startsWith(created.key.slice(0, created.key.indexOf(".") + 7))).toBe(true);
    expect(created.last_used_at).toBeNull();

    const listed = (await (await call("/v1/keys")).json()) as { data: KeyView[] };
    const mine = listed.data.find((k) => k.id === created.id)!;
    expect(mine).toMatchObject({ name: "ci", scopes: ["strike", "covenants:read"], revoked_at: null });
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const one = await (await call(`/v1/keys/${created.id}`)).text();
    expect(one).not.toContain(created.key.slice(created.key.indexOf(".") + 1));

    // At rest: the hash, never the secret.
    const stored = await runInDurableObject(env.TENANTS.getByName("dev"), (_o, state) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM keys`).toArray()));
    expect(stored).toContain(await sha256Hex(created.key));
    expect(stored).not.toContain(created.key.slice(created.key.indexOf(".") + 1));
  });

  it("authenticates with its scopes: strike allowed, key management refused with 403 naming the scope", async () => {
    const { key, id } = await issueKey({ scopes: ["strike"] });
    expect((await strike({ model: "gemma-2b-it", prompt: "hi", max_tokens: 4 }, key)).status).toBe(200);
    const refused = await call("/v1/keys", { key });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { type: "insufficient_scope", required_scopes: ["keys"] } });
    expect((await call("/v1/covenants", { key })).status).toBe(403);
    // Use is noted (at most once a minute per key).
    const view = (await (await call(`/v1/keys/${id}`)).json()) as KeyView;
    expect(view.last_used_at).not.toBeNull();
  });

  it("narrows a key to some covenants (others do not exist for it) and some models (others 403)", async () => {
    const mine = await createCovenant({});
    const other = await createCovenant({});
    const { key } = await issueKey({ scopes: ["strike", "covenants:read"], covenants: [mine.id], models: ["gemma-2b-it"] });
    expect((await strike({ covenant_id: mine.id, model: "gemma-2b-it", prompt: "ok", max_tokens: 4 }, key)).status).toBe(200);
    expect((await call(`/v1/covenants/${mine.id}`, { key })).status).toBe(200);
    expect((await call(`/v1/covenants/${other.id}`, { key })).status).toBe(404);
    const listed = (await (await call("/v1/covenants", { key })).json()) as { data: { id: string }[] };
    expect(listed.data.map((c) => c.id)).toEqual([mine.id]);
  });

  it("never mints a key with more than the key minting it has", async () => {
    const narrow = await issueKey({ scopes: ["keys", "strike"], models: ["gemma-2b-it"], limits: { requests_per_minute: 10 } });
    const cases: [Record<string, unknown>, string][] = [
      [{ scopes: ["covenants:write"], models: ["gemma-2b-it"], limits: { requests_per_minute: 10 } }, "scopes"],
      [{ scopes: ["strike"], limits: { requests_per_minute: 10 } }, "models"],
      [{ scopes: ["strike"], models: ["gemma-2b-it", "qwen-70b"], limits: { requests_per_minute: 10 } }, "models"],
      [{ scopes: ["strike"], models: ["gemma-2b-it"] }, "limits.requests_per_minute"],
      [{ scopes: ["strike"], models: ["gemma-2b-it"], limits: { requests_per_minute: 11 } }, "limits.requests_per_minute"],
    ];
    for (const [body, param] of cases) {
      const res = await call("/v1/keys", { method: "POST", body: JSON.stringify({ name: "child", ...body }), key: narrow.key });
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(await res.json()).toMatchObject({ error: { type: "exceeds_parent_key", param } });
    }
    const ok = await issueKey({ scopes: ["strike"], models: ["gemma-2b-it"], limits: { requests_per_minute: 5 } }, narrow.key);
    expect(ok.scopes).toEqual(["strike"]);
    // It cannot see, change or revoke a key more powerful than itself.
    const strong = await issueKey({ scopes: ["keys", "covenants:write"] });
    expect((await call(`/v1/keys/${strong.id}`, { key: narrow.key })).status).toBe(404);
    expect((await call(`/v1/keys/${strong.id}`, { method: "DELETE", key: narrow.key })).status).toBe(404);
  });

  it("refuses bad input with 400 naming the field", async () => {
    const bad: [unknown, string][] = [
      [{ scopes: ["strike"] }, "name"],
      [{ name: "x", scopes: [] }, "scopes"],
      [{ name: "x", scopes: ["root"] }, "scopes.0"],
      [{ name: "x", scopes: ["strike"], limits: { requests_per_minute: 0 } }, "limits.requests_per_minute"],
      [{ name: "x", scopes: ["strike"], expires_at: "yesterday" }, "expires_at"],
      [{ name: "x", scopes: ["strike"], expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
      [{ name: "x", scopes: ["strike"], extra: 1 }, ""],
    ];
    for (const [body, param] of bad) {
      const res = await call("/v1/keys", { method: "POST", body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = ((await res.json()) as { error: { param?: string } }).error;
      if (param) expect(error.param, JSON.stringify(body)).toBe(param);
    }
  });
});

describe("revocation, expiry and rotation", () => {
  it("revoking through the API refuses the key at once in this isolate", async () => {
    const { key, id } = await issueKey({ scopes: ["strike"] });
    expect((await call("/v1/models", { key })).status).toBe(200);
    const revoked = await call(`/v1/keys/${id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as KeyView).revoked_at).not.toBeNull();
    expect((await call("/v1/models", { key })).status).toBe(401);
  });

  it("revoking a limited key tells its limiter, which refuses from then on whatever an isolate caches", async () => {
    const { key, id } = await issueKey({ scopes: ["strike"], limits: { requests_per_minute: 100 } });
    expect((await strike({ model: "gemma-2b-it", prompt: "limited", max_tokens: 4 }, key)).status).toBe(200);
    const limiter = env.KEY_LIMITER.getByName(keyLimiterName("dev", id));
    expect((await limiter.status({ requests_per_minute: 100 })).revoked).toBe(false);
    expect((await call(`/v1/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await limiter.status({ requests_per_minute: 100 })).revoked).toBe(true);
  });

  it("a revocation made elsewhere is refused here within the key cache period", async () => {
    const { key, id } = await issueKey({ scopes: ["strike"] });
    expect((await call("/v1/models", { key })).status).toBe(200);
    // Revoked directly in the tenant's object, as another isolate's request would: this isolate
    // may keep what it knew for HOMESKILLET_KEY_CACHE_S, and never longer.
    await env.TENANTS.getByName("dev").revokeKey("dev", id, { actor: "test", requestId: null });
    await waitOutCache();
    const res = await call("/v1/models", { key });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: "unauthorized", message: "invalid API key" } });
  });

  it("an expired key is refused", async () => {
    const { key, id } = await issueKey({ scopes: ["strike"], expires_at: new Date(Date.now() + 60_000).toISOString() });
    expect((await call("/v1/models", { key })).status).toBe(200);
    await runInDurableObject(env.TENANTS.getByName("dev"), (_o, state) => {
      state.storage.sql.exec(`UPDATE keys SET expires_at = ? WHERE id = ?`, Date.now() - 1, id);
    });
    await waitOutCache();
    expect((await call("/v1/models", { key })).status).toBe(401);
  });

  it("rotation: the new secret works, the old one until its grace ends, then never", async () => {
    const { key: old, id } = await issueKey({ scopes: ["strike"] });
    const res = await call(`/v1/keys/${id}/rotate`, { method: "POST", body: JSON.stringify({ grace_s: 60 }) });
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as KeyView & { key: string };
    expect(rotated.key).not.toBe(old);
    expect(rotated.previous_secret_expires_at).not.toBeNull();
    expect((await call("/v1/models", { key: rotated.key })).status).toBe(200);
    expect((await call("/v1/models", { key: old })).status).toBe(200);
    // The grace ends (moved to the past in storage rather than waited for).
    await runInDurableObject(env.TENANTS.getByName("dev"), (_o, state) => {
      state.storage.sql.exec(`UPDATE keys SET prev_expires_at = ? WHERE id = ?`, Date.now() - 1, id);
    });
    await waitOutCache();
    expect((await call("/v1/models", { key: old })).status).toBe(401);
    expect((await call("/v1/models", { key: rotated.key })).status).toBe(200);
  });

  it("rotation without grace ends the old secret at once", async () => {
    const { key: old, id } = await issueKey({ scopes: ["strike"] });
    expect((await call("/v1/models", { key: old })).status).toBe(200);
    const rotated = (await (await call(`/v1/keys/${id}/rotate`, { method: "POST" })).json()) as { key: string };
    expect((await call("/v1/models", { key: old })).status).toBe(401);
    expect((await call("/v1/models", { key: rotated.key })).status).toBe(200);
  });

  it("a forged key naming a tenant, and garbage, are refused alike", async () => {
    for (const key of ["hsk_live_ZGV2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "hsk_live_", "hsk_live_!!!.x", "x".repeat(5000)]) {
      const res = await call("/v1/models", { key });
      expect(res.status).toBe(401);
    }
  });
});

describe("the isolate's key cache", () => {
  // Short secrets are cached as themselves, longer ones by their hash: no secret may ever be taken
  // for the cache entry of another one's hash.
  const long = `lk_${"a".repeat(400)}`;
  const configured = (keys: Record<string, string>) => ({ ...env, HOMESKILLET_TENANT_KEYS: JSON.stringify(keys), HOMESKILLET_DEV_KEY: "" }) as Env;

  it("knows a long configured key, again and again, and nothing that spells its hash", async () => {
    const e = configured({ acme: long, beta: "short-secret-of-beta" });
    for (let i = 0; i < 3; i++) {
      const r = await resolveKey(e, long);
      expect(r.ok && r.principal.tenant).toBe("acme");
    }
    const hash = await sha256Hex(long);
    for (const forged of [hash, `sha256:${hash}`, "#".repeat(256) + hash, `#${hash}`]) {
      expect((await resolveKey(e, forged)).ok).toBe(false);
    }
    const short = await resolveKey(e, "short-secret-of-beta");
    expect(short.ok && short.principal.tenant).toBe("beta");
  });

  it("a key configured by its hash is known by its secret only", async () => {
    const secret = "configured-by-hash";
    const hash = await sha256Hex(secret);
    const e = configured({ gamma: `sha256:${hash}` });
    const r = await resolveKey(e, secret);
    expect(r.ok && r.principal.tenant).toBe("gamma");
    expect((await resolveKey(e, hash)).ok).toBe(false);
    expect((await resolveKey(e, `sha256:${hash}`)).ok).toBe(false);
  });
});
