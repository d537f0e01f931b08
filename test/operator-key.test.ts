// The operator key guards every tenant's metrics. Outside local development it must be set and be
// nobody else's: the development key never stands in, and a tenant's key is never accepted as it.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import { metricsRoutes } from "../src/telemetry";
import { KEYS } from "./support/gateway";

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;

function scrape(overrides: Partial<Env>, key: string | null): Promise<Response> {
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  return Promise.resolve(metricsRoutes.request("/metrics", { headers }, { ...(env as unknown as Env), ...overrides }, ctx));
}

describe("operator key", () => {
  it("in development, the dev key serves while no operator key is set", async () => {
    expect((await scrape({ HOMESKILLET_ENV: "development", HOMESKILLET_OPERATOR_KEY: undefined }, KEYS.dev)).status).toBe(200);
  });

  it.each([["production"], ["staging"], [undefined]])("in %s, no operator key means no operator routes, not the dev key", async (where) => {
    const res = await scrape({ HOMESKILLET_ENV: where, HOMESKILLET_OPERATOR_KEY: undefined }, KEYS.dev);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("operator_key_not_configured");
    expect(body.error.message).toContain("HOMESKILLET_OPERATOR_KEY");
    expect(JSON.stringify(body)).not.toContain(KEYS.dev);
  });

  it("refuses an operator key that is also a tenant's key (plain or configured by hash), in any environment", async () => {
    for (const where of ["development", "production"]) {
      for (const tenantKey of [KEYS.acme, KEYS.globex, KEYS.dev]) {
        const res = await scrape({ HOMESKILLET_ENV: where, HOMESKILLET_OPERATOR_KEY: tenantKey }, tenantKey);
        expect(res.status, `${where}, ${tenantKey}`).toBe(503);
        const text = await res.text();
        expect(text).toContain("also a tenant's key");
        expect(text).not.toContain(tenantKey);
      }
    }
  });

  it("a distinct operator key works in production, and tenant keys do not", async () => {
    const operator = "hsk_operator_distinct_0001";
    const prod = { HOMESKILLET_ENV: "production", HOMESKILLET_OPERATOR_KEY: operator };
    expect((await scrape(prod, operator)).status).toBe(200);
    expect((await scrape(prod, KEYS.dev)).status).toBe(401);
    expect((await scrape(prod, KEYS.acme)).status).toBe(401);
    expect((await scrape(prod, null)).status).toBe(401);
  });
});
