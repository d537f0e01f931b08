// Injected faults through the admin API: each kind, state left untouched by injected failures,
// reproducibility from the seed, and validation of the configuration.
import { beforeEach, describe, expect, it } from "vitest";
import {
  adminView, allocate, allocateOk, call, callWithin, infer, issueToken, resetCluster, setConfig, setFaults,
} from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

const poolsOf = async () => (await call("GET", "/api/v1/pools", { token })).body.pools as { id: string; status: string; free_vram_mb: number }[];

describe("fault configuration", () => {
  it("is off by default: nothing is injected and every counter stays at zero", async () => {
    expect((await call("GET", "/admin/faults")).body).toEqual({
      errors: [],
      latency: [],
      timeouts: [],
      rate_limit: [],
      pools_down: [],
      partition: null,
      preempt_under_pressure: true,
      stream_cut_after_tokens: null,
      stream_cuts: [],
      malformed_output: null,
    });
    const slice = await allocateOk(token);
    for (let i = 0; i < 5; i++) expect((await infer(token, slice.allocation_id, { max_tokens: 4 })).status).toBe(200);
    expect((await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token })).status).toBe(200);
    expect(Object.values((await adminView()).body.faults_injected_total)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("replaces the whole configuration on PUT, filling defaults, and clears it on DELETE", async () => {
    const set = await setFaults({ errors: [{ endpoint: "inference", rate: 0.25, status: 502 }] });
    expect(set.errors).toEqual([{ pool: "*", endpoint: "inference", rate: 0.25, status: 502 }]);
    const replaced = await setFaults({ pools_down: ["premium-us-east"], preempt_under_pressure: false });
    expect(replaced.errors).toEqual([]);
    expect((await call("GET", "/admin/faults")).body).toEqual(replaced);
    const cleared = await call("DELETE", "/admin/faults");
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ pools_down: [], preempt_under_pressure: true });
  });

  it.each([
    [{ errors: [{ rate: 2, status: 500 }] }, "errors.0.rate"],
    [{ errors: [{ rate: 0.5, status: 200 }] }, "errors.0.status"],
    [{ errors: [{ rate: 0.5 }] }, "errors.0.status"],
    [{ errors: [{ rate: 0.5, status: 500, endpoint: "everything" }] }, "errors.0.endpoint"],
    [{ errors: [{ rate: 0.5, status: 500, pool: "nowhere-1" }] }, "errors.0.pool"],
    [{ errors: [{ rate: 0.5, status: 500, sometimes: true }] }, "errors.0.sometimes"],
    [{ latency: [{ added_ms: -5 }] }, "latency.0.added_ms"],
    [{ timeouts: [{ rate: "often" }] }, "timeouts.0.rate"],
    [{ rate_limit: [{ rate: 1, retry_after_s: 1.5 }] }, "rate_limit.0.retry_after_s"],
    [{ pools_down: ["premium-us-east", "atlantis"] }, "pools_down.1"],
    [{ partition: "sideways" }, "partition"],
    [{ preempt_under_pressure: "yes" }, "preempt_under_pressure"],
    [{ stream_cut_after_tokens: -1 }, "stream_cut_after_tokens"],
    [{ stream_cuts: [{ after_tokens: 3, pool: "atlantis" }] }, "stream_cuts.0.pool"],
    [{ stream_cuts: [{ pool: "premium-us-east" }] }, "stream_cuts.0.after_tokens"],
    [{ stream_cuts: [{ after_tokens: 3, metadata: { workload_id: 7 } }] }, "stream_cuts.0.metadata.workload_id"],
    [{ error: [] }, "error"],
    [[], "body"],
  ])("refuses %j with 400 naming %s, keeping the configuration in force", async (config, param) => {
    await setFaults({ pools_down: ["premium-us-east"] });
    const reply = await call("PUT", "/admin/faults", { body: config });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ type: "invalid_request", param });
    expect((await call("GET", "/admin/faults")).body.pools_down).toEqual(["premium-us-east"]);
  });

  it("refuses a body that is not JSON", async () => {
    const reply = await call("PUT", "/admin/faults", { rawBody: "{errors:" });
    expect(reply.status).toBe(400);
    expect(reply.body.error.param).toBe("body");
  });

  it("is restored from FAULTS_JSON (none in this environment) by reset", async () => {
    await setFaults({ partition: "hang" });
    await resetCluster();
    expect((await call("GET", "/admin/faults")).body.partition).toBeNull();
  });
});

