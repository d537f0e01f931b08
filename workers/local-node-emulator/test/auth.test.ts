// Access service tokens and bearer keys, exercised through the same app with a configured env.
import { beforeEach, describe, expect, it } from "vitest";
import { app } from "../src/app";
import { checkAccess, isLoopback } from "../src/auth";
import { readConfig, type Env } from "../src/env";
import { env, hello, resetDevice } from "./helpers";

beforeEach(() => resetDevice(0));

const ACCESS = { ACCESS_CLIENT_ID: "client-id.access", ACCESS_CLIENT_SECRET: "s3cret-value" };
const GOOD_ACCESS = { "CF-Access-Client-Id": ACCESS.ACCESS_CLIENT_ID, "CF-Access-Client-Secret": ACCESS.ACCESS_CLIENT_SECRET };

function fetchWith(extraEnv: Partial<Env>, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<Response> {
  const init: RequestInit = body === undefined
    ? { headers }
    : { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
  return Promise.resolve(app.fetch(new Request(url, init), { ...env, ...extraEnv }));
}

describe("Cloudflare Access service token", () => {
  const tunnelled = "https://mac.example.com";

  it("is not required when unconfigured", async () => {
    expect((await fetchWith({}, `${tunnelled}/v1/models`)).status).toBe(200);
  });

  it("answers 401 without the headers and 403 with wrong ones", async () => {
    const missing = await fetchWith(ACCESS, `${tunnelled}/v1/models`);
    expect(missing.status).toBe(401);
    expect((await missing.json<{ error: { code: string } }>()).error.code).toBe("access_token_missing");
    const onlyId = await fetchWith(ACCESS, `${tunnelled}/v1/models`, { "CF-Access-Client-Id": ACCESS.ACCESS_CLIENT_ID });
    expect(onlyId.status).toBe(401);
    const wrong = await fetchWith(ACCESS, `${tunnelled}/v1/models`, { ...GOOD_ACCESS, "CF-Access-Client-Secret": "guess" });
    expect(wrong.status).toBe(403);
    expect((await wrong.json<{ error: { code: string } }>()).error.code).toBe("access_denied");
  });

  it("admits the right service token to every API route", async () => {
    expect((await fetchWith(ACCESS, `${tunnelled}/v1/models`, GOOD_ACCESS)).status).toBe(200);
    const completion = await fetchWith(ACCESS, `${tunnelled}/v1/chat/completions`, GOOD_ACCESS, { messages: hello, max_tokens: 5 });
    expect(completion.status).toBe(200);
  });

  it("checks before reading the body, so an unauthenticated client learns nothing about validation", async () => {
    const response = await fetchWith(ACCESS, `${tunnelled}/v1/chat/completions`, {}, { messages: "nope" });
    expect(response.status).toBe(401);
  });

  it("guards admin endpoints off loopback but leaves them open on it", async () => {
    expect((await fetchWith(ACCESS, `${tunnelled}/admin/stats`)).status).toBe(401);
    expect((await fetchWith(ACCESS, "http://127.0.0.1:8789/admin/stats")).status).toBe(200);
    expect((await fetchWith(ACCESS, "http://localhost/admin/stats")).status).toBe(200);
    // Loopback opens /admin only, not the inference API.
    expect((await fetchWith(ACCESS, "http://localhost/v1/models")).status).toBe(401);
  });

  it("admits nobody when only half of the token is configured", () => {
    const config = readConfig({ ...env, ACCESS_CLIENT_ID: "id" });
    const denied = checkAccess(new Headers({ "cf-access-client-id": "id", "cf-access-client-secret": "anything" }), config);
    expect(denied?.status).toBe(403);
  });
});

describe("API key", () => {
  it("requires Authorization: Bearer when API_KEY is set", async () => {
    const url = "https://mac.example.com/v1/models";
    expect((await fetchWith({ API_KEY: "k-123" }, url)).status).toBe(401);
    expect((await fetchWith({ API_KEY: "k-123" }, url, { Authorization: "Bearer nope" })).status).toBe(401);
    expect((await fetchWith({ API_KEY: "k-123" }, url, { Authorization: "Bearer k-123" })).status).toBe(200);
  });

  it("is checked after Access when both are configured", async () => {
    const both = { ...ACCESS, API_KEY: "k-123" };
    const url = "https://mac.example.com/v1/models";
    expect((await fetchWith(both, url, { Authorization: "Bearer k-123" })).status).toBe(401);
    expect((await fetchWith(both, url, GOOD_ACCESS)).status).toBe(401);
    expect((await fetchWith(both, url, { ...GOOD_ACCESS, Authorization: "Bearer k-123" })).status).toBe(200);
  });
});

describe("loopback detection", () => {
  it("recognises the loopback hosts only", () => {
    for (const host of ["http://localhost/", "http://127.0.0.1:8789/", "http://127.1.2.3/", "http://[::1]:8789/"]) {
      expect(isLoopback(new URL(host))).toBe(true);
    }
    for (const host of ["https://mac.example.com/", "http://10.0.0.1/", "http://localhost.example.com/"]) {
      expect(isLoopback(new URL(host))).toBe(false);
    }
  });
});
