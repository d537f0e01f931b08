import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { adminView, allocateOk, call, clusterStub, infer, issueToken, pause, resetCluster, setConfig } from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

describe("release and billing", () => {
  it("bills whole emulated seconds held, and is idempotent", async () => {
    await setConfig({ time_scale: 1000 });
    const slice = await allocateOk(token, { duration_seconds: 3600 });
    await pause(30);
    const first = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe("released");
    expect(Number.isInteger(first.body.billed_seconds)).toBe(true);
    expect(first.body.billed_seconds).toBeGreaterThanOrEqual(30);
    expect(first.body.billed_seconds).toBeLessThan(3600);
    expect(first.body.cost_usd).toBeCloseTo((first.body.billed_seconds * slice.price_per_hour) / 3600, 9);
    await pause(10);
    const second = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect((await adminView()).body.released_total).toBe(1);
  });

  it("bills a minimum of one second", async () => {
    const slice = await allocateOk(token, { duration_seconds: 600 });
    const reply = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(reply.body.billed_seconds).toBe(1);
  });

  it("reports an expired allocation's final status and full term on release", async () => {
    await setConfig({ time_scale: 1000 });
    const slice = await allocateOk(token, { duration_seconds: 5 });
    await pause(20);
    const reply = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      allocation_id: slice.allocation_id,
      status: "expired",
      billed_seconds: 5,
      cost_usd: expect.closeTo((5 * slice.price_per_hour) / 3600, 9),
    });
  });

  it("answers 404 for an unknown allocation", async () => {
    const reply = await call("DELETE", "/api/v1/allocations/alloc_unknown", { token });
    expect(reply.status).toBe(404);
    expect(reply.body.error.type).toBe("allocation_not_found");
  });

  it("frees an expired slice's capacity", async () => {
    await setConfig({ time_scale: 1000 });
    await allocateOk(token, { pool_id: "dedicated-us-east", min_vram_mb: 81920, min_tflops: 989, duration_seconds: 5 });
    await allocateOk(token, { pool_id: "dedicated-us-east", min_vram_mb: 81920, min_tflops: 989, duration_seconds: 5 });
    await pause(20);
    await allocateOk(token, { pool_id: "dedicated-us-east", min_vram_mb: 81920, min_tflops: 989 });
  });
});

describe("expiry alarm", () => {
  it("keeps one alarm at the earliest expiry and sweeps with it", async () => {
    const stub = clusterStub();
    const alarmAt = () => runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(await alarmAt()).toBeNull();

    const later = await allocateOk(token, { duration_seconds: 600 });
    const sooner = await allocateOk(token, { duration_seconds: 60 });
    const expected = Date.parse(sooner.expires_at);
    expect(Math.abs((await alarmAt())! - expected)).toBeLessThanOrEqual(2);

    await call("DELETE", `/api/v1/allocations/${sooner.allocation_id}`, { token });
    expect(Math.abs((await alarmAt())! - Date.parse(later.expires_at))).toBeLessThanOrEqual(2);

    // A faster clock brings the real instant of the expiry closer.
    await setConfig({ time_scale: 2000 });
    const rescheduled = (await alarmAt())!;
    expect(rescheduled - Date.now()).toBeLessThan(1000);
    // The alarm fires by itself; read the table directly so no API call sweeps lazily instead.
    const statuses = () =>
      runInDurableObject(stub, (_instance, state) =>
        state.storage.sql.exec<{ status: string }>("SELECT status FROM allocations ORDER BY sequence").toArray().map((r) => r.status),
      );
    expect(await statuses()).toEqual(["active", "released"]);
    for (let waited = 0; waited < 2000 && (await statuses())[0] === "active"; waited += 20) await pause(20);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect(await statuses()).toEqual(["expired", "released"]);
    expect(await alarmAt()).toBeNull();
  });
});