describe("injected errors", () => {
  it("fail an allocation without creating it", async () => {
    const before = await poolsOf();
    await setFaults({ errors: [{ endpoint: "allocate", rate: 1, status: 500 }] });
    const reply = await allocate(token);
    expect(reply.status).toBe(500);
    expect(reply.body.error.type).toBe("injected_fault");
    expect(await poolsOf()).toEqual(before);
    const view = (await adminView()).body;
    expect(view).toMatchObject({ allocations: [], created_total: 0 });
    expect(view.faults_injected_total.errors).toBe(1);
  });

  it("fail a release without releasing", async () => {
    const slice = await allocateOk(token);
    await setFaults({ errors: [{ endpoint: "release", rate: 1, status: 503 }] });
    const refused = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(refused.status).toBe(503);
    expect(refused.body.error.type).toBe("injected_fault");
    expect((await call("GET", `/api/v1/allocations/${slice.allocation_id}`, { token })).body.status).toBe("active");
    await call("DELETE", "/admin/faults");
    const released = await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(released.body.status).toBe("released");
  });

  it("fail an inference without running or counting it", async () => {
    const slice = await allocateOk(token);
    await setFaults({ errors: [{ endpoint: "inference", rate: 1, status: 500 }] });
    expect((await infer(token, slice.allocation_id)).status).toBe(500);
    const metrics = await call("GET", `/api/v1/allocations/${slice.allocation_id}/metrics`, { token });
    expect(metrics.body).toMatchObject({ inference_count: 0, memory_used_mb: 0, gpu_utilization: 0 });
  });

  it("match by the allocation's pool for endpoints about an allocation, and by endpoint", async () => {
    const standard = await allocateOk(token);
    const premium = await allocateOk(token, { pool_id: "premium-us-east" });
    await setFaults({ errors: [{ pool: "standard-us-east", endpoint: "inference", rate: 1, status: 502 }] });
    expect((await infer(token, standard.allocation_id, { max_tokens: 4 })).status).toBe(502);
    expect((await infer(token, premium.allocation_id, { max_tokens: 4 })).status).toBe(200);
    expect((await call("GET", `/api/v1/allocations/${standard.allocation_id}`, { token })).status).toBe(200);
    expect((await allocate(token)).status).toBe(201);
  });

  it("are drawn from the seeded sequence: the same configuration and requests meet the same faults", async () => {
    const config = { errors: [{ endpoint: "pools", rate: 0.5, status: 500 }] };
    const run = async () => {
      await setFaults(config);
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push((await call("GET", "/api/v1/pools", { token })).status);
      return statuses;
    };
    const first = await run();
    expect(new Set(first)).toEqual(new Set([200, 500]));
    expect(await run()).toEqual(first);
  });
});

