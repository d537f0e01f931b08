import { afterEach, describe, expect, it } from "vitest";
import { ChatCompletion, StrikeResponse } from "../src/schema";
import { covenantStatus, covenantUsage, createCovenant, deleteCovenant } from "./support/covenants";
import { call, liveAllocationsOf, strike } from "./support/gateway";
import { McpSocket } from "./support/mcp";
import { THREE_QUESTIONS as MULTI } from "./support/prompts";

const chat = (covenant: string, body: Record<string, unknown>) =>
  call("/v1/chat/completions", { method: "POST", headers: { "x-homeskillet-covenant": covenant }, body: JSON.stringify({ model: "auto", ...body }) });

/** The `data:` payloads of an SSE body, in order. */
async function sseData(res: Response): Promise<string[]> {
  return (await res.text())
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice(6));
}

interface Chunk {
  choices: { delta: { content?: string }; finish_reason: string | null }[];
  homeskillet?: { fusion_progress?: { type: string; id: string; done?: number; total: number }; fusion?: { plan: { strategy: string }; fragments: unknown[] } };
}

const sockets: McpSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) if (!s.closed) s.close();
});

describe("fusion on the OpenAI API", () => {
  it("takes fusion options under `homeskillet` and returns the fusion report with the completion", async () => {
    const { id } = await createCovenant({});
    const res = await chat(id, { messages: [{ role: "user", content: MULTI }], max_tokens: 16, homeskillet: { fusion: { strategy: "split" } } });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = ChatCompletion.parse(await res.json());
    expect(body.homeskillet.fusion?.plan.strategy).toBe("split");
    expect(body.homeskillet.fusion?.fragments.length).toBeGreaterThanOrEqual(3);
    expect(body.choices[0]!.message.content).toContain("What is the capital of Australia?");
    await deleteCovenant(id);
  });

  it("names the field when the fusion options are wrong", async () => {
    const { id } = await createCovenant({});
    const res = await chat(id, { messages: [{ role: "user", content: MULTI }], homeskillet: { fusion: { strategy: "shuffle" } } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: expect.stringContaining("homeskillet.fusion.strategy") } });
  });

  it("streams each fragment's progress, then the fused answer, then [DONE]", async () => {
    const { id } = await createCovenant({});
    const res = await chat(id, { messages: [{ role: "user", content: MULTI }], max_tokens: 16, stream: true, homeskillet: { fusion: { strategy: "split" } } });
    expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    const progress = chunks.flatMap((c) => (c.homeskillet?.fusion_progress ? [c.homeskillet.fusion_progress] : []));
    const total = progress[0]!.total;
    expect(total).toBeGreaterThanOrEqual(3);
    expect(progress.filter((p) => p.type === "fragment_started")).toHaveLength(total);
    expect(progress.filter((p) => p.type === "fragment_finished").map((p) => p.done)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Progress chunks carry no choices, as OpenAI's own usage chunk: clients that ignore them lose nothing.
    expect(chunks.filter((c) => c.homeskillet?.fusion_progress).every((c) => c.choices.length === 0)).toBe(true);
    const lastProgress = chunks.map((c) => Boolean(c.homeskillet?.fusion_progress)).lastIndexOf(true);
    const firstContent = chunks.findIndex((c) => (c.choices[0]?.delta.content ?? "").length > 0);
    expect(firstContent).toBeGreaterThan(lastProgress);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toContain("Name three prime numbers.");
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish!.homeskillet!.fusion!.plan.strategy).toBe("split");
    await deleteCovenant(id);
  });
});

describe("fusion progress over MCP", () => {
  it("reports every fragment as it finishes between started and done", async () => {
    const { id } = await createCovenant({});
    const s = await McpSocket.initialized();
    sockets.push(s);
    const done = await s.callTool("strike", { covenant_id: id, prompt: MULTI, max_tokens: 16, fusion: { strategy: "split" } }, { progressToken: "f1" });
    expect(done.result?.isError).toBeUndefined();
    const fragments = (done.result?.structuredContent as { fusion: { fragments: unknown[] } }).fusion.fragments.length;
    const progress = s.received.filter((m) => m.method === "notifications/progress").map((m) => m.params as { progress: number; total: number; message: string });
    expect(progress.map((p) => p.progress)).toEqual(Array.from({ length: fragments + 2 }, (_, i) => i + 1));
    expect(progress.at(-1)!.total).toBe(fragments + 2);
    expect(progress[0]!.message).toMatch(/^started: /);
    expect(progress.slice(1, -1).every((p) => /^fragment \d+\/\d+: /.test(p.message))).toBe(true);
    expect(progress.at(-1)!.message).toMatch(/^done: /);
    await deleteCovenant(id);
  });
});

