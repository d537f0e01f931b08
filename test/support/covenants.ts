import { expect } from "vitest";
import type { CovenantContract, CovenantStatus, CovenantUsage } from "../../src/schema";
import { call, freshCovenant, KEYS } from "./gateway";

export async function createCovenant(body: Record<string, unknown>, key = KEYS.dev): Promise<CovenantContract> {
  const id = (body.id as string | undefined) ?? freshCovenant("cov");
  const res = await call("/v1/covenants", { method: "POST", body: JSON.stringify({ ...body, id }), key });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

export async function covenantStatus(id: string, key = KEYS.dev): Promise<CovenantStatus> {
  const res = await call(`/v1/covenants/${id}`, { key });
  expect(res.status).toBe(200);
  return res.json();
}

export async function covenantUsage(id: string, key = KEYS.dev): Promise<CovenantUsage> {
  const res = await call(`/v1/covenants/${id}/usage`, { key });
  expect(res.status).toBe(200);
  return res.json();
}

export async function deleteCovenant(id: string, key = KEYS.dev): Promise<{ leases_released: number }> {
  const res = await call(`/v1/covenants/${id}`, { method: "DELETE", key });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Polls until `check` passes or the time runs out (alarms run on their own schedule). */
export async function eventually<T>(probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (check(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
