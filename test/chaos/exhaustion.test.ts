import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../../src/schema";
import { createCovenant, deleteCovenant } from "../support/covenants";
import { strike } from "../support/gateway";
import { hostedaiDirect } from "../support/hostedai";

describe("resource exhaustion", () => {
  it("degrades to a smaller allowed model when every pool for the requested one stays full", async () => {
    const hostedai = await hostedaiDirect();
    // Another tenant holds every premium GPU whole.
    const blockers = await Promise.all(
      [0, 1, 2, 3].map(() => hostedai.allocate({ pool_id: "premium-us-east", requirements: { min_tflops: 100, min_vram_mb: 81920 }, duration_seconds: 300, preemptible: false })),
    );
    try {
      const { id } = await createCovenant({
        models: ["qwen-14b", "gemma-2b-it"],
        fallback: ["premium-us-east", "standard-us-east"],
        cost: { on_limit: "degrade" },
        qos: { latency_slo_ms: 500 },
      });
      const res = await strike({ covenant_id: id, model: "qwen-14b", prompt: "x", max_tokens: 8 });
      expect(res.status, await res.clone().text()).toBe(200);
      const body = StrikeResponse.parse(await res.json());
      // Each model on its matrix pool type: qwen-14b only on premium, gemma-2b-it on standard.
      expect(body).toMatchObject({ model: "gemma-2b-it", degraded_from: "qwen-14b", pool_id: "standard-us-east" });
      await deleteCovenant(id);

      // Without permission to degrade, the same strike waits for capacity and then says so.
      const strict = await createCovenant({ models: ["qwen-14b", "gemma-2b-it"], fallback: ["premium-us-east", "standard-us-east"], qos: { latency_slo_ms: 500 } });
      const refused = await strike({ covenant_id: strict.id, model: "qwen-14b", prompt: "x", max_tokens: 8 });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: { type: "capacity_exhausted" } });
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    } finally {
      for (const b of blockers) await hostedai.release(b.allocation_id);
    }
  });
});
