// Worker-side: what the Hosted.AI emulator itself says (its API, as Homeskillet's credential sees
// it, and its log of inferences), and a covenant object's own metrics — the references the
// integration document's measures are checked against.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { covenantObjectName } from "../../src/covenant";
import type { Snapshot } from "../../src/telemetry";
import { TEST_KEYS } from "./workers";

const EMULATOR = "http://hostedai.test";

/** A covenant object's own snapshot: its metrics alone, whatever other tests do meanwhile. */
export function objectSnapshot(covenantId: string, tenant = "dev"): Promise<Snapshot> {
  return env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName(tenant, covenantId))).metricsSnapshot() as Promise<Snapshot>;
}

/** The emulator's API as Homeskillet's own credential sees it (allocations belong to the key). */
export async function emulatorApi<T>(path: string, method = "GET"): Promise<T> {
  const token = (await (
    await env.HOSTEDAI.fetch(`${EMULATOR}/api/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ api_key: TEST_KEYS.hostedai }),
    })
  ).json()) as { access_token: string };
  const res = await env.HOSTEDAI.fetch(`${EMULATOR}${path}`, { method, headers: { authorization: `Bearer ${token.access_token}` } });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json() as Promise<T>;
}

export interface EmulatorInference {
  allocation_id: string;
  pool_id: string;
  model: string;
  metadata: Record<string, string>;
  outcome: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

/** The emulator's log of one covenant's inferences (its allocations' workload; `covenant` before that key). */
export async function inferencesOf(covenantId: string): Promise<EmulatorInference[]> {
  const res = await env.HOSTEDAI.fetch(`${EMULATOR}/admin/inferences`);
  return ((await res.json()) as { inferences: EmulatorInference[] }).inferences.filter((i) => (i.metadata.workload_id ?? i.metadata.covenant) === covenantId);
}
