// Bounded storage over months: ledger rows older than the raw retention roll up into hourly
// aggregates per model, pool, key and outcome, and the usage API and the export give the same
// totals before and after, to the token and the cent. The export's totals equal the usage API's.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CovenantUsage } from "../src/schema";
import { createCovenant } from "./support/covenants";
import { call, KEYS, strike } from "./support/gateway";
import { issueKey } from "./support/keys";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface ExportLine {
  hour: string;
  tenant: string;
  covenant: string;
  model: string;
  pool: string;
  key_id: string;
  strikes: number;
  prompt_tokens: number;
  completion_tokens: number;
  gpu_slice_seconds: number;
  cost_usd: number;
}

async function usage(id: string, from: number, to: number): Promise<CovenantUsage> {
  const res = await call(`/v1/covenants/${id}/usage?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
  expect(res.status).toBe(200);
  return res.json();
}

async function exported(from: number, to: number, key: string = KEYS.dev, format: "csv" | "jsonl" = "jsonl"): Promise<ExportLine[]> {
  const res = await call(`/v1/usage/export?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&format=${format}`, { key });
  expect(res.status, await res.clone().text()).toBe(200);
  const text = await res.text();
  if (format === "jsonl") return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as ExportLine);
  const [header, ...rows] = text.split("\n").filter(Boolean);
  const cols = header!.split(",");
  return rows.map((r) => {
    const cells = r.split(",");
    const o: Record<string, string | number> = {};
    cols.forEach((c, i) => (o[c] = ["strikes", "prompt_tokens", "completion_tokens", "gpu_slice_seconds", "cost_usd"].includes(c) ? Number(cells[i]) : cells[i]!));
    return o as unknown as ExportLine;
  });
}

/** Sums of what both views report, to compare them. */
function totals(u: CovenantUsage) {
  return {
    strikes: u.strikes,
    prompt: u.by_model.reduce((s, r) => s + r.prompt_tokens, 0),
    completion: u.by_model.reduce((s, r) => s + r.completion_tokens, 0),
    usd: u.total_usd,
    seconds: u.by_model.reduce((s, r) => s + r.allocation_seconds, 0),
  };
}

function exportTotals(lines: ExportLine[]) {
  return {
    strikes: lines.reduce((s, l) => s + l.strikes, 0),
    prompt: lines.reduce((s, l) => s + l.prompt_tokens, 0),
    completion: lines.reduce((s, l) => s + l.completion_tokens, 0),
    usd: lines.reduce((s, l) => s + l.cost_usd, 0),
    seconds: lines.reduce((s, l) => s + l.gpu_slice_seconds, 0),
  };
}

function expectSame(a: ReturnType<typeof totals>, b: ReturnType<typeof totals>): void {
  expect(a.strikes).toBe(b.strikes);
  expect(a.prompt).toBe(b.prompt);
  expect(a.completion).toBe(b.completion);
  expect(Math.abs(a.usd - b.usd)).toBeLessThan(1e-9);
  expect(Math.abs(a.seconds - b.seconds)).toBeLessThan(1e-9);
}

describe("ledger roll-up", () => {
  it("moves rows older than the raw retention into hourly aggregates without changing a total", async () => {
    // The seed rule releases each allocation within its strike: every charge is booked when it answers.
    const { id } = await createCovenant({ policy: "seed" });
    const issued = await issueKey({ scopes: ["strike"] });
    for (const [key, n] of [[KEYS.dev, 3], [issued.key, 2]] as const) {
      for (let i = 0; i < n; i++) expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: `roll ${i}`, max_tokens: 8 }, key)).status).toBe(200);
    }
    const stub = env.COVENANT.getByName(`dev:${id}`);
    expect(await runInDurableObject(stub, (_o, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM leases`).one().n)).toBe(0);
    // Ten days pass for the ledger (the rows are moved back rather than waited for).
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec(`UPDATE strikes SET created_at = created_at - ?`, 10 * DAY);
      state.storage.sql.exec(`UPDATE lease_charges SET at = at - ?`, 10 * DAY);
    });
    const now = Date.now();
    const from = Math.floor((now - 12 * DAY) / HOUR) * HOUR;
    const before = totals(await usage(id, from, now));
    const exportedBefore = (await exported(from, now)).filter((l) => l.covenant === id);
    expect(before.strikes).toBe(5);
    expectSame(exportTotals(exportedBefore), before);
    // The raw rows name their keys; so do the lines. What no strike was charged (a lease's idle
    // remainder) is the covenant's, under no key.
    expect(new Set(exportedBefore.map((l) => l.key_id))).toEqual(new Set(["config:dev", issued.id, ""]));
    expect(exportedBefore.filter((l) => l.key_id === issued.id).reduce((n, l) => n + l.strikes, 0)).toBe(2);

    await runInDurableObject(stub, async (_o, state) => state.storage.setAlarm(Date.now() + HOUR));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, (_o, state) => ({
      raw: state.storage.sql.exec(`SELECT count(*) AS n FROM strikes`).one().n,
      hours: state.storage.sql.exec(`SELECT count(*) AS n FROM usage_hourly`).one().n,
    }));
    expect(left.raw).toBe(0);
    expect(left.hours).toBeGreaterThan(0);

    const after = totals(await usage(id, from, now));
    expectSame(after, before);
    const exportedAfter = (await exported(from, now)).filter((l) => l.covenant === id);
    expectSame(exportTotals(exportedAfter), before);
    expect(new Set(exportedAfter.map((l) => l.key_id))).toEqual(new Set(["config:dev", issued.id, ""]));
    expect(exportedAfter.filter((l) => l.key_id === issued.id).reduce((n, l) => n + l.strikes, 0)).toBe(2);
  });

  it("drops aggregates older than their retention", async () => {
    const { id } = await createCovenant({});
    expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "old", max_tokens: 4 })).status).toBe(200);
    const stub = env.COVENANT.getByName(`dev:${id}`);
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec(`UPDATE strikes SET created_at = created_at - ?`, 401 * DAY);
      state.storage.sql.exec(`UPDATE lease_charges SET at = at - ?`, 401 * DAY);
      return state.storage.setAlarm(Date.now() + HOUR);
    });
    // One pass rolls the oldest day up; the next drops what is past 400 days.
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (_o, state) => state.storage.setAlarm(Date.now() + HOUR));
    await runDurableObjectAlarm(stub);
    const rows = await runInDurableObject(stub, (_o, state) => ({
      raw: state.storage.sql.exec(`SELECT count(*) AS n FROM strikes`).one().n,
      hours: state.storage.sql.exec(`SELECT count(*) AS n FROM usage_hourly`).one().n,
    }));
    expect(rows).toEqual({ raw: 0, hours: 0 });
  });
});

