import { decodeJwt } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { API_KEY, adminView, call, issueToken, resetCluster, tokenFor } from "./harness";

describe("token issuance and JWT auth", () => {
  beforeEach(resetCluster);

  it("exchanges a known API key for an HS256 bearer token", async () => {
    const reply = await call("POST", "/api/v1/auth/token", { body: { api_key: API_KEY } });
    expect(reply.status).toBe(200);
    expect(reply.body.token_type).toBe("Bearer");
    expect(reply.body.expires_in).toBe(3600);
    const claims = decodeJwt(reply.body.access_token);
    expect(claims.sub).toMatch(/^key_[0-9a-f]{16}$/);
    expect(claims.sub).not.toContain(API_KEY);
    expect(claims.exp).toBe(Math.floor(Date.parse(reply.body.expires_at) / 1000));
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
  });

  it("accepts every key listed in HOSTEDAI_API_KEYS, each as its own caller", async () => {
    const vars = { HOSTEDAI_API_KEYS: " first-key , second-key ", TOKEN_TTL_SECONDS: "120" };
    const first = await call("POST", "/api/v1/auth/token", { body: { api_key: "first-key" }, vars });
    const second = await call("POST", "/api/v1/auth/token", { body: { api_key: "second-key" }, vars });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body.expires_in).toBe(120);
    expect(decodeJwt(first.body.access_token).sub).not.toBe(decodeJwt(second.body.access_token).sub);
    const old = await call("POST", "/api/v1/auth/token", { body: { api_key: API_KEY }, vars });
    expect(old.status).toBe(401);
  });

  it("refuses an unknown API key with invalid_credentials", async () => {
    const reply = await call("POST", "/api/v1/auth/token", { body: { api_key: "not-a-key" } });
    expect(reply.status).toBe(401);
    expect(reply.body.error.type).toBe("invalid_credentials");
  });

  it("counts issued tokens in the admin view", async () => {
    await issueToken();
    await issueToken();
    await call("POST", "/api/v1/auth/token", { body: { api_key: "wrong" } });
    expect((await adminView()).body.tokens_issued).toBe(2);
  });

  it("answers 401 unauthorized without a token or with a malformed one", async () => {
    const missing = await call("GET", "/api/v1/pools");
    expect(missing.status).toBe(401);
    expect(missing.body.error.type).toBe("unauthorized");
    const garbage = await call("GET", "/api/v1/pools", { token: "not.a.jwt" });
    expect(garbage.status).toBe(401);
    expect(garbage.body.error.type).toBe("unauthorized");
    const basic = await call("GET", "/api/v1/pools", { headers: { authorization: "Basic abc" } });
    expect(basic.status).toBe(401);
  });

  it("answers 401 unauthorized for a token signed with another secret", async () => {
    const token = await issueToken();
    const [header, payload] = token.split(".");
    const forged = `${header}.${payload}.${"A".repeat(43)}`;
    const reply = await call("GET", "/api/v1/pools", { token: forged });
    expect(reply.status).toBe(401);
    expect(reply.body.error.type).toBe("unauthorized");
  });

  it("answers 401 token_expired for an expired token", async () => {
    const expired = await tokenFor("key_0123456789abcdef", -60);
    const reply = await call("GET", "/api/v1/pools", { token: expired });
    expect(reply.status).toBe(401);
    expect(reply.body.error.type).toBe("token_expired");
  });

  it("serves the whole flow through the runtime's own fetch binding", async () => {
    const issued = await call("POST", "/api/v1/auth/token", { body: { api_key: API_KEY }, viaRuntime: true });
    expect(issued.status).toBe(200);
    const pools = await call("GET", "/api/v1/pools", { token: issued.body.access_token, viaRuntime: true });
    expect(pools.status).toBe(200);
    expect(pools.body.pools).toHaveLength(3);
  });

  it("accepts a fresh token", async () => {
    const reply = await call("GET", "/api/v1/pools", { token: await issueToken() });
    expect(reply.status).toBe(200);
  });
});
