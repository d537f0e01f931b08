// The dashboard through the gateway: its page as static assets, its data route behind the
// operator key, and the MetricsIndex's ring of readings that gives the page its history.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DashboardSummary } from "../src/dashboard";
import { createCovenant } from "./support/covenants";
import { call, KEYS, ORIGIN, strike } from "./support/gateway";

const SUMMARY = "/dashboard/api/summary";

interface ErrorBody {
  error: { type: string; message: string; param?: string };
}

// The test pool's SELF reaches the worker alone, never the assets in front of it, so the page is
// read through the ASSETS binding here; test/node/dashboard.test.ts loads it as a browser does.
describe("the dashboard page", () => {
  const asset = (path: string) => env.ASSETS!.fetch(`${ORIGIN}${path}`, { redirect: "manual" });

  it("is built into the static assets, with a trailing-slash redirect and a strict content policy", async () => {
    const moved = await asset("/dashboard");
    expect(moved.status).toBe(307);
    expect(new URL(moved.headers.get("location")!, ORIGIN).pathname).toBe("/dashboard/");

    const page = await asset("/dashboard/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("<title>Homeskillet · operator dashboard</title>");
    expect(html).toContain('src="app.js"');
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");

    for (const [file, type] of [["app.js", /javascript/], ["app.css", /^text\/css/]] as const) {
      const res = await asset(`/dashboard/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type"), file).toMatch(type);
      expect((await res.arrayBuffer()).byteLength, file).toBeGreaterThan(1000);
    }
  });

  it("leaves the data route to the worker", async () => {
    expect((await asset(SUMMARY)).status).toBe(404);
    expect((await SELF.fetch(`${ORIGIN}${SUMMARY}`)).status).toBe(401);
  });
});

describe(`GET ${SUMMARY}`, () => {
  it("refuses a missing or wrong key, and a tenant's key, with 401 JSON", async () => {
    for (const key of [null, "not-a-key", KEYS.acme]) {
      const res = await call(SUMMARY, { key });
      expect(res.status, String(key)).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(((await res.json()) as ErrorBody).error.type).toBe("unauthorized");
    }
  });

  it("refuses a bad `since` or an unknown parameter with 400 naming it", async () => {
    for (const since of ["abc", "-1", "1.5", "1e400"]) {
      const res = await call(`${SUMMARY}?since=${since}`);
      expect(res.status, since).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error, since).toMatchObject({ type: "invalid_request", param: "since" });
      expect(body.error.message, since).toMatch(/^since: /);
    }
    const unknown = await call(`${SUMMARY}?window=5m`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as ErrorBody).error.message).toMatch(/window/);
  });

  it("summarises strikes, spend, latency and pools across covenant objects", async () => {
    const a = await createCovenant({});
    const res = await strike({ covenant_id: a.id, model: "mistral-7b", prompt: "Explain vGPU slicing in one sentence.", max_tokens: 16 });
    expect(res.status).toBe(200);
    const done = (await res.json()) as { pool_id: string; cost_usd: number };

    const answer = await call(SUMMARY);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    const s = (await answer.json()) as DashboardSummary;
    expect(s.sources.failed).toBe(0);
    expect(s.sources.total).toBeGreaterThanOrEqual(1);
    expect(s.strikes.ok).toBeGreaterThanOrEqual(1);
    expect(s.cost.by_tenant.find((r) => r.key === "dev")!.usd).toBeGreaterThanOrEqual(done.cost_usd);
    expect(s.cost.by_pool.map((r) => r.key)).toContain(done.pool_id);
    expect(s.latency.inference_by_model.find((r) => r.key === "mistral-7b")?.p50_ms).toBeGreaterThan(0);
    expect(s.history).toMatchObject({ spacing_s: 5, retention_s: 3600 });
    expect(s.health.status).not.toBe("incomplete");

    // Asking only for points after a time in the future gets none, and the rest is the same.
    const later = (await (await call(`${SUMMARY}?since=${s.t + 3_600_000}`)).json()) as DashboardSummary;
    expect(later.history.points).toEqual([]);
    expect(later.strikes.ok).toBeGreaterThanOrEqual(s.strikes.ok);
  });
});

describe("MetricsIndex ring of readings", () => {
  const ring = () => env.METRICS_INDEX.getByName(`ring-test-${crypto.randomUUID()}`);
  const T0 = 1_800_000_000_000;
  const offer = (index: ReturnType<typeof ring>, t: number, from?: number) =>
    index.readings({ append: { t, body: `{"t":${t}}` }, minSpacingMs: 5_000, retainMs: 60_000, ...(from === undefined ? {} : { from }) });

  it("stores a reading only when the last is old enough, however many ask", async () => {
    const index = ring();
    expect((await offer(index, T0)).recorded).toBe(true);
    expect((await offer(index, T0 + 4_999)).recorded).toBe(false);
    expect((await offer(index, T0 + 5_000)).recorded).toBe(true);
    const all = await index.readings({ minSpacingMs: 5_000, retainMs: 60_000, from: 0 });
    expect(all.readings.map((r) => r.t)).toEqual([T0, T0 + 5_000]);
  });

  it("returns readings from `from` on plus the one before, none without `from`, and drops expired ones", async () => {
    const index = ring();
    for (let i = 0; i < 5; i++) await offer(index, T0 + i * 10_000);
    const from = await index.readings({ minSpacingMs: 5_000, retainMs: 60_000, from: T0 + 25_000 });
    expect(from.readings.map((r) => r.t)).toEqual([T0 + 20_000, T0 + 30_000, T0 + 40_000]);
    expect((await offer(index, T0 + 50_000)).readings).toEqual([]);
    // Sixty seconds after the first, the first is gone.
    const after = await offer(index, T0 + 70_000, 0);
    expect(after.readings.map((r) => r.t)).toEqual([T0 + 10_000, T0 + 20_000, T0 + 30_000, T0 + 40_000, T0 + 50_000, T0 + 70_000]);
  });
});
