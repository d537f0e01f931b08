import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantStatus, covenantUsage, createCovenant, deleteCovenant } from "./support/covenants";
import { call, liveAllocationsOf } from "./support/gateway";
import { hostedaiDirect } from "./support/hostedai";
import { billedInferencesOf } from "./support/money";

function strikeWithKey(body: unknown, key: string) {
  return call("/v1/strikes", { method: "POST", body: JSON.stringify(body), headers: { "idempotency-key": key } });
}

describe("idempotency", () => {
  it("runs a strike sent twice with one Idempotency-Key once, and answers both alike", async () => {
    const { id } = await createCovenant({});
    const key = `k-${crypto.randomUUID()}`;
    const body = { covenant_id: id, model: "gemma-2b-it", prompt: "once", max_tokens: 8 };
    const first = await strikeWithKey(body, key);
    const second = await strikeWithKey(body, key);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    const a = StrikeResponse.parse(await first.json());
    const b = StrikeResponse.parse(await second.json());
    expect(b.id).toBe(a.id);
    expect(b.output.content).toBe(a.output.content);
    // Ran once by Hosted.AI's own count: one inference on the covenant's allocations, the answer's.
    const ran = await billedInferencesOf(id);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ allocation_id: a.allocation_id, completion_tokens: a.usage.completion_tokens });
    expect((await covenantUsage(id)).strikes).toBe(1);
    await deleteCovenant(id);
  });

  it("runs concurrent duplicates once", async () => {
    const { id } = await createCovenant({});
    const key = `k-${crypto.randomUUID()}`;
    const body = { covenant_id: id, model: "gemma-2b-it", prompt: "together", max_tokens: 8 };
    const responses = await Promise.all(Array.from({ length: 5 }, () => strikeWithKey(body, key)));
    const ids = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json()).id));
    expect(new Set(ids).size).toBe(1);
    expect(await billedInferencesOf(id)).toHaveLength(1);
    expect((await covenantUsage(id)).strikes).toBe(1);
    await deleteCovenant(id);
  });

  it("refuses a key reused for a different request, and a malformed key", async () => {
    const { id } = await createCovenant({});
    const key = `k-${crypto.randomUUID()}`;
    expect((await strikeWithKey({ covenant_id: id, model: "gemma-2b-it", prompt: "a", max_tokens: 4 }, key)).status).toBe(200);
    const reused = await strikeWithKey({ covenant_id: id, model: "gemma-2b-it", prompt: "b", max_tokens: 4 }, key);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: { type: "idempotency_key_reused" } });
    const bad = await strikeWithKey({ covenant_id: id, prompt: "c" }, "has spaces in it");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "idempotency-key" } });
    await deleteCovenant(id);
  });
});

describe("idempotency records belong to their covenant", () => {
  it("a covenant deleted and created again under the same id does not replay the deleted one's answer", async () => {
    const { id } = await createCovenant({});
    const key = `k-${crypto.randomUUID()}`;
    const body = { covenant_id: id, model: "gemma-2b-it", prompt: "before the delete", max_tokens: 8 };
    const first = StrikeResponse.parse(await (await strikeWithKey(body, key)).json());
    await deleteCovenant(id);
    await createCovenant({ id });
    const again = await strikeWithKey(body, key);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    const second = StrikeResponse.parse(await again.json());
    expect(second.id).not.toBe(first.id);
    // It ran: the new covenant's ledger has it, and the emulator billed a second inference.
    expect((await covenantUsage(id)).strikes).toBe(1);
    expect((await billedInferencesOf(id)).map((i) => i.allocation_id)).toEqual([first.allocation_id, second.allocation_id]);
    await deleteCovenant(id);
  });
});

describe("fallback chain", () => {
  it("runs on the local node when the covenant lists it first", async () => {
    const { id } = await createCovenant({ fallback: ["local"], models: ["mistral-7b"] });
    const res = await call("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: id, prompt: "on my mac", max_tokens: 8 }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body).toMatchObject({ pool_id: "local", allocation_id: "local", cost_usd: 0 });
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("falls back to the next pool when the first is full, and leaks nothing", async () => {
    // qwen-70b needs a whole 80 GB GPU: the two dedicated H100s hold two.
    const hostedai = await hostedaiDirect();
    const blockers = await Promise.all(
      [0, 1].map(() => hostedai.allocate({ pool_id: "dedicated-us-east", requirements: { min_tflops: 100, min_vram_mb: 81920 }, duration_seconds: 300, preemptible: false })),
    );
    try {
      // Any pool type: qwen-70b's matrix type is dedicated, and only "any" lets it fall back to standard.
      const { id } = await createCovenant({ models: ["qwen-70b"], fallback: ["dedicated-us-east", "standard-us-east"], qos: { pool_type: "any" } });
      const res = await call("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: id, prompt: "big", max_tokens: 8 }) });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(StrikeResponse.parse(await res.json()).pool_id).toBe("standard-us-east");
      await deleteCovenant(id);
      expect(await liveAllocationsOf(id)).toEqual([]);
    } finally {
      for (const b of blockers) await hostedai.release(b.allocation_id);
    }
  });

  it("ends in a 503 that lists every attempt and every target ruled out", async () => {
    // The local node serves no qwen-70b, and the only pool named does not exist.
    const { id } = await createCovenant({ models: ["qwen-70b"], fallback: ["nowhere-us-east", "local"] });
    const res = await call("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: id, prompt: "x", max_tokens: 8 }) });
    expect(res.status).toBe(503);
    const { error } = (await res.json()) as { error: { type: string; attempts: { target: string; type: string }[]; excluded: { id: string; reason: string }[] } };
    expect(error.type).toBe("upstreams_exhausted");
    expect(error.attempts).toEqual([expect.objectContaining({ target: "local", type: "model_not_served" })]);
    expect(error.excluded).toEqual([expect.objectContaining({ id: "nowhere-us-east" })]);
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("shows its circuit breakers in the covenant status", async () => {
    const { id } = await createCovenant({ models: ["qwen-70b"], fallback: ["local"] });
    await call("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: id, prompt: "x", max_tokens: 8 }) });
    const status = await covenantStatus(id);
    // A model the node lacks is not the node failing: its breaker stays closed.
    expect(status.breakers.every((b) => b.state === "closed")).toBe(true);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });
});
