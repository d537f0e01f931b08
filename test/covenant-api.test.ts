import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CovenantContract } from "../src/schema";
import { createCovenant, deleteCovenant } from "./support/covenants";
import { call, freshCovenant, KEYS, strike } from "./support/gateway";

const post = (body: unknown, key = KEYS.dev) => call("/v1/covenants", { method: "POST", body: JSON.stringify(body), key });
const patch = (id: string, body: unknown, key = KEYS.dev) => call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify(body), key });

describe("covenant API", () => {
  it("creates with defaults filled in, reads, patches section by section, lists and deletes", async () => {
    const id = freshCovenant("crud");
    const created = CovenantContract.parse(await (await post({ id, models: ["gemma-2b-it", "mistral-7b"], qos: { latency_slo_ms: 800 } })).json());
    expect(created).toMatchObject({
      id,
      models: ["gemma-2b-it", "mistral-7b"],
      default_model: "mistral-7b",
      qos: { latency_slo_ms: 800, ttft_slo_ms: null, tpot_slo_ms: null, priority: "normal", preemptible_ok: true },
      lease: { duration_s: 900, idle_timeout_s: 0, share_delay_ms: 100, warm_ahead: "off" },
      policy: "homeskillet",
    });

    const patched = await patch(id, { qos: { priority: "high" }, cost: { budget_usd_per_day: 5 } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ qos: { latency_slo_ms: 800, priority: "high" }, cost: { budget_usd_per_day: 5, on_limit: "reject" } });

    // TTFT and TPOT bounds beside the end-to-end one; null takes a bound away again.
    const bounded = await patch(id, { qos: { ttft_slo_ms: 500, tpot_slo_ms: 40 }, lease: { share_delay_ms: 0, warm_ahead: "burst" } });
    expect(await bounded.json()).toMatchObject({ qos: { latency_slo_ms: 800, ttft_slo_ms: 500, tpot_slo_ms: 40 }, lease: { share_delay_ms: 0, warm_ahead: "burst" } });
    const unbounded = await patch(id, { qos: { ttft_slo_ms: null } });
    expect(await unbounded.json()).toMatchObject({ qos: { ttft_slo_ms: null, tpot_slo_ms: 40 } });

    const got = await call(`/v1/covenants/${id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ covenant: { id, qos: { priority: "high" } }, leases: [], queue_depth: 0 });

    const list = (await (await call("/v1/covenants")).json()) as { data: { id: string }[] };
    expect(list.data.map((c) => c.id)).toEqual(expect.arrayContaining(["default", id]));

    expect((await post({ id })).status).toBe(409);
    await deleteCovenant(id);
    expect((await call(`/v1/covenants/${id}`)).status).toBe(404);
    const after = (await (await call("/v1/covenants")).json()) as { data: { id: string }[] };
    expect(after.data.map((c) => c.id)).not.toContain(id);
  });

  it("generates an id when none is given", async () => {
    const res = await post({});
    expect(res.status).toBe(201);
    expect(((await res.json()) as { id: string }).id).toMatch(/^cov_[0-9a-f]{12}$/);
  });

  it("keeps a default covenant per tenant that can be tuned", async () => {
    const res = await patch("default", { lease: { max_warm_leases: 2 } }, KEYS.acme);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "default", lease: { max_warm_leases: 2 } });
    const other = (await (await call("/v1/covenants/default", { key: KEYS.globex })).json()) as { covenant: { lease: { max_warm_leases: number } } };
    expect(other.covenant.lease.max_warm_leases).toBe(4);
  });

  it("rejects a model outside the covenant", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const res = await strike({ covenant_id: id, model: "qwen-70b", prompt: "x" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "model_not_allowed", param: "model" } });
  });
});

describe("tenant isolation", () => {
  it("a tenant never sees or touches another tenant's covenant", async () => {
    const id = freshCovenant("private");
    await createCovenant({ id, models: ["gemma-2b-it"] }, KEYS.acme);
    expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "mine", max_tokens: 4 }, KEYS.acme)).status).toBe(200);

    const asGlobex = [
      await call(`/v1/covenants/${id}`, { key: KEYS.globex }),
      await patch(id, { qos: { priority: "critical" } }, KEYS.globex),
      await call(`/v1/covenants/${id}/usage`, { key: KEYS.globex }),
      await call(`/v1/covenants/${id}`, { method: "DELETE", key: KEYS.globex }),
      await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "theirs" }, KEYS.globex),
    ];
    expect(asGlobex.map((r) => r.status)).toEqual([404, 404, 404, 404, 404]);
    const list = (await (await call("/v1/covenants", { key: KEYS.globex })).json()) as { data: { id: string }[] };
    expect(list.data.map((c) => c.id)).not.toContain(id);

    // Globex may use the same name for its own covenant: a different object entirely.
    await createCovenant({ id }, KEYS.globex);
    const acme = (await (await call(`/v1/covenants/${id}`, { key: KEYS.acme })).json()) as { covenant: { models: string[] } };
    expect(acme.covenant.models).toEqual(["gemma-2b-it"]);
    await deleteCovenant(id, KEYS.acme);
    await deleteCovenant(id, KEYS.globex);
  });
});

describe("invalid covenants get field-level errors", () => {
  it.each([
    [{ models: ["gpt-9"] }, "models.0"],
    [{ models: [] }, "models"],
    [{ models: ["gemma-2b-it"], default_model: "qwen-70b" }, "default_model"],
    [{ qos: { latency_slo_ms: 10 } }, "qos.latency_slo_ms"],
    [{ qos: { priority: "urgent" } }, "qos.priority"],
    [{ cost: { max_usd_per_strike: -1 } }, "cost.max_usd_per_strike"],
    [{ cost: { on_limit: "panic" } }, "cost.on_limit"],
    [{ resources: { min_vram_mb: 9000, max_vram_mb: 100 } }, "resources.max_vram_mb"],
    [{ fallback: ["Not A Pool!"] }, "fallback.0"],
    [{ lease: { max_concurrency: 0 } }, "lease.max_concurrency"],
    [{ lease: { duration_s: 5 } }, "lease.duration_s"],
    [{ lease: { max_leases: 2, max_warm_leases: 3 } }, "lease.max_warm_leases"],
    [{ lease: { share_delay_ms: -1 } }, "lease.share_delay_ms"],
    [{ lease: { warm_ahead: "always" } }, "lease.warm_ahead"],
    [{ qos: { ttft_slo_ms: 0 } }, "qos.ttft_slo_ms"],
    [{ qos: { tpot_slo_ms: "fast" } }, "qos.tpot_slo_ms"],
    [{ policy: "yolo" }, "policy"],
    [{ id: "has spaces" }, "id"],
    [{ surprise: 1 }, undefined],
  ])("%j", async (body, param) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { type: string; param?: string } };
    expect(["invalid_request", "invalid_covenant"]).toContain(json.error.type);
    if (param) expect(json.error.param).toBe(param);
  });

  it("a rejected patch leaves the covenant as it was", async () => {
    const { id } = await createCovenant({ qos: { latency_slo_ms: 900 } });
    expect((await patch(id, { models: ["gemma-2b-it"], default_model: "qwen-14b" })).status).toBe(400);
    const now = (await (await call(`/v1/covenants/${id}`)).json()) as { covenant: { models: string[]; qos: { latency_slo_ms: number } } };
    expect(now.covenant.models).toHaveLength(5);
    expect(now.covenant.qos.latency_slo_ms).toBe(900);
  });

  it("rejects a bad usage period", async () => {
    const { id } = await createCovenant({});
    expect((await call(`/v1/covenants/${id}/usage?from=yesterday`)).status).toBe(400);
    const res = await call(`/v1/covenants/${id}/usage?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: "from" } });
  });

  it("never answers random covenant bodies with a 5xx", async () => {
    const any = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const body = fc.record(
      {
        models: fc.oneof(fc.array(fc.constantFrom("gemma-2b-it", "qwen-14b", "nope"), { maxLength: 3 }), any),
        qos: fc.oneof(fc.record({ latency_slo_ms: any, ttft_slo_ms: any, tpot_slo_ms: any, priority: fc.oneof(fc.constantFrom("low", "high"), any) }, { requiredKeys: [] }), any),
        cost: fc.oneof(fc.record({ budget_usd_per_day: any, on_limit: any }, { requiredKeys: [] }), any),
        lease: fc.oneof(
          fc.record(
            { max_leases: fc.integer({ min: -1, max: 300 }), max_warm_leases: fc.integer({ min: -1, max: 70 }), share_delay_ms: any, warm_ahead: fc.oneof(fc.constantFrom("off", "burst"), any) },
            { requiredKeys: [] },
          ),
          any,
        ),
        fallback: fc.oneof(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), any),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await post(b);
        expect(res.status).toBeLessThan(500);
        if (res.status === 201) CovenantContract.parse(await res.json());
      }),
      { numRuns: 40, seed: 3 },
    );
  });
});
