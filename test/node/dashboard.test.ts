// The operator dashboard in a real browser: Debian's Chromium (installed by
// scripts/ensure-chromium.mjs), driven by playwright-core, loads the page from the running
// gateway while strikes — some failing, some meeting a failing pool — go through it. The page
// must ask for the key, show live numbers that match the API, draw every chart from the history
// it is sent, and update without a reload. The integration document's measures are checked against
// references of their own: cost per thousand tokens against what the Hosted.AI emulator billed this
// test's tenant, and the upstream's own GPU readings against its metrics endpoint. A screenshot is
// saved to test/artifacts/dashboard.png.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { DashboardSummary } from "../../src/dashboard/types";
import { bytes, int, ms, pct, usd } from "../../web/dashboard/format";
import { addFaultRules } from "./support.ts";

/** Debian's browser, where scripts/ensure-chromium.mjs installs it. */
const CHROMIUM = "/usr/bin/chromium";
const { gateway, hostedai, keys } = inject("system");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard.test.ts: skipped, no ${CHROMIUM} (see scripts/ensure-chromium.mjs)`);

const artifacts = fileURLToPath(new URL("../artifacts/", import.meta.url));
const tag = Math.random().toString(16).slice(2, 8);
const covenants = { main: `dash-main-${tag}`, narrow: `dash-narrow-${tag}`, flaky: `dash-flaky-${tag}`, warm: `dash-warm-${tag}` };
const FAILING_POOL = "dedicated-us-east";

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function api(path: string, key: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${gateway}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init.headers as Record<string, string>) },
  });
}

async function summary(): Promise<DashboardSummary> {
  const res = await api("/dashboard/api/summary", keys.dev);
  expect(res.status).toBe(200);
  return (await res.json()) as DashboardSummary;
}

/** A strike as the dashboard tenant; returns its status and cost. */
async function strike(body: Record<string, unknown>): Promise<{ status: number; cost: number; type?: string }> {
  const res = await api("/v1/strikes", keys.dashboard, { method: "POST", body: JSON.stringify({ max_tokens: 24, ...body }) });
  const json = (await res.json()) as { cost_usd?: number; error?: { type: string } };
  return { status: res.status, cost: json.cost_usd ?? 0, ...(json.error ? { type: json.error.type } : {}) };
}

/** One table's rows as cell texts. */
async function tableRows(page: Page, id: string): Promise<string[][]> {
  const rows = page.locator(`#${id} tbody tr:not(.note)`);
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) out.push(await rows.nth(i).locator("td").allTextContents());
  return out;
}

/**
 * Reads the page between two of its polls (the time of the summary it shows is unchanged before
 * and after) and returns the reading with the summary the page was sent for it.
 */
async function consistentView<T>(page: Page, received: Map<number, DashboardSummary>, read: () => Promise<T>): Promise<{ shown: T; sent: DashboardSummary }> {
  return until("a reading of the page between two polls", async () => {
    const before = await page.locator("body").getAttribute("data-updated");
    const shown = await read();
    const after = await page.locator("body").getAttribute("data-updated");
    const sent = received.get(Number(after));
    return before === after && sent ? { shown, sent } : undefined;
  });
}

/** Per series, how many real (non-gap) values a chart holds. */
async function chartSeries(page: Page, id: string): Promise<Record<string, number>> {
  return JSON.parse((await page.locator(`#${id}`).getAttribute("data-series")) ?? "{}") as Record<string, number>;
}

