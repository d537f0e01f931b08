// The deployment decides what it records, not the caller. A system sampling 0 % of traces gets
// requests whose traceparent says "sampled": the trace id is continued, but nothing is recorded,
// and the flag the gateway sends upstream says so. (Parent-based sampling is opt-in:
// test/tracing-sampler.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOtlpReceiver, type OtlpReceiver } from "../../bench/lib/otlp-receiver.ts";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";

const DEV_KEY = "hsk_node_sampling_0001";
let receiver: OtlpReceiver;
let system: LocalSystem;

const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  system = await startSystem({
    mode: "miniflare",
    workers: ["gateway", "hostedai"],
    ports: { gateway: 0, hostedai: 0 },
    quiet: true,
    devKey: DEV_KEY,
    gatewayVars: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER_ARG: "0", OTEL_BSP_SCHEDULE_DELAY: "20" },
  });
});

afterAll(async () => {
  await system?.stop();
  await receiver?.close();
});

describe("sampling is the deployment's decision", () => {
  it("a client's sampled flag continues the trace id but does not switch recording on", async () => {
    const headers = { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" };
    expect((await fetch(`${system.gateway}/v1/covenants`, { method: "POST", headers, body: JSON.stringify({ id: "sampling", policy: "seed" }) })).status).toBe(201);
    const traceId = hex(16);
    const res = await fetch(`${system.gateway}/v1/strikes`, {
      method: "POST",
      headers: { ...headers, traceparent: `00-${traceId}-${hex(8)}-01` },
      body: JSON.stringify({ covenant_id: "sampling", model: "gemma-2b-it", prompt: "sample me?", max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-homeskillet-trace-id")).toBe(traceId);

    const seen = ((await (await fetch(`${system.hostedai}/admin/traceparents`)).json()) as { requests: { path: string; traceparent: string | null }[] }).requests;
    const mine = seen.filter((r) => r.traceparent?.startsWith(`00-${traceId}-`));
    // Allocate, infer, release: each continued the client's trace, none of them recorded.
    expect(mine.length).toBeGreaterThanOrEqual(3);
    for (const r of mine) expect(r.traceparent!.endsWith("-00"), r.traceparent!).toBe(true);
    // A later, unrelated request flushes any batch; still nothing from this trace arrives.
    await fetch(`${system.gateway}/healthz`);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
  });
});
