import { beforeEach, describe, expect, it } from "vitest";
import { allocate, allocateOk, call, issueToken, resetCluster, tokenFor } from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

async function pool(id: string): Promise<any> {
  const reply = await call("GET", "/api/v1/pools", { token });
  return reply.body.pools.find((p: { id: string }) => p.id === id);
}

describe("pools", () => {
  it("lists the default catalogue with full free capacity", async () => {
    const reply = await call("GET", "/api/v1/pools", { token });
    expect(reply.status).toBe(200);
    expect(reply.body.pools.map((p: { id: string }) => p.id)).toEqual([
      "standard-us-east",
      "premium-us-east",
      "dedicated-us-east",
    ]);
    // The document's pool types, and nothing else: preemptibility belongs to allocations.
    expect(reply.body.pools.map((p: { tier: string }) => p.tier)).toEqual(["standard", "premium", "dedicated"]);
    expect(reply.body.pools[0]).toEqual({
      id: "standard-us-east",
      tier: "standard",
      region: "us-east",
      gpu_model: "A100-80GB",
      gpu_count: 8,
      vram_mb_per_gpu: 81920,
      tflops_per_gpu: 312,
      total_vram_mb: 8 * 81920,
      free_vram_mb: 8 * 81920,
      total_tflops: 8 * 312,
      free_tflops: 8 * 312,
      price_per_gpu_hour: 2.4,
      preemptible_price_per_gpu_hour: 0.72,
      status: "available",
    });
  });

  it("shows free capacity fall after an allocation and recover after release", async () => {
    const before = await pool("premium-us-east");
    const slice = await allocateOk(token, { pool_id: "premium-us-east", min_vram_mb: 14336, min_tflops: 20 });
    const during = await pool("premium-us-east");
    expect(during.free_vram_mb).toBe(before.free_vram_mb - 14336);
    expect(during.free_tflops).toBe(before.free_tflops - 20);
    await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(await pool("premium-us-east")).toEqual(before);
  });
});

