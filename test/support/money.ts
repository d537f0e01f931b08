// Worker-side: a covenant's money against the upstream's bills. Hosted.AI's emulator is the
// independent reference: it bills every allocation it ends (whole seconds held × its price) and
// every inference it runs, and tags each with the allocation's metadata (tenant_id, workload_id =
// the covenant). What the covenant booked — its usage API, its ledger rows — must add up to
// those bills, allocation by allocation and pool by pool.
import { env, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { covenantObjectName } from "../../src/covenant";
import type { CovenantUsage } from "../../src/schema";
import { call, KEYS } from "./gateway";

/** Booked and billed money agree to this many dollars: far tighter than a cent. */
export const USD_TOLERANCE = 1e-9;

export interface BilledAllocation {
  allocation_id: string;
  pool_id: string;
  status: "released" | "expired" | "preempted";
  price_per_hour: number;
  billed_seconds: number;
  cost_usd: number;
  metadata: Record<string, string>;
}

export interface BilledInference {
  inference_id: string;
  allocation_id: string;
  pool_id: string;
  metadata: Record<string, string>;
  model: string;
  outcome: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

const emulator = async <T>(path: string): Promise<T> => {
  const res = await env.HOSTEDAI.fetch(`http://hostedai.test${path}`);
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

const ownedBy = (metadata: Record<string, string> | undefined, tenant: string, covenantId: string) =>
  metadata?.tenant_id === tenant && metadata?.workload_id === covenantId;

/** Every allocation of the covenant the emulator has ended, each with its bill. */
export async function billedAllocationsOf(covenantId: string, tenant = "dev"): Promise<BilledAllocation[]> {
  const ended: BilledAllocation[] = [];
  for (const status of ["released", "expired", "preempted"] as const) {
    const { allocations } = await emulator<{ allocations: BilledAllocation[] }>(`/admin/allocations?status=${status}`);
    ended.push(...allocations.filter((a) => ownedBy(a.metadata, tenant, covenantId)));
  }
  return ended;
}

/** Every inference the emulator ran (and billed) on the covenant's allocations, oldest first (its last 1000 in all). */
export async function billedInferencesOf(covenantId: string, tenant = "dev"): Promise<BilledInference[]> {
  const { inferences } = await emulator<{ inferences: BilledInference[] }>("/admin/inferences");
  return inferences.filter((i) => ownedBy(i.metadata, tenant, covenantId));
}

/** The covenant's ledger rows, read from its object's SQLite: strikes (and their parts) and lease charges. */
export async function ledgerOf(covenantId: string, tenant = "dev") {
  const stub = env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName(tenant, covenantId)));
  return runInDurableObject(stub, (_o, state) => ({
    strikes: state.storage.sql
      .exec<{ strike_id: string; allocation_id: string | null; pool_id: string | null; outcome: string; cost_usd: number }>(
        `SELECT strike_id, allocation_id, pool_id, outcome, cost_usd FROM strikes`,
      )
      .toArray(),
    leaseCharges: state.storage.sql
      .exec<{ allocation_id: string; pool_id: string; billed_seconds: number; cost_usd: number }>(`SELECT allocation_id, pool_id, billed_seconds, cost_usd FROM lease_charges`)
      .toArray(),
  }));
}

/** Usage since `from` (ISO), so a run that crosses midnight UTC is still read whole. */
export async function usageSince(covenantId: string, from: string, key = KEYS.dev): Promise<CovenantUsage> {
  const res = await call(`/v1/covenants/${covenantId}/usage?from=${encodeURIComponent(from)}`, { key });
  expect(res.status).toBe(200);
  return res.json();
}

const sumBy = <T>(rows: readonly T[], key: (r: T) => string, usd: (r: T) => number): Map<string, number> => {
  const out = new Map<string, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + usd(r));
  return out;
};

/** Asserts two maps of dollars agree on every key, within USD_TOLERANCE. */
function expectSameDollars(what: string, booked: Map<string, number>, billed: Map<string, number>): void {
  expect([...booked.keys()].sort(), `${what}: the same keys`).toEqual([...billed.keys()].sort());
  for (const [k, usd] of billed) {
    const diff = Math.abs(booked.get(k)! - usd);
    expect(diff, `${what} ${k}: booked ${booked.get(k)} vs billed ${usd}`).toBeLessThanOrEqual(USD_TOLERANCE);
  }
}

/**
 * The covenant's books against the emulator's bills, once its leases are all given back: every
 * allocation billed is in the ledger and costs there (its strikes' charges plus its lease
 * charge) what it was billed; the usage API's total, each pool's line and its allocation seconds
 * agree. Returns the bills, for further checks.
 */
export async function expectBooksMatchBills(covenantId: string, from: string, tenant = "dev", key = KEYS.dev): Promise<{ bills: BilledAllocation[]; usage: CovenantUsage }> {
  const live = (await emulator<{ allocations: { metadata?: Record<string, string> }[] }>("/admin/allocations")).allocations.filter((a) => ownedBy(a.metadata, tenant, covenantId));
  expect(live, "every allocation ended, so every bill is final").toEqual([]);
  const bills = await billedAllocationsOf(covenantId, tenant);
  expect(bills.length, "the covenant ran on Hosted.AI").toBeGreaterThan(0);
  const billedTotal = bills.reduce((s, b) => s + b.cost_usd, 0);
  // The emulator's own arithmetic: whole seconds held × the slice's hourly price, nine decimals.
  for (const b of bills) expect(b.cost_usd).toBeCloseTo((b.billed_seconds * b.price_per_hour) / 3600, 9);

  // Allocation by allocation: the ledger rows that name it add up to its bill.
  const ledger = await ledgerOf(covenantId, tenant);
  const booked = [...ledger.strikes.filter((s) => s.allocation_id !== null && s.pool_id !== "local"), ...ledger.leaseCharges];
  expectSameDollars("allocation", sumBy(booked, (r) => r.allocation_id!, (r) => r.cost_usd), sumBy(bills, (b) => b.allocation_id, (b) => b.cost_usd));
  // Each allocation's remainder is booked once, with the seconds the upstream billed.
  expect(ledger.leaseCharges.map((c) => c.allocation_id).sort()).toEqual(bills.map((b) => b.allocation_id).sort());
  for (const b of bills) expect(ledger.leaseCharges.find((c) => c.allocation_id === b.allocation_id)!.billed_seconds, b.allocation_id).toBe(b.billed_seconds);

  // The usage API: the total, and each pool's dollars and billed seconds.
  const usage = await usageSince(covenantId, from, key);
  expect(Math.abs(usage.total_usd - billedTotal), `usage total ${usage.total_usd} vs billed ${billedTotal}`).toBeLessThanOrEqual(USD_TOLERANCE);
  const pools = usage.by_pool.filter((p) => p.key !== "local" && p.key !== "cache");
  expectSameDollars("pool", new Map(pools.map((p) => [p.key, p.cost_usd])), sumBy(bills, (b) => b.pool_id, (b) => b.cost_usd));
  expectSameDollars("pool seconds", new Map(pools.map((p) => [p.key, p.allocation_seconds])), sumBy(bills, (b) => b.pool_id, (b) => b.billed_seconds));
  return { bills, usage };
}
