import { afterEach, describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { call } from "../support/gateway";
import { covenantStatus, createCovenant, deleteCovenant, eventually } from "../support/covenants";

/** Lets the covenant's warm lease go (an idle timeout would, later) so the partition meets no warm lease. */
async function deleteCovenantLeases(id: string) {
  const res = await call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify({ lease: { idle_timeout_s: 1 } }) });
  expect(res.status).toBe(200);
  await eventually(() => covenantStatus(id), (st) => st.leases.length === 0);
}
import { hostedaiFaults, localFaults } from "../support/faults";
import { liveAllocationsOf, strike } from "../support/gateway";

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

describe("network partition", () => {
  it("holds accepted strikes while every breaker is open, and drains them when the upstream returns", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["standard-us-east", "local"], qos: { priority: "high" }, lease: { max_warm_leases: 0 } });
    // A covenant that was working when the network went away.
    expect((await strike({ covenant_id: id, prompt: "before the partition", max_tokens: 8 })).status).toBe(200);
    await deleteCovenantLeases(id);
    await hostedaiFaults.set({ partition: "reset" });
    await localFaults.set({ down: true });

    // The first strikes find every target failing and say so, attempt by attempt.
    for (let i = 0; i < 2; i++) {
      const res = await strike({ covenant_id: id, prompt: `before ${i}`, max_tokens: 8 });
      expect(res.status).toBe(503);
      const { error } = (await res.json()) as { error: { type: string; attempts: { target: string }[] } };
      expect(error.type).toBe("upstreams_exhausted");
      expect(new Set(error.attempts.map((a) => a.target))).toEqual(new Set(["standard-us-east", "local"]));
    }
    const open = await covenantStatus(id);
    expect(open.breakers.map((b) => [b.target, b.state]).sort()).toEqual([["local", "open"], ["standard-us-east", "open"]]);

    // Now strikes are accepted and wait for the partition to heal.
    const waiting = ["low", "high", "normal", "high"].map((priority, i) => strike({ covenant_id: id, prompt: `during ${i}`, max_tokens: 8, priority }));
    const queued = await eventually(() => covenantStatus(id), (st) => st.queue_depth === 4);
    expect(queued.queue_depth).toBe(4);

    await hostedaiFaults.clear();
    await localFaults.clear();
    const results = await Promise.all(waiting);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const r of results) expect(StrikeResponse.parse(await r.json()).pool_id).toMatch(/standard-us-east|local/);
    const healed = await covenantStatus(id);
    expect(healed.queue_depth).toBe(0);
    expect(healed.breakers.some((b) => b.state === "closed")).toBe(true);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("refuses a priority above the covenant's", async () => {
    const { id } = await createCovenant({ qos: { priority: "normal" } });
    const res = await strike({ covenant_id: id, prompt: "x", priority: "critical" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "priority_not_allowed", param: "priority" } });
  });
});