describe("allocations", () => {
  it("grants a slice with the contract's shape and price", async () => {
    const reply = await allocate(token, { min_vram_mb: 6144, min_tflops: 10, duration_seconds: 120, metadata: { tenant_id: "t1", workload_id: "c1" } });
    expect(reply.status).toBe(201);
    const a = reply.body;
    expect(a.allocation_id).toMatch(/^alloc_[0-9a-f]+$/);
    expect(a).toMatchObject({
      pool_id: "standard-us-east",
      gpu_id: "standard-us-east-gpu-0",
      status: "active",
      vram_mb: 6144,
      tflops: 10,
      preemptible: false,
      duration_seconds: 120,
      metadata: { tenant_id: "t1", workload_id: "c1" },
    });
    // 6144/81920 = 7.5 % of the VRAM beats 10/312 = 3.2 % of the compute.
    expect(a.price_per_hour).toBeCloseTo(2.4 * 0.075, 9);
    expect(Date.parse(a.expires_at) - Date.parse(a.created_at)).toBe(120_000);
  });

  it("places slices best-fit, each on a single GPU", async () => {
    const a = await allocateOk(token, { min_vram_mb: 40960 });
    const b = await allocateOk(token, { min_vram_mb: 61440 });
    const c = await allocateOk(token, { min_vram_mb: 40960 });
    const d = await allocateOk(token, { min_vram_mb: 20480 });
    expect(a.gpu_id).toBe("standard-us-east-gpu-0");
    expect(b.gpu_id).toBe("standard-us-east-gpu-1");
    expect(c.gpu_id).toBe("standard-us-east-gpu-0");
    expect(d.gpu_id).toBe("standard-us-east-gpu-1");
  });

  it("answers 503 capacity_exhausted with Retry-After when the pool is full now", async () => {
    await allocateOk(token, { pool_id: "dedicated-us-east", min_vram_mb: 81920, min_tflops: 100, duration_seconds: 30 });
    await allocateOk(token, { pool_id: "dedicated-us-east", min_vram_mb: 81920, min_tflops: 100, duration_seconds: 45 });
    const full = await allocate(token, { pool_id: "dedicated-us-east", min_vram_mb: 1024, min_tflops: 1 });
    expect(full.status).toBe(503);
    expect(full.body.error.type).toBe("capacity_exhausted");
    const retryAfter = Number(full.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(29);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(full.body.error.retry_after_seconds).toBe(retryAfter);
  });

  it("fills a pool by compute as well as by memory", async () => {
    for (let i = 0; i < 8; i++) {
      await allocateOk(token, { pool_id: "standard-us-east", min_vram_mb: 1024, min_tflops: 312, preemptible: true });
    }
    // Preemptible itself, so it cannot evict the others (see preemption.test.ts for that).
    const reply = await allocate(token, { pool_id: "standard-us-east", min_vram_mb: 1024, min_tflops: 1, preemptible: true });
    expect(reply.status).toBe(503);
    expect((await pool("standard-us-east")).free_tflops).toBe(0);
  });

  it("answers 422 requirements_unsatisfiable when no GPU of the pool could ever fit", async () => {
    const tooBig = await allocate(token, { pool_id: "standard-us-east", min_vram_mb: 98304, min_tflops: 10 });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body.error.type).toBe("requirements_unsatisfiable");
    const tooFast = await allocate(token, { pool_id: "standard-us-east", min_vram_mb: 1024, min_tflops: 400 });
    expect(tooFast.status).toBe(422);
  });

  it("answers 404 pool_not_found for an unknown pool", async () => {
    const reply = await allocate(token, { pool_id: "gold-eu-west" });
    expect(reply.status).toBe(404);
    expect(reply.body.error).toMatchObject({ type: "pool_not_found", param: "pool_id" });
  });

  it("grants preemptible slices on any pool, at the pool's preemptible price", async () => {
    for (const id of ["standard-us-east", "premium-us-east", "dedicated-us-east"]) {
      const { price_per_gpu_hour, preemptible_price_per_gpu_hour } = await pool(id);
      expect(preemptible_price_per_gpu_hour).toBeLessThan(price_per_gpu_hour);
      const spot = await allocateOk(token, { pool_id: id, min_vram_mb: 8192, min_tflops: 10, preemptible: true });
      const plain = await allocateOk(token, { pool_id: id, min_vram_mb: 8192, min_tflops: 10, preemptible: false });
      expect([spot.preemptible, plain.preemptible]).toEqual([true, false]);
      // 8192 MB of an 80 GB GPU is a tenth of it, whichever price applies.
      expect(spot.price_per_hour).toBeCloseTo(preemptible_price_per_gpu_hour * 0.1, 9);
      expect(plain.price_per_hour).toBeCloseTo(price_per_gpu_hour * 0.1, 9);
    }
  });

  it("bills a released preemptible slice its seconds at the discounted price", async () => {
    const spot = await allocateOk(token, { pool_id: "standard-us-east", min_vram_mb: 8192, min_tflops: 10, preemptible: true });
    const bill = await call("DELETE", `/api/v1/allocations/${spot.allocation_id}`, { token });
    expect(bill.body).toMatchObject({ status: "released", billed_seconds: 1 });
    expect(bill.body.cost_usd).toBeCloseTo(spot.price_per_hour / 3600, 9);
    const ended = await call("GET", "/admin/allocations?status=released");
    expect(ended.body.allocations).toEqual([expect.objectContaining({ allocation_id: spot.allocation_id, preemptible: true, billed_seconds: 1, cost_usd: bill.body.cost_usd })]);
    expect((await call("GET", "/admin/allocations?status=gone")).body.error).toMatchObject({ type: "invalid_request", param: "status" });
  });

  it("lists and fetches only the caller's own allocations", async () => {
    const mine = await allocateOk(token);
    const other = await tokenFor("key_someone_else");
    const theirs = await allocateOk(other);

    const list = await call("GET", "/api/v1/allocations", { token });
    expect(list.body.allocations.map((a: { allocation_id: string }) => a.allocation_id)).toEqual([mine.allocation_id]);
    expect((await call("GET", `/api/v1/allocations/${mine.allocation_id}`, { token })).body).toEqual(mine);
    const foreign = await call("GET", `/api/v1/allocations/${theirs.allocation_id}`, { token });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.type).toBe("allocation_not_found");
    expect((await call("DELETE", `/api/v1/allocations/${theirs.allocation_id}`, { token })).status).toBe(404);
  });

  it("filters the list by status", async () => {
    const kept = await allocateOk(token);
    const released = await allocateOk(token);
    await call("DELETE", `/api/v1/allocations/${released.allocation_id}`, { token });
    const active = await call("GET", "/api/v1/allocations?status=active", { token });
    expect(active.body.allocations.map((a: { allocation_id: string }) => a.allocation_id)).toEqual([kept.allocation_id]);
    const gone = await call("GET", "/api/v1/allocations?status=released", { token });
    expect(gone.body.allocations[0].status).toBe("released");
    const bad = await call("GET", "/api/v1/allocations?status=sleeping", { token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("status");
  });
});
