// Worker-side: set and clear the emulators' injected faults through their admin APIs.
import { env } from "cloudflare:test";
import { liveAllocationsOf } from "./gateway";

/**
 * Faults reach every request an emulator serves, whichever test file sent it: only the chaos
 * project, whose files always run one at a time, may set them (test/support/workers.ts).
 */
async function inject(fetcher: Fetcher, path: string, method: string, body?: unknown): Promise<unknown> {
  if ((env as unknown as Record<string, unknown>).TEST_FAULTS_ALLOWED !== "1") {
    throw new Error("faults are injected only in the chaos project (test/chaos/): this project's files share their emulators and may run in parallel");
  }
  return admin(fetcher, path, method, body);
}

async function admin(fetcher: Fetcher, path: string, method: string, body?: unknown): Promise<unknown> {
  const res = await fetcher.fetch(`http://emulator.test${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export const hostedaiFaults = {
  set: (config: Record<string, unknown>) => inject(env.HOSTEDAI, "/admin/faults", "PUT", config),
  clear: () => inject(env.HOSTEDAI, "/admin/faults", "DELETE"),
  expireTokens: () => inject(env.HOSTEDAI, "/admin/faults/expire-tokens", "POST"),
  preempt: (pool_id: string, count: number) => inject(env.HOSTEDAI, "/admin/faults/preempt", "POST", { pool_id, count }) as Promise<{ preempted: string[] }>,
};

export const localFaults = {
  set: (config: Record<string, unknown>) => inject(env.LOCAL_NODE, "/admin/faults", "PUT", config),
  clear: () => inject(env.LOCAL_NODE, "/admin/faults", "DELETE"),
};

export interface FaultCounters {
  created_total: number;
  preempted_total: number;
  tokens_issued: number;
  inference_total: number;
  faults_injected_total: Record<string, number>;
}

export async function hostedaiCounters(): Promise<FaultCounters> {
  return (await admin(env.HOSTEDAI, "/admin/allocations", "GET")) as FaultCounters;
}

export interface LocalNodeCounters {
  requests_total: number;
  faults_injected_total: Record<string, number>;
}

export async function localNodeCounters(): Promise<LocalNodeCounters> {
  return (await admin(env.LOCAL_NODE, "/admin/stats", "GET")) as LocalNodeCounters;
}

/**
 * Takes away the slice a covenant's inference is running on, with any other preemptible slice of
 * its pool, once one is running (not merely allocated: taken before the inference starts, the
 * strike simply allocates again and loses nothing). The allocations preempted; none if no
 * inference of the covenant ran within two seconds.
 */
export async function preemptRunningInference(covenantId: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const pool = (await liveAllocationsOf(covenantId)).find((a) => (a.inferences_running ?? 0) > 0)?.pool_id;
    if (pool) {
      const { preempted } = await hostedaiFaults.preempt(pool, 10);
      if (preempted.length > 0) return preempted;
    }
  }
  return [];
}