describe("usage export", () => {
  it("streams CSV and JSON lines whose totals equal the usage API's, for the tenant's covenants only", async () => {
    const a = await createCovenant({});
    const b = await createCovenant({});
    for (const id of [a.id, a.id, b.id]) expect((await strike({ covenant_id: id, model: "mistral-7b", prompt: "bill me", max_tokens: 8 })).status).toBe(200);
    const from = Math.floor(Date.now() / DAY) * DAY;
    const to = Date.now() + 1000;
    const csv = await exported(from, to, KEYS.dev, "csv");
    const jsonl = await exported(from, to, KEYS.dev, "jsonl");
    for (const id of [a.id, b.id]) {
      const u = totals(await usage(id, from, to));
      expectSame(exportTotals(csv.filter((l) => l.covenant === id)), u);
      expectSame(exportTotals(jsonl.filter((l) => l.covenant === id)), u);
    }
    for (const l of jsonl) {
      expect(l.tenant).toBe("dev");
      expect(new Date(l.hour).getTime() % HOUR).toBe(0);
    }
    // Another tenant's export has none of these.
    expect((await exported(from, to, KEYS.acme)).some((l) => l.covenant === a.id)).toBe(false);
    // The operator's export has them, beside other tenants'.
    const res = await call(`/v1/admin/usage/export?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&format=jsonl`, { key: KEYS.dev });
    const all = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l) as ExportLine);
    expectSame(exportTotals(all.filter((l) => l.tenant === "dev" && l.covenant === a.id)), totals(await usage(a.id, from, to)));
  });

  it("refuses bad queries with 400 naming the field", async () => {
    const now = Date.now();
    for (const [q, param] of [
      ["", "from"],
      [`?from=${new Date(now).toISOString()}&to=${new Date(now - DAY).toISOString()}`, "from"],
      [`?from=${new Date(now - 500 * DAY).toISOString()}`, "from"],
      [`?from=${new Date(now - DAY).toISOString()}&format=xml`, "format"],
    ] as const) {
      const res = await call(`/v1/usage/export${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { param?: string } }).error.param, q).toBe(param);
    }
  });
});

describe("storage metric", () => {
  it("reports each covenant object's SQLite size", async () => {
    const { id } = await createCovenant({});
    expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "measure me", max_tokens: 4 })).status).toBe(200);
    const text = await (await call("/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith("homeskillet_covenant_storage_bytes{") && l.includes(`covenant="${id}"`));
    expect(line).toBeDefined();
    const bytes = Number(line!.split(" ").pop());
    const size = await runInDurableObject(env.COVENANT.getByName(`dev:${id}`), (_o, state) => state.storage.sql.databaseSize);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(size);
  });
});
