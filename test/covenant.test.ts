import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { covenantObjectName } from "../src/covenant";
import { emulatorAdmin, freshCovenant, strike } from "./support/gateway";
import { TEST_KEYS } from "./support/workers";

async function hostedai<T>(path: string, init: RequestInit = {}, token?: string): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await env.HOSTEDAI.fetch(`http://hostedai.test${path}`, { ...init, headers });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

describe("covenant object", () => {
  it("records every strike in its ledger", async () => {
    const covenant = freshCovenant("ledger");
    for (let i = 0; i < 3; i++) expect((await strike({ covenant_id: covenant, model: "gemma-2b-it", prompt: `n${i}`, max_tokens: 8 })).status).toBe(200);
    const stub = env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", covenant)));
    const status = await stub.status();
    expect(status.totals.strikes).toBe(3);
    expect(status.totals.failed).toBe(0);
    expect(status.totals.cost_usd).toBeGreaterThan(0);
    expect(status.allocations).toEqual([]);
  });

  it("keeps tenants apart: the same covenant id names two objects", () => {
    expect(covenantObjectName("acme", "default")).not.toBe(covenantObjectName("globex", "default"));
    expect(env.COVENANT.idFromName(covenantObjectName("acme", "x")).equals(env.COVENANT.idFromName(covenantObjectName("globex", "x")))).toBe(false);
  });

  it("releases, by alarm, an allocation left behind by a strike that never finished", async () => {
    // A real allocation the object holds but no strike is using: what a crash mid-strike leaves.
    const { access_token } = await hostedai<{ access_token: string }>("/api/v1/auth/token", { method: "POST", body: JSON.stringify({ api_key: TEST_KEYS.hostedai }) });
    const alloc = await hostedai<{ allocation_id: string; created_at: string; expires_at: string }>(
      "/api/v1/allocations",
      { method: "POST", body: JSON.stringify({ pool_id: "standard-us-east", requirements: { min_tflops: 10, min_vram_mb: 6144 }, duration_seconds: 600, preemptible: false }) },
      access_token,
    );
    expect((await emulatorAdmin()).allocations.map((a) => a.allocation_id)).toContain(alloc.allocation_id);

    const stub = env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", freshCovenant("orphan"))));
    await runInDurableObject(stub, async (_obj, state) => {
      const now = Date.now();
      state.storage.sql.exec(
        `INSERT INTO allocations (allocation_id, pool_id, model, vram_mb, price_per_hour, created_at, expires_at, state) VALUES (?, 'standard-us-east', 'mistral-7b', 6144, 1, ?, ?, 'releasing')`,
        alloc.allocation_id, now, Date.parse(alloc.expires_at),
      );
      state.storage.sql.exec(`INSERT INTO timers (kind, ref, due_at) VALUES ('release', ?, ?)`, alloc.allocation_id, now);
      // Far enough ahead that only the test fires it.
      await state.storage.setAlarm(now + 3_600_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);

    expect((await emulatorAdmin()).allocations.map((a) => a.allocation_id)).not.toContain(alloc.allocation_id);
    const status = await stub.status();
    expect(status.allocations).toEqual([]);
    expect(status.next_alarm_at).toBeNull();
  });
});
