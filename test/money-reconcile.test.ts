// Every dollar reconciles: what a covenant books — its usage API, its ledger rows — is what
// Hosted.AI billed for its allocations, to 1e-9 USD, allocation by allocation and pool by pool,
// over a mix of everything that moves money: plain strikes, strikes sharing one lease, idle time
// on held leases, leases released when idle, a fused strike. The bills come from the emulator
// (GET /admin/allocations?status=…, GET /admin/inferences), never from the gateway's answers.
// The fault-injected half (a failed, retried strike) is test/chaos/money-reconcile.test.ts.
import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantStatus, createCovenant, eventually } from "./support/covenants";
import { strike } from "./support/gateway";
import { billedAllocationsOf, billedInferencesOf, expectBooksMatchBills, USD_TOLERANCE } from "./support/money";

async function run(body: Record<string, unknown>): Promise<StrikeResponse> {
  const res = await strike(body);
  expect(res.status, await res.clone().text()).toBe(200);
  return StrikeResponse.parse(await res.json());
}

/** Waits until the covenant holds no lease: every allocation released and billed. */
async function allReleased(id: string): Promise<void> {
  const st = await eventually(() => covenantStatus(id), (s) => s.leases.length === 0, 20_000);
  expect(st.leases).toEqual([]);
}

describe("money reconciles with Hosted.AI's bills", () => {
  it("over plain, shared, idle and fused strikes: usage, ledger rows and pools equal the allocations' bills", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    // Leases kept one idle second, shared by up to four strikes; no warm pool, so every
    // allocation is one a strike asked for. The answer cache is off: every strike runs.
    const { id } = await createCovenant({
      models: ["gemma-2b-it", "mistral-7b", "qwen-14b"],
      lease: { idle_timeout_s: 1, max_concurrency: 4, max_warm_leases: 0 },
      cache: { mode: "off" },
    });
    const answers: StrikeResponse[] = [];
    // Plain strikes, one after another: the second reuses the first's lease.
    answers.push(await run({ covenant_id: id, model: "gemma-2b-it", prompt: "plain one", max_tokens: 16 }));
    answers.push(await run({ covenant_id: id, model: "gemma-2b-it", prompt: "plain two", max_tokens: 16 }));
    // Strikes at once, sharing the warm lease's slots.
    const together = await Promise.all([0, 1, 2, 3].map((i) => run({ covenant_id: id, model: "gemma-2b-it", prompt: `together ${i}`, max_tokens: 96 })));
    answers.push(...together);
    const perAllocation = new Map<string, number>();
    for (const s of together) perAllocation.set(s.allocation_id, (perAllocation.get(s.allocation_id) ?? 0) + 1);
    expect(Math.max(...perAllocation.values()), "some strikes shared one allocation").toBeGreaterThan(1);
    // Another pool (qwen-14b runs on premium), and a model of its own on standard.
    answers.push(await run({ covenant_id: id, model: "qwen-14b", prompt: "on premium", max_tokens: 16 }));
    answers.push(await run({ covenant_id: id, model: "mistral-7b", prompt: "on standard", max_tokens: 16 }));
    // A fused strike: its fragments are strikes of their own, on leases of their own or shared.
    const fused = await run({
      covenant_id: id,
      prompt: "1. What is the capital of Australia?\n2. Write a Python function that checks whether a number is prime.\n3. Summarise why the sky is blue in one sentence.",
      max_tokens: 32,
      fusion: { strategy: "split" },
    });
    expect(fused.pool_id).toBe("fused");
    const ran = fused.fusion!.fragments.filter((f) => f.status === "ok" && f.cache === "miss");
    expect(ran.length).toBeGreaterThan(1);
    // Idle time: the leases sit idle until released, a second later, and that time is billed.
    await allReleased(id);
    // A strike after the idle release allocates afresh and is left to idle out too.
    const after = await run({ covenant_id: id, model: "gemma-2b-it", prompt: "after the idle release", max_tokens: 16 });
    expect(after.lease_reused).toBe(false);
    answers.push(after);
    await allReleased(id);

    const { bills, usage } = await expectBooksMatchBills(id, from);
    // Every allocation a strike or fragment named was billed, and nothing else was.
    const named = new Set([...answers.filter((s) => s.pool_id !== "fused").map((s) => s.allocation_id), ...ran.map((f) => f.allocation_id!)]);
    expect(new Set(bills.map((b) => b.allocation_id))).toEqual(named);
    expect(bills.every((b) => b.status === "released")).toBe(true);
    // Idle time was billed: the allocations were held for more than their inferences took.
    const inferred = (await billedInferencesOf(id)).reduce((s, i) => s + i.cost_usd, 0);
    expect(usage.total_usd).toBeGreaterThan(inferred);
    // Each strike and each fragment that ran is a strike in the ledger; the fused request itself is not.
    expect(usage.strikes).toBe(answers.length + ran.length);
  });

  it("charges a strike alone on its allocation exactly what Hosted.AI billed its inference", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const { id } = await createCovenant({ models: ["gemma-2b-it", "qwen-14b"], lease: { idle_timeout_s: 0, max_warm_leases: 0 }, cache: { mode: "off" } });
    const answers = [
      await run({ covenant_id: id, model: "gemma-2b-it", prompt: "alone one", max_tokens: 24 }),
      await run({ covenant_id: id, model: "qwen-14b", prompt: "alone two", max_tokens: 24 }),
    ];
    await allReleased(id);
    await expectBooksMatchBills(id, from);
    const inferences = await billedInferencesOf(id);
    for (const s of answers) {
      const own = inferences.filter((i) => i.allocation_id === s.allocation_id);
      expect(own, `one inference on ${s.allocation_id}`).toHaveLength(1);
      expect(own[0]!.prompt_tokens).toBe(s.usage.prompt_tokens);
      expect(own[0]!.completion_tokens).toBe(s.usage.completion_tokens);
      expect(Math.abs(s.cost_usd - own[0]!.cost_usd), `${s.id}: charged ${s.cost_usd}, billed ${own[0]!.cost_usd}`).toBeLessThanOrEqual(USD_TOLERANCE);
    }
  });

  it("charges an isolated strike its whole allocation's bill", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const { id } = await createCovenant({ models: ["gemma-2b-it"], lease: { isolation: "per_strike" }, cache: { mode: "off" } });
    const answers = await Promise.all([0, 1].map((i) => run({ covenant_id: id, model: "gemma-2b-it", prompt: `isolated ${i}`, max_tokens: 24 })));
    expect(answers[0]!.allocation_id).not.toBe(answers[1]!.allocation_id);
    await allReleased(id);
    const { bills } = await expectBooksMatchBills(id, from);
    for (const s of answers) {
      const bill = bills.find((b) => b.allocation_id === s.allocation_id)!;
      expect(Math.abs(s.cost_usd - bill.cost_usd), `${s.id}: charged ${s.cost_usd}, billed ${bill.cost_usd}`).toBeLessThanOrEqual(USD_TOLERANCE);
    }
    expect(await billedAllocationsOf(id)).toHaveLength(2);
  });
});
