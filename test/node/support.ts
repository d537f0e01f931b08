// What the Node-side tests share: a free loopback port, waiting for something to become true, and
// fault rules added to the shared system's Hosted.AI emulator without disturbing other files'.
export { freePort } from "../../scripts/ports.mjs";

/** Polls `probe` until it gives a value (a throw counts as not yet), or fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type FaultRules = Partial<Record<"errors" | "latency" | "timeouts" | "rate_limit" | "stream_cuts", Record<string, unknown>[]>>;

/**
 * Adds rules to the Hosted.AI emulator's faults, keeping every other file's (the started system is
 * shared, and `PUT /admin/faults` replaces the whole configuration), and returns how to take
 * exactly these rules away again.
 */
export async function addFaultRules(hostedai: string, rules: FaultRules): Promise<() => Promise<void>> {
  const faults = async (init?: RequestInit) => {
    const res = await fetch(`${hostedai}/admin/faults`, { ...init, headers: { "content-type": "application/json" } });
    if (!res.ok) throw new Error(`/admin/faults: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const edit = async (change: (list: Record<string, unknown>[], mine: Record<string, unknown>[]) => Record<string, unknown>[]) => {
    const current = await faults();
    const next = { ...current };
    for (const [kind, mine] of Object.entries(rules)) next[kind] = change((current[kind] as Record<string, unknown>[]) ?? [], mine);
    await faults({ method: "PUT", body: JSON.stringify(next) });
  };
  await edit((list, mine) => [...list, ...mine]);
  // The emulator answers with defaults filled in, so a rule is recognised by the fields it was given.
  const given = (rule: Record<string, unknown>, r: Record<string, unknown>) => Object.entries(rule).every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v));
  return () => edit((list, mine) => list.filter((r) => !mine.some((rule) => given(rule, r))));
}
