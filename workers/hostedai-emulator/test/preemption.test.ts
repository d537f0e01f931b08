// Preemption of preemptible allocations: on demand through the admin API, and under pressure
// when non-preemptible work needs the room. Inference running on a preempted slice ends with 409.
// Preemptibility is a property of an allocation, so every pool mixes both kinds: the document's
// own example asks for a preemptible slice of `standard-us-east`.
import { beforeEach, describe, expect, it } from "vitest";
import { adminView, allocate, allocateOk, call, infer, issueToken, pause, resetCluster, setConfig, setFaults } from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

const SPOT = "standard-us-east";
const spotSlice = { pool_id: SPOT, min_vram_mb: 6144, min_tflops: 10, preemptible: true };
/** A whole A100 of the pool by compute, preemptible: eight of them fill it. */
const wholeGpu = { pool_id: SPOT, min_vram_mb: 1024, min_tflops: 312, preemptible: true };

const freeTflops = async (poolId: string) =>
  ((await call("GET", "/api/v1/pools", { token })).body.pools as { id: string; free_tflops: number }[]).find((p) => p.id === poolId)!.free_tflops;

const preempt = (pool_id: string, count?: number) => call("POST", "/admin/faults/preempt", { body: { pool_id, count } });

describe("POST /admin/faults/preempt", () => {
  it("preempts up to count preemptible allocations of the pool, oldest first, freeing their capacity", async () => {
    const total = await freeTflops(SPOT);
    const [a, b, c] = [await allocateOk(token, spotSlice), await allocateOk(token, spotSlice), await allocateOk(token, spotSlice)];
    const reply = await preempt(SPOT, 2);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ pool_id: SPOT, preempted: [a.allocation_id, b.allocation_id] });
    expect(await freeTflops(SPOT)).toBe(total - 10);
    const status = async (id: string) => (await call("GET", `/api/v1/allocations/${id}`, { token })).body.status;
    expect([await status(a.allocation_id), await status(b.allocation_id), await status(c.allocation_id)]).toEqual(["preempted", "preempted", "active"]);
    expect((await preempt(SPOT, 5)).body.preempted).toEqual([c.allocation_id]);
    expect((await preempt(SPOT)).body.preempted).toEqual([]);
    expect((await adminView()).body).toMatchObject({ allocations: [], preempted_total: 3 });
  });

  it("never touches non-preemptible allocations", async () => {
    const steady = await allocateOk(token, { ...spotSlice, preemptible: false });
    expect((await preempt(SPOT, 10)).body.preempted).toEqual([]);
    expect((await call("GET", `/api/v1/allocations/${steady.allocation_id}`, { token })).body.status).toBe("active");
  });

  it("refuses an unknown pool with 404 and a bad count with 400", async () => {
    expect((await preempt("atlantis")).status).toBe(404);
    const bad = await preempt(SPOT, 0);
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("count");
  });

  it("answers 409 allocation_preempted to new inference, and release repeats the final state", async () => {
    const slice = await allocateOk(token, spotSlice);
    await preempt(SPOT, 1);
    const inference = await infer(token, slice.allocation_id);
    expect(inference.status).toBe(409);
    expect(inference.body.error).toMatchObject({ type: "allocation_preempted", allocation_id: slice.allocation_id });
    const first = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ allocation_id: slice.allocation_id, status: "preempted" });
    expect(first.body.billed_seconds).toBeGreaterThanOrEqual(1);
    expect((await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token })).body).toEqual(first.body);
    expect((await adminView()).body.released_total).toBe(0);
  });

  it("ends an inference in progress early with 409, uncounted", async () => {
    await setConfig({ latency_scale: 2 });
    const slice = await allocateOk(token, spotSlice);
    const started = Date.now();
    const running = infer(token, slice.allocation_id, { max_tokens: 128 });
    await pause(100);
    await preempt(SPOT, 1);
    const reply = await running;
    expect(reply.status).toBe(409);
    expect(reply.body.error.type).toBe("allocation_preempted");
    // Planned at over a second (at least 77 tokens at 143/s, doubled); it ended a poll after the preemption.
    expect(Date.now() - started).toBeLessThan(700);
    const metrics = await call("GET", `/api/v1/allocations/${slice.allocation_id}/metrics`, { token });
    expect(metrics.body.inference_count).toBe(0);
    expect((await adminView()).body.inference_total).toBe(0);
  });
});

describe("preemption under pressure", () => {
  const fillSpotPool = async () => {
    const slices = [];
    for (let i = 0; i < 8; i++) slices.push(await allocateOk(token, wholeGpu));
    return slices;
  };

  it("evicts preemptible allocations to make room for a non-preemptible request on a full pool", async () => {
    const slices = await fillSpotPool();
    const steady = await allocate(token, { pool_id: SPOT, min_vram_mb: 2048, min_tflops: 5, preemptible: false });
    expect(steady.status).toBe(201);
    const statuses = await Promise.all(
      slices.map(async (s) => (await call("GET", `/api/v1/allocations/${s.allocation_id}`, { token })).body.status),
    );
    expect(statuses.filter((s) => s === "preempted")).toHaveLength(1);
    // The evicted slice's GPU now holds the newcomer.
    const evicted = slices[statuses.indexOf("preempted")];
    expect(steady.body.gpu_id).toBe(evicted.gpu_id);
    expect((await adminView()).body).toMatchObject({ preempted_total: 1, created_total: 9 });
  });

  it("evicts only on the pool that is full", async () => {
    await fillSpotPool();
    const elsewhere = await allocateOk(token, { pool_id: "premium-us-east", min_vram_mb: 2048, min_tflops: 5, preemptible: true });
    expect((await allocate(token, { pool_id: "premium-us-east", min_vram_mb: 2048, min_tflops: 5 })).status).toBe(201);
    expect((await call("GET", `/api/v1/allocations/${elsewhere.allocation_id}`, { token })).body.status).toBe("active");
    expect((await adminView()).body.preempted_total).toBe(0);
  });

  it("does not evict for preemptible requests, nor when preempt_under_pressure is off", async () => {
    await fillSpotPool();
    expect((await allocate(token, { ...wholeGpu, min_tflops: 5 })).status).toBe(503);
    await setFaults({ preempt_under_pressure: false });
    const refused = await allocate(token, { pool_id: SPOT, min_vram_mb: 2048, min_tflops: 5, preemptible: false });
    expect(refused.status).toBe(503);
    expect(refused.body.error.type).toBe("capacity_exhausted");
    expect((await adminView()).body.preempted_total).toBe(0);
  });

  it("does not evict when evicting every preemptible slice would still not make room", async () => {
    for (let i = 0; i < 8; i++) await allocateOk(token, { ...wholeGpu, min_tflops: 250, preemptible: false });
    for (let i = 0; i < 8; i++) await allocateOk(token, { ...wholeGpu, min_tflops: 62 });
    const refused = await allocate(token, { pool_id: SPOT, min_vram_mb: 1024, min_tflops: 100, preemptible: false });
    expect(refused.status).toBe(503);
    expect((await adminView()).body.preempted_total).toBe(0);
  });
});