describe("latency, rate limits and timeouts", () => {
  it("adds absolute latency that latency_scale 0 does not remove", async () => {
    await setConfig({ latency_scale: 0 });
    await setFaults({ latency: [{ endpoint: "pools", added_ms: 120 }, { added_ms: 30 }] });
    const started = Date.now();
    expect((await call("GET", "/api/v1/pools", { token })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect((await adminView()).body.faults_injected_total.latency).toBe(1);
  });

  it("answers 429 with Retry-After, without doing the work", async () => {
    await setFaults({ rate_limit: [{ endpoint: "allocate", rate: 1, retry_after_s: 2 }] });
    const reply = await allocate(token);
    expect(reply.status).toBe(429);
    expect(reply.headers.get("retry-after")).toBe("2");
    expect(reply.body.error).toMatchObject({ type: "rate_limited", retry_after_seconds: 2 });
    expect((await adminView()).body.created_total).toBe(0);
  });

  it("hangs a timed-out request without doing the work, until the client gives up", async () => {
    await setFaults({ timeouts: [{ pool: "standard-us-east", endpoint: "allocate", rate: 1 }] });
    expect(await callWithin(300, "POST", "/api/v1/allocations", {
      token,
      body: { pool_id: "standard-us-east", requirements: { min_tflops: 10, min_vram_mb: 6144 }, duration_seconds: 60, preemptible: false },
    })).toBe("no answer");
    expect((await adminView()).body).toMatchObject({ allocations: [], created_total: 0 });
    // Other pools are not affected.
    expect((await allocate(token, { pool_id: "premium-us-east" })).status).toBe(201);
  });
});

describe("pool outage", () => {
  it("reports the pool down and refuses allocation and inference there with 503, but not release", async () => {
    const slice = await allocateOk(token, { pool_id: "premium-us-east" });
    await setFaults({ pools_down: ["premium-us-east"] });
    const statuses = Object.fromEntries((await poolsOf()).map((p) => [p.id, p.status]));
    expect(statuses).toEqual({
      "standard-us-east": "available",
      "premium-us-east": "down",
      "dedicated-us-east": "available",
    });
    const refused = await allocate(token, { pool_id: "premium-us-east" });
    expect(refused.status).toBe(503);
    expect(refused.body.error.type).toBe("pool_unavailable");
    expect(refused.headers.get("retry-after")).not.toBeNull();
    const inference = await infer(token, slice.allocation_id);
    expect(inference.status).toBe(503);
    expect(inference.body.error.type).toBe("pool_unavailable");
    expect((await allocate(token)).status).toBe(201);
    expect((await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token })).body.status).toBe("released");
    expect((await adminView()).body.faults_injected_total.pools_down).toBe(2);
  });
});

describe("token expiry", () => {
  it("invalidates every token issued so far, and only those, even across a reset", async () => {
    const other = await issueToken();
    expect((await call("POST", "/admin/faults/expire-tokens")).body).toEqual({ token_generation: 1 });
    for (const old of [token, other]) {
      const reply = await call("GET", "/api/v1/pools", { token: old });
      expect(reply.status).toBe(401);
      expect(reply.body.error.type).toBe("token_expired");
    }
    const fresh = await issueToken();
    expect((await call("GET", "/api/v1/pools", { token: fresh })).status).toBe(200);
    expect((await adminView()).body.faults_injected_total.token_expired).toBe(2);
    await resetCluster();
    expect((await call("GET", "/api/v1/pools", { token })).status).toBe(401);
    expect((await call("GET", "/api/v1/pools", { token: fresh })).status).toBe(200);
  });
});

describe("network partition", () => {
  it("hangs every /api/v1 request, even unauthenticated or unknown ones, while /admin answers", async () => {
    await setFaults({ partition: "hang" });
    expect(await callWithin(200, "GET", "/api/v1/pools", { token })).toBe("no answer");
    expect(await callWithin(200, "POST", "/api/v1/auth/token", { body: { api_key: "dev-hostedai-key" } })).toBe("no answer");
    expect(await callWithin(200, "GET", "/api/v1/pools")).toBe("no answer");
    expect(await callWithin(200, "GET", "/api/v1/nowhere")).toBe("no answer");
    expect((await call("DELETE", "/admin/faults")).status).toBe(200);
    expect((await call("GET", "/api/v1/pools", { token })).status).toBe(200);
  });

  it("drops every /api/v1 connection in reset mode: the caller's fetch fails, nothing is done", async () => {
    await setFaults({ partition: "reset" });
    await expect(allocate(token)).rejects.toThrow(/connection reset/);
    await expect(call("GET", "/api/v1/pools", { token, viaRuntime: true })).rejects.toThrow(/connection reset/);
    expect((await adminView()).body).toMatchObject({ created_total: 0, faults_injected_total: { partition: 2 } });
  });
});