describe.skipIf(!hasChromium)("operator dashboard in Chromium", () => {
  let browser: Browser | undefined;
  let removeFaults: (() => Promise<void>) | undefined;
  let spent = 0;

  const wave = async (prompts: string[]) => {
    for (const [i, prompt] of prompts.entries()) {
      const model = i % 3 === 2 ? "gemma-2b-it" : "mistral-7b";
      const r = await strike({ covenant_id: covenants.main, model, prompt });
      expect(r.status).toBe(200);
      spent += r.cost;
    }
  };

  beforeAll(async () => {
    for (const [id, extra] of [
      [covenants.main, {}],
      [covenants.narrow, { models: ["mistral-7b"] }],
      // Tries the failing pool first (any pool type may run its models), so its breaker trips
      // while strikes still succeed elsewhere.
      [covenants.flaky, { fallback: [FAILING_POOL, "standard-us-east"], qos: { pool_type: "any" } }],
      // Keeps one lease live, so the upstream's own metrics of it are read and shown.
      [covenants.warm, { models: ["mistral-7b"], lease: { idle_timeout_s: 600, max_warm_leases: 1 } }],
    ] as const) {
      const res = await api("/v1/covenants", keys.dashboard, { method: "POST", body: JSON.stringify({ id, ...extra }) });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    removeFaults = await addFaultRules(hostedai, { errors: [{ pool: FAILING_POOL, endpoint: "allocate", rate: 1, status: 500 }] });
    // A reading before the traffic, so the first history point the page sees includes it.
    await summary();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api(`/v1/covenants/${covenants.warm}`, keys.dashboard, { method: "DELETE" }).catch(() => {});
    await removeFaults?.().catch(() => {});
  });

  it("asks for the operator key and refuses a wrong one", async () => {
    const page = await browser!.newPage();
    await page.goto(`${gateway}/dashboard`);
    await until("the key form", async () => (await page.locator("body").getAttribute("data-state")) === "auth");
    await page.fill("#key-input", keys.dashboard); // a tenant's key is not an operator key
    await page.click("#key-form button");
    await until("the refusal", async () => /refused/.test((await page.locator("#key-error").textContent()) ?? ""));
    expect(await page.locator("#auth").isVisible()).toBe(true);
    await page.fill("#key-input", keys.dev);
    await page.click("#key-form button");
    await until("live data", async () => (await page.locator("body").getAttribute("data-state")) === "live");
    expect(await page.locator("#auth").isVisible()).toBe(false);
    await page.close();
  });

  it("shows every panel's data, live, matching the API", async () => {
    // Traffic: successes on two models, a model the covenant refuses, a covenant that does not
    // exist, an unknown model, and strikes that meet a failing pool before succeeding elsewhere.
    await wave(["Explain vGPU slicing.", "What is a lease?", "Say hi.", "Name a prime.", "Why batch strikes?", "Define SLO."]);
    const refused = await strike({ covenant_id: covenants.narrow, model: "gemma-2b-it", prompt: "hi" });
    expect(refused).toMatchObject({ status: 400, type: "model_not_allowed" });
    expect((await strike({ covenant_id: `missing-${tag}`, prompt: "hi" })).status).toBe(404);
    expect((await strike({ covenant_id: covenants.main, model: "no-such-model", prompt: "hi" })).status).toBe(400);
    for (const model of ["mistral-7b", "gemma-2b-it"]) {
      const r = await strike({ covenant_id: covenants.flaky, model, prompt: "Survive a failing pool." });
      expect(r.status).toBe(200);
      spent += r.cost;
    }
    const warm = await api("/v1/strikes", keys.dashboard, { method: "POST", body: JSON.stringify({ covenant_id: covenants.warm, model: "mistral-7b", prompt: `Stay warm (${tag}).`, max_tokens: 24 }) });
    expect(warm.status).toBe(200);
    const held = (await warm.json()) as { cost_usd: number; pool_id: string; allocation_id: string };
    spent += held.cost_usd;

    const page = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(String(e)));
    // Every summary the page is sent, by its time, to compare what it shows with what it got.
    const received = new Map<number, DashboardSummary>();
    page.on("response", async (res) => {
      if (!res.url().includes("/dashboard/api/summary") || !res.ok()) return;
      const body = (await res.json()) as DashboardSummary;
      received.set(body.t, body);
    });
    await page.goto(`${gateway}/dashboard/#key=${encodeURIComponent(keys.dev)}`);
    await until("live data", async () => (await page.locator("body").getAttribute("data-state")) === "live");
    // The key left the address bar as soon as it was read.
    expect(new URL(page.url()).hash).toBe("");

    // History: the first reading after the traffic gives the charts their first points; later
    // waves arrive without a reload, one history point after another.
    await until("a history point with the traffic's latency", async () => ((await chartSeries(page, "chart-latency")).p50 ?? 0) >= 1);
    for (const [i, prompts] of [["One more.", "And another."], ["A third.", "A fourth."]].entries()) {
      const shown = Number((await page.locator("#stat-strikes").textContent())!.replace(/,/g, ""));
      await wave(prompts);
      await until("the page to count the new strikes", async () => Number((await page.locator("#stat-strikes").textContent())!.replace(/,/g, "")) >= shown + 2);
      await until(`history point ${i + 2}`, async () => ((await chartSeries(page, "chart-strikes"))["succeeded/min"] ?? 0) >= i + 2);
    }
    await until("every dollar this test spent", async () => (await tableRows(page, "table-cost-tenant")).find((r) => r[0] === "dashboard")?.[1] === usd(spent));

    // What the page shows, read between two polls, against the summary it was sent.
    const { shown, sent } = await consistentView(page, received, async () => ({
      strikes: await page.locator("#stat-strikes").textContent(),
      sources: await page.locator("#stat-sources").textContent(),
      spend: await page.locator("#stat-spend").textContent(),
      health: await page.locator("#health").getAttribute("data-status"),
      errors: await tableRows(page, "table-errors"),
      targets: await tableRows(page, "table-breaker-targets"),
      breakers: await tableRows(page, "table-breakers"),
      attempts: await tableRows(page, "table-attempts"),
      upstream: await tableRows(page, "table-upstream"),
      pools: await tableRows(page, "table-pools"),
      tenants: await tableRows(page, "table-cost-tenant"),
      models: await tableRows(page, "table-cost-model"),
      costPools: await tableRows(page, "table-cost-pool"),
      latencyByModel: await tableRows(page, "table-latency-model"),
      requestByPool: await tableRows(page, "table-request-pool"),
      requestByModel: await tableRows(page, "table-request-model"),
      upstreamUtil: await page.locator("#stat-upstream-utilisation").textContent(),
    }));
    expect(shown.strikes).toBe(int(sent.strikes.total));
    expect(shown.sources).toBe(int(sent.sources.total));
    expect(shown.spend).toBe(usd(sent.cost.total_usd));
    expect(shown.health).toBe(sent.health.status);
    expect(shown.errors).toEqual(sent.strikes.by_error_type.map((e) => [e.type, int(e.count), pct(e.share)]));
    expect(shown.targets).toEqual(sent.breakers.by_target.map((t) => [t.target, int(t.open), int(t.half_open), int(t.closed)]));
    expect(shown.breakers).toEqual(sent.breakers.rows.map((b) => [b.target, b.phase.replace("_", " "), b.tenant, b.covenant]));
    expect(shown.attempts).toEqual(sent.attempt_failures.map((u) => [u.target, u.type, int(u.count)]));
    expect(shown.upstream).toEqual(sent.upstream_failures.map((u) => [u.operation, u.kind, u.pool || "–", int(u.count)]));
    expect(shown.pools.map((r) => r.slice(0, 3))).toEqual(sent.resources.pools.map((p) => [p.pool, int(p.leases_live), int(p.leases_released)]));
    expect(shown.pools.map((r) => r.slice(7))).toEqual(
      sent.resources.pools.map((p) => [pct(p.upstream_utilisation), p.leases_sampled > 0 ? bytes(p.memory_used_bytes) : "–", p.leases_sampled > 0 ? `${bytes(p.memory_allocated_bytes)} (${pct(p.memory_used_ratio)})` : "–"]),
    );
    const costRow = (r: DashboardSummary["cost"]["by_tenant"][number]) => [r.key, usd(r.usd), int(r.tokens), int(r.strikes), usd(r.usd_per_1k_tokens)];
    expect(shown.tenants).toEqual(sent.cost.by_tenant.map(costRow));
    expect(shown.models).toEqual(sent.cost.by_model.map(costRow));
    expect(shown.costPools).toEqual(sent.cost.by_pool.map(costRow));
    expect(shown.latencyByModel.map((r) => r[0])).toEqual(sent.latency.inference_by_model.map((r) => r.key));
    const latencyRow = (r: DashboardSummary["latency"]["request_by_pool"][number]) => [r.key, int(r.count), ms(r.p50_ms), ms(r.p95_ms), ms(r.p99_ms), ms(r.mean_ms)];
    expect(shown.requestByPool).toEqual(sent.latency.request_by_pool.map(latencyRow));
    expect(shown.requestByModel).toEqual(sent.latency.request_by_model.map(latencyRow));
    const sampled = sent.resources.pools.reduce((n, p) => n + p.leases_sampled, 0);
    const meanUtil = sent.resources.pools.reduce((n, p) => n + (p.upstream_utilisation ?? 0) * p.leases_sampled, 0) / sampled;
    expect(shown.upstreamUtil).toBe(pct(meanUtil));

    // ...and against what this test did, which no other test touches (its own tenant).
    const mine = sent.cost.by_tenant.find((r) => r.key === "dashboard")!;
    expect(mine.usd).toBeCloseTo(spent, 12);
    expect(spent).toBeGreaterThan(0);
    expect(mine.strikes).toBe(13);
    // Cost per thousand tokens: what the Hosted.AI emulator charged this tenant's inferences, over
    // the tokens it says they processed.
    const billed = ((await (await fetch(`${hostedai}/admin/inferences`)).json()) as { inferences: Array<{ metadata: Record<string, string>; prompt_tokens: number; completion_tokens: number; cost_usd: number }> })
      .inferences.filter((i) => (i.metadata.tenant_id ?? i.metadata.tenant) === "dashboard");
    const billedTokens = billed.reduce((n, i) => n + i.prompt_tokens + i.completion_tokens, 0);
    expect(mine.tokens).toBe(billedTokens);
    expect(mine.usd_per_1k_tokens).toBeCloseTo((billed.reduce((n, i) => n + i.cost_usd, 0) / billedTokens) * 1000, 9);
    // Failed upstream calls by operation: the failing pool's allocations.
    expect(shown.upstream.find((r) => r[0] === "allocate" && r[2] === FAILING_POOL)?.[1]).toBe("error");
    expect(shown.models.map((r) => r[0])).toEqual(expect.arrayContaining(["mistral-7b", "gemma-2b-it"]));
    expect(shown.errors.map((r) => r[0])).toContain("model_not_allowed");
    const failing = sent.breakers.by_target.find((t) => t.target === FAILING_POOL);
    expect(failing && failing.open + failing.half_open).toBeGreaterThan(0);
    expect(shown.breakers.find((r) => r[3] === covenants.flaky && r[0] === FAILING_POOL)?.[1]).toMatch(/open/);
    expect(shown.attempts.find((r) => r[0] === FAILING_POOL)?.[1]).toBe("injected_fault");
    expect(shown.pools.length).toBeGreaterThan(0);
    expect(sent.health.status).not.toBe("incomplete");

    // Every chart holds points, and each expected series has real values.
    const strikes = await chartSeries(page, "chart-strikes");
    expect(Object.keys(strikes)).toEqual(["succeeded/min", "failed/min", "error rate"]);
    expect(strikes["succeeded/min"]).toBeGreaterThanOrEqual(3);
    const latency = await chartSeries(page, "chart-latency");
    for (const q of ["p50", "p95", "p99"]) expect(latency[q]).toBeGreaterThanOrEqual(1);
    expect((await chartSeries(page, "chart-allocation")).p95).toBeGreaterThanOrEqual(1);
    const spend = await chartSeries(page, "chart-spend");
    expect(Object.keys(spend).length).toBeGreaterThan(0);
    expect(Math.max(...Object.values(spend))).toBeGreaterThanOrEqual(3);
    expect((await chartSeries(page, "chart-leases"))["queue depth"]).toBeGreaterThanOrEqual(3);
    await until("utilisation of a released lease", async () => Object.values(await chartSeries(page, "chart-utilisation")).some((n) => n >= 1));
    // Beside it, Hosted.AI's own utilisation and memory of the live lease.
    await until("the upstream's readings of the live lease", async () => ((await chartSeries(page, "chart-utilisation"))[`${held.pool_id} · Hosted.AI`] ?? 0) >= 1);
    expect((await chartSeries(page, "chart-utilisation"))[`${held.pool_id} · memory`]).toBeGreaterThanOrEqual(1);
    const request = await chartSeries(page, "chart-request-latency");
    for (const q of ["p50", "p95", "p99"]) expect(request[q]).toBeGreaterThanOrEqual(1);
    const throughput = await chartSeries(page, "chart-throughput");
    expect(throughput["strikes/min"]).toBeGreaterThanOrEqual(3);
    expect(throughput["tokens/min"]).toBeGreaterThanOrEqual(3);
    const unitCost = await chartSeries(page, "chart-unit-cost");
    expect(Object.values(unitCost).some((n) => n >= 1)).toBe(true);
    await page.selectOption("#unit-cost-split", "model");
    expect(Object.keys(await chartSeries(page, "chart-unit-cost"))).toEqual(expect.arrayContaining(["mistral-7b", "gemma-2b-it"]));
    await page.selectOption("#unit-cost-split", "pool");
    expect(Object.keys(await chartSeries(page, "chart-upstream-failures"))).toContain("allocate error");
    // uPlot drew them: one plotting canvas per chart.
    expect(await page.locator(".chart canvas").count()).toBe(10);

    // The split selector redraws the spend chart by tenant.
    await page.selectOption("#spend-split", "tenant");
    expect(Object.keys(await chartSeries(page, "chart-spend"))).toContain("dashboard");
    await page.selectOption("#spend-split", "pool");

    expect(problems).toEqual([]);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}dashboard.png`, fullPage: true });
    await page.close();
  });
});
