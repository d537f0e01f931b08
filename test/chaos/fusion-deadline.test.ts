import { afterEach, describe, expect, it } from "vitest";
import { covenantStatus, createCovenant, deleteCovenant, eventually } from "../support/covenants";
import { hostedaiCounters, hostedaiFaults, localFaults, localNodeCounters } from "../support/faults";
import { strike } from "../support/gateway";
import { THREE_QUESTIONS as MULTI } from "../support/prompts";

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

/** Requests each emulator has held without answering (injected timeouts), as each counts them. */
async function hungSoFar(): Promise<{ hostedai: number; local: number }> {
  const hostedai = (await hostedaiCounters()).faults_injected_total.timeouts ?? 0;
  const local = (await localNodeCounters()).faults_injected_total.timeouts ?? 0;
  return { hostedai, local };
}

describe("a fused plan's deadline", () => {
  it("stops fragments at the plan's deadline: the answer comes then, and nothing stays in flight", async () => {
    // An SLO of 1 s gives the plan the shortest deadline strikes get (10 s).
    const { id } = await createCovenant({ qos: { latency_slo_ms: 1_000 }, fallback: [] });
    // Inference hangs everywhere: each fragment would retry and fall back for its own full deadline.
    await hostedaiFaults.set({ timeouts: [{ endpoint: "inference", rate: 1 }] });
    await localFaults.set({ timeouts: { rate: 1 } });
    const res = await strike({ covenant_id: id, prompt: MULTI, max_tokens: 16, fusion: { strategy: "split", tolerate_gaps: true } });
    expect(res.status).toBe(504);
    const hung = await hungSoFar();
    const body = (await res.json()) as { error: { type: string; fusion: { fragments: { status: string }[] } } };
    expect(body.error.fusion.fragments.every((f) => f.status !== "ok")).toBe(true);
    // The fragments' own strikes end with the plan: no lease is left running a hung inference.
    const status = await eventually(() => covenantStatus(id), (s) => s.in_flight === 0, 2_000);
    expect(status.in_flight).toBe(0);
    // And none took another attempt once the plan had answered, by the emulators' own count of
    // the requests they held.
    expect(await hungSoFar()).toEqual(hung);
    await deleteCovenant(id);
  });
});
