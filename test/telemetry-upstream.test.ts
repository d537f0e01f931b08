// The integration document's measures, through the gateway and against references of their own:
// end-to-end request time against what the client itself waited, and Hosted.AI's own metrics of a
// live lease against the emulator's metrics endpoint read before and after. Never the code's own
// output as the reference.
import { describe, expect, it } from "vitest";
import { METRICS, rowsOf, type HistogramValue } from "../src/telemetry";
import { createCovenant, deleteCovenant, eventually } from "./support/covenants";
import { call, strike } from "./support/gateway";
import { emulatorApi, objectSnapshot } from "./support/upstream";

interface EmulatorMetrics {
  gpu_utilization: number;
  memory_used_mb: number;
  inference_count: number;
}

const unique = () => crypto.randomUUID().slice(0, 8);

describe("end-to-end request latency", () => {
  it("times every answered request, a streamed one to its last byte, within what the client itself waited", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b", "gemma-2b-it"] });
    const waited: number[] = [];
    const timed = async <T>(run: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      const out = await run();
      waited.push(Date.now() - t0);
      return out;
    };
    for (const model of ["mistral-7b", "mistral-7b", "gemma-2b-it"]) {
      await timed(async () => {
        const res = await strike({ covenant_id: id, model, prompt: `Say something about leases (${unique()}).`, max_tokens: 12 });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      });
    }
    await timed(async () => {
      const res = await call("/v1/chat/completions", {
        method: "POST",
        headers: { "x-homeskillet-covenant": id },
        body: JSON.stringify({ model: "mistral-7b", messages: [{ role: "user", content: `Count to five (${unique()}).` }], max_tokens: 16, stream: true }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("data: [DONE]");
    });
    // A refusal is not a request that ran.
    expect((await strike({ covenant_id: id, model: "qwen-14b", prompt: "no", max_tokens: 4 })).status).toBe(400);

    const rows = rowsOf<HistogramValue>(await objectSnapshot(id), METRICS.requestSeconds);
    const byModel = Object.fromEntries(rows.map((r) => [r.labels.model, r.value.count]));
    expect(byModel).toEqual({ "mistral-7b": 3, "gemma-2b-it": 1 });
    const bounds = METRICS.requestSeconds.buckets!;
    const longest = Math.max(...waited) / 1000;
    for (const r of rows) {
      expect(r.labels.pool).not.toBe("");
      // No request took longer than the longest the client waited: every observation lies in a
      // bucket at or below the first bound that holds that wait.
      const holding = bounds.findIndex((b) => longest <= b);
      expect(r.value.counts.slice(holding + 1).reduce((a, b) => a + b, 0)).toBe(0);
    }
    const sum = rows.reduce((n, r) => n + r.value.sum, 0);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThanOrEqual(waited.reduce((a, b) => a + b, 0) / 1000);

    // The deployment's /metrics has the series, by pool and model.
    const text = await (await call("/metrics")).text();
    for (const r of rows) {
      expect(text).toMatch(new RegExp(`^homeskillet_request_duration_seconds_count\\{pool="${r.labels.pool}",model="${r.labels.model}"\\} \\d+$`, "m"));
    }
    await deleteCovenant(id);
  });
});

describe("Hosted.AI's own metrics of live leases", () => {
  it("reads each live lease's utilisation and memory from the upstream, between two readings of the emulator's own", async () => {
    // One warm lease that stays: one strike, kept idle for ten minutes, no second warm lease.
    const { id } = await createCovenant({ models: ["mistral-7b"], lease: { idle_timeout_s: 600, max_warm_leases: 1 } });
    const res = await strike({ covenant_id: id, model: "mistral-7b", prompt: `Describe a GPU slice (${unique()}).`, max_tokens: 12 });
    expect(res.status).toBe(200);
    const { allocation_id, pool_id } = (await res.json()) as { allocation_id: string; pool_id: string };
    const gauges = async () => {
      const s = await objectSnapshot(id);
      const at = (def: typeof METRICS.gpuLeasesSampled) => rowsOf<number>(s, def).find((r) => r.labels.pool === pool_id)?.value;
      return { sampled: at(METRICS.gpuLeasesSampled), util: at(METRICS.gpuUtilizationSum), used: at(METRICS.gpuMemoryUsedBytes), granted: at(METRICS.gpuMemoryAllocatedBytes) };
    };
    // The alarm reads a new lease soon after the strike that made it.
    const first = await eventually(gauges, (g) => g.sampled === 1, 15_000);
    expect(first.sampled).toBe(1);

    // The next read comes an interval later: it falls between two readings of the emulator's, and
    // the upstream's utilisation only falls while the slice idles, so ours lies between theirs.
    const before = await emulatorApi<EmulatorMetrics>(`/api/v1/allocations/${allocation_id}/metrics`);
    const second = await eventually(gauges, (g) => g.util !== first.util, 40_000);
    expect(second.util).not.toBe(first.util);
    const after = await emulatorApi<EmulatorMetrics>(`/api/v1/allocations/${allocation_id}/metrics`);
    expect(after.gpu_utilization).toBeLessThanOrEqual(second.util!);
    expect(second.util!).toBeLessThanOrEqual(before.gpu_utilization);
    expect(after.inference_count).toBe(1);
    // Memory is the largest model run so far: the same in every reading.
    expect(second.used).toBe(before.memory_used_mb * 2 ** 20);
    expect(second.used).toBe(after.memory_used_mb * 2 ** 20);
    const allocation = await emulatorApi<{ vram_mb: number }>(`/api/v1/allocations/${allocation_id}`);
    expect(second.granted).toBe(allocation.vram_mb * 2 ** 20);

    // /metrics exposes them by pool (with every other covenant's leases on the pool).
    const text = await (await call("/metrics")).text();
    for (const name of ["homeskillet_gpu_utilization_ratio", "homeskillet_gpu_memory_used_bytes", "homeskillet_gpu_memory_allocated_bytes", "homeskillet_gpu_leases_sampled"]) {
      expect(text, name).toMatch(new RegExp(`^${name}\\{pool="${pool_id}"\\} [0-9.e+-]+$`, "m"));
    }
    await deleteCovenant(id);
  }, 90_000);
});