describe("admin", () => {
  it("counts everything and lists no allocation once all are released", async () => {
    const a = await allocateOk(token);
    const b = await allocateOk(token, { pool_id: "premium-us-east", min_vram_mb: 14336, min_tflops: 20 });
    await infer(token, a.allocation_id);
    await infer(token, b.allocation_id, { model: "qwen-14b" });
    const live = (await adminView()).body;
    expect(live.allocations.map((x: { allocation_id: string }) => x.allocation_id)).toEqual([a.allocation_id, b.allocation_id]);
    expect(live.allocations[0].owner).toMatch(/^key_/);

    await call("DELETE", `/api/v1/allocations/${a.allocation_id}`, { token });
    await call("DELETE", `/api/v1/allocations/${b.allocation_id}`, { token });
    expect((await adminView()).body).toEqual({
      allocations: [],
      created_total: 2,
      released_total: 2,
      expired_total: 0,
      tokens_issued: 1,
      inference_total: 2,
      preempted_total: 0,
      faults_injected_total: {
        errors: 0, latency: 0, timeouts: 0, rate_limit: 0, pools_down: 0, partition: 0, stream_cut: 0, token_expired: 0, malformed_output: 0,
      },
    });
  });

  it("says how many inferences run on each live allocation", async () => {
    // Slow enough to be seen running (about half a second each).
    await setConfig({ latency_scale: 0.25 });
    const slice = await allocateOk(token, { duration_seconds: 600 });
    const running = () => adminView().then((r) => r.body.allocations.find((a: { allocation_id: string }) => a.allocation_id === slice.allocation_id)?.inferences_running);
    expect(await running()).toBe(0);
    const pending = [infer(token, slice.allocation_id, { max_tokens: 300 }), infer(token, slice.allocation_id, { max_tokens: 300 })];
    let seen = 0;
    for (let i = 0; i < 100 && seen < 2; i++) {
      seen = await running();
      if (seen < 2) await pause(10);
    }
    expect(seen).toBe(2);
    for (const r of await Promise.all(pending)) expect(r.status).toBe(200);
    expect(await running()).toBe(0);
  });

  it("counts expiries", async () => {
    await setConfig({ time_scale: 1000 });
    await allocateOk(token, { duration_seconds: 2 });
    await pause(10);
    const view = (await adminView()).body;
    expect(view.expired_total).toBe(1);
    expect(view.allocations).toEqual([]);
  });

  it("reads and changes the run-time config, and reset restores it from env", async () => {
    const initial = (await call("GET", "/admin/config")).body;
    expect(initial).toMatchObject({ latency_scale: 0.01, time_scale: 1, seed: "42" });
    const changed = await call("POST", "/admin/config", { body: { latency_scale: 0, time_scale: 60 } });
    expect(changed.body).toMatchObject({ latency_scale: 0, time_scale: 60 });
    const bad = await call("POST", "/admin/config", { body: { time_scale: 0 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("time_scale");
    await allocateOk(token);
    await resetCluster();
    expect((await call("GET", "/admin/config")).body).toMatchObject({ latency_scale: 0.01, time_scale: 1 });
    expect((await adminView()).body).toMatchObject({ allocations: [], created_total: 0, tokens_issued: 0 });
  });

  it("requires x-admin-key when ADMIN_KEY is set", async () => {
    const vars = { ADMIN_KEY: "let-me-in" };
    const refused = await call("GET", "/admin/allocations", { vars });
    expect(refused.status).toBe(401);
    expect(refused.body.error.type).toBe("unauthorized");
    expect((await call("GET", "/admin/config", { vars, headers: { "x-admin-key": "nope" } })).status).toBe(401);
    expect((await call("GET", "/admin/config", { vars, headers: { "x-admin-key": "let-me-in" } })).status).toBe(200);
  });

  it("runs emulated time faster without jumping it", async () => {
    const before = Date.parse((await call("GET", "/admin/config")).body.emulated_now);
    await setConfig({ time_scale: 1000 });
    await pause(20);
    const after = Date.parse((await call("GET", "/admin/config")).body.emulated_now);
    expect(after - before).toBeGreaterThanOrEqual(20_000);
    expect(after - before).toBeLessThan(600_000);
  });
});
