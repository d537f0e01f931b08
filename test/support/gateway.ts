// Worker-side helpers: call the gateway and look into the emulators, as a client and an operator would.
import { env, SELF } from "cloudflare:test";

export const KEYS = {
  dev: env.HOMESKILLET_DEV_KEY!,
  acme: "hsk_test_acme_0001",
  globex: "hsk_test_globex_0001",
};

export const ORIGIN = "https://homeskillet.test";

export function call(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? KEYS.dev : init.key;
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  return SELF.fetch(`${ORIGIN}${path}`, { ...init, headers });
}

export function strike(body: unknown, key?: string | null): Promise<Response> {
  return call("/v1/strikes", { method: "POST", body: JSON.stringify(body), key });
}

/** A covenant id no other test uses, so assertions about its allocations are about this test only. */
export function freshCovenant(label: string): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface EmulatorAllocation {
  allocation_id: string;
  pool_id: string;
  status: string;
  metadata?: Record<string, string>;
  /** Live allocations: inferences running on it now. */
  inferences_running?: number;
}

export interface EmulatorAdminView {
  allocations: EmulatorAllocation[];
  created_total: number;
  released_total: number;
  tokens_issued: number;
}

export async function emulatorAdmin(): Promise<EmulatorAdminView> {
  const res = await env.HOSTEDAI.fetch("http://hostedai.test/admin/allocations");
  if (!res.ok) throw new Error(`emulator admin view: ${res.status}`);
  return res.json();
}

/** Live allocations in the emulator that belong to one covenant (by the metadata a strike attaches: workload_id is the covenant). */
export async function liveAllocationsOf(covenantId: string): Promise<EmulatorAllocation[]> {
  return (await emulatorAdmin()).allocations.filter((a) => a.metadata?.workload_id === covenantId);
}