describe("a fused plan's budget", () => {
  it("reserves the plan's price once: fragments are not refused for a lease's idle tail", async () => {
    // A strike's own estimate counts the lease's 10-minute idle tail, which alone passes the
    // per-strike limit; the plan's price (the fragments' service time) does not.
    const { id } = await createCovenant({ lease: { idle_timeout_s: 600 }, cost: { max_usd_per_strike: 0.01 } });
    const plain = await strike({ covenant_id: id, prompt: "One more question: what is 2 + 2?", max_tokens: 8 });
    expect(plain.status).toBe(402);
    const res = await strike({ covenant_id: id, prompt: MULTI, max_tokens: 16, fusion: { strategy: "split" } });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body.fusion!.fragments.every((f) => f.status === "ok")).toBe(true);
    expect(body.cost_usd).toBeLessThanOrEqual(0.01);
    expect((await covenantStatus(id)).reserved_usd).toBe(0);
    await deleteCovenant(id);
  });

  it("refuses a plan the day's budget cannot cover, before any fragment runs", async () => {
    const { id } = await createCovenant({ cost: { budget_usd_per_day: 0.000001 } });
    const res = await strike({ covenant_id: id, prompt: MULTI, max_tokens: 64, fusion: { strategy: "split" } });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ error: { budget: "budget_usd_per_day", message: expect.stringContaining("fused plan (split") } });
    expect((await covenantUsage(id)).strikes).toBe(0);
    await deleteCovenant(id);
  });
});

describe("partial failure, end to end", () => {
  // Only the local node may serve this covenant, and it runs gemma-2b-it and mistral-7b: the
  // qwen-14b member can never be placed.
  const ensemble = { strategy: "ensemble", ensemble_models: ["gemma-2b-it", "mistral-7b", "qwen-14b"], ensemble_fuse: "vote" };

  it("fuses what answered and names the member that failed when gaps are tolerated", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it", "mistral-7b", "qwen-14b"], fallback: ["local"] });
    const res = await strike({ covenant_id: id, prompt: "Is water wet? Answer yes or no.", max_tokens: 8, fusion: { ...ensemble, tolerate_gaps: true } });
    expect(res.status, await res.clone().text()).toBe(200);
    const report = StrikeResponse.parse(await res.json()).fusion!;
    expect(report.gaps.map((g) => g.title)).toEqual([expect.stringContaining("qwen-14b")]);
    expect(report.fused_by.note).toMatch(/fused from 2 of 3 answers; qwen-14b failed/);
    expect(report.fragments.filter((f) => f.status === "ok").map((f) => f.model).sort()).toEqual(["gemma-2b-it", "mistral-7b"]);
    await deleteCovenant(id);
  });

  it("fails the whole request, naming the missing part, when gaps are not tolerated", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it", "mistral-7b", "qwen-14b"], fallback: ["local"] });
    const res = await strike({ covenant_id: id, prompt: "Is water wet? Answer yes or no.", max_tokens: 8, fusion: { ...ensemble, tolerate_gaps: false } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { type: string; message: string; missing: { title: string; reason: string }[] } };
    expect(body.error.type).toBe("fusion_incomplete");
    expect(body.error.message).toMatch(/\(Answer from qwen-14b\) failed .* this plan does not tolerate gaps/);
    // The members stopped because of it are missing too, and say so.
    const failed = body.error.missing.find((m) => m.title.includes("qwen-14b"))!;
    expect(failed.reason).toMatch(/upstreams_exhausted|model_not_served/);
    expect(body.error.missing.filter((m) => m !== failed).every((m) => /fusion_incomplete/.test(m.reason))).toBe(true);
    await deleteCovenant(id);
  });
});
