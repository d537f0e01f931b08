// What each inference is billed, and what a caller can know of it: every streamed token carries
// the usage and cost so far, a stream that ends early is billed what it delivered, and
// GET /admin/inferences records each bill. Cuts can be aimed at one pool or one tenant's work.
import { beforeEach, describe, expect, it } from "vitest";
import { allocateOk, call, infer, issueToken, resetCluster, setFaults, streamInference } from "./harness";
import type { InferenceRecordView as Bill } from "../src/views";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

const request = { prompt: "Describe a river at dawn.", max_tokens: 24, temperature: 0.3 };

const bills = async (): Promise<Bill[]> => (await call("GET", "/admin/inferences")).body.inferences;

describe("the bill of an inference", () => {
  it("of a JSON answer is the answer's usage, cost and text", async () => {
    const slice = await allocateOk(token);
    const answer = (await infer(token, slice.allocation_id, request)).body;
    expect(await bills()).toEqual([
      expect.objectContaining({
        allocation_id: slice.allocation_id,
        pool_id: "standard-us-east",
        stream: false,
        outcome: "done",
        prompt_tail: request.prompt,
        prompt_tokens: answer.usage.prompt_tokens,
        completion_tokens: answer.usage.completion_tokens,
        cost_usd: answer.cost_usd,
        text: answer.text,
      }),
    ]);
  });

  it("of a whole stream is its done event's; each token event says the usage and cost so far", async () => {
    const slice = await allocateOk(token);
    const streamed = await streamInference(token, slice.allocation_id, request);
    const tokens = streamed.events.filter((e) => e.event === "token").map((e) => e.data);
    const done = streamed.events.at(-1)!.data;
    tokens.forEach((t, i) => expect(t.usage).toEqual({ prompt_tokens: done.usage.prompt_tokens, completion_tokens: i + 1, total_tokens: done.usage.prompt_tokens + i + 1 }));
    const costs = tokens.map((t) => t.cost_usd as number);
    expect(costs.every((c, i) => i === 0 || c >= costs[i - 1]!)).toBe(true);
    expect(costs.at(-1)).toBeCloseTo(done.cost_usd, 9);
    const [bill] = await bills();
    expect(bill).toMatchObject({ stream: true, outcome: "done", completion_tokens: done.usage.completion_tokens, cost_usd: done.cost_usd });
    expect(bill!.text).toBe(tokens.map((t) => t.text).join(""));
  });

  it("of a cut stream is what it delivered: its tokens, and the cost its last token event said", async () => {
    const slice = await allocateOk(token);
    await setFaults({ stream_cut_after_tokens: 5 });
    const cut = await streamInference(token, slice.allocation_id, request);
    const tokens = cut.events.map((e) => e.data);
    expect(tokens).toHaveLength(5);
    const [bill] = await bills();
    expect(bill).toMatchObject({ outcome: "cut", completion_tokens: 5, cost_usd: tokens[4].cost_usd, prompt_tokens: tokens[4].usage.prompt_tokens });
    expect(bill!.text).toBe(tokens.map((t) => t.text).join(""));
    // Less than the whole answer would have cost.
    const whole = (await infer(token, slice.allocation_id, request)).body;
    expect(bill!.cost_usd).toBeLessThan(whole.cost_usd);
  });

  it("of a stream whose reader went away is what was sent before it left", async () => {
    const slice = await allocateOk(token);
    const gone = await streamInference(token, slice.allocation_id, { ...request, max_tokens: 64 }, (event) => {
      if (event.data?.index === 2) throw new Error("reader gone");
    }).catch((error: Error) => error.message);
    expect(gone).toBe("reader gone");
    const log = await (async () => {
      for (let i = 0; i < 50; i++) {
        const found = await bills();
        if (found.length > 0) return found;
        await new Promise((r) => setTimeout(r, 20));
      }
      return [];
    })();
    expect(log).toHaveLength(1);
    expect(log[0]!.outcome).toBe("abandoned");
    expect(log[0]!.completion_tokens).toBeGreaterThanOrEqual(3);
    expect(log[0]!.completion_tokens).toBeLessThan(64 * 0.6);
  });
});

describe("aimed stream cuts (stream_cuts)", () => {
  it("cut only streams on the pool named, and only for allocations with the metadata given", async () => {
    await setFaults({ stream_cuts: [{ pool: "standard-us-east", metadata: { workload_id: "victim" }, after_tokens: 2 }] });
    const victim = await allocateOk(token, { metadata: { tenant_id: "t", workload_id: "victim" } });
    const bystander = await allocateOk(token, { metadata: { tenant_id: "t", workload_id: "other" } });
    const elsewhere = await allocateOk(token, { pool_id: "premium-us-east", metadata: { tenant_id: "t", workload_id: "victim" } });
    expect((await streamInference(token, victim.allocation_id, request)).events.map((e) => e.event)).toEqual(["token", "token"]);
    expect((await streamInference(token, bystander.allocation_id, request)).events.at(-1)!.event).toBe("done");
    expect((await streamInference(token, elsewhere.allocation_id, request)).events.at(-1)!.event).toBe("done");
    // A JSON answer is never cut.
    expect((await infer(token, victim.allocation_id, request)).status).toBe(200);
    expect((await call("GET", "/admin/allocations")).body.faults_injected_total.stream_cut).toBe(1);
  });

  it("take the first matching rule, and fall back to stream_cut_after_tokens", async () => {
    await setFaults({
      stream_cut_after_tokens: 4,
      stream_cuts: [
        { pool: "premium-us-east", after_tokens: 1 },
        { pool: "premium-us-east", after_tokens: 3 },
      ],
    });
    const premium = await allocateOk(token, { pool_id: "premium-us-east" });
    const standard = await allocateOk(token);
    expect((await streamInference(token, premium.allocation_id, request)).events).toHaveLength(1);
    expect((await streamInference(token, standard.allocation_id, request)).events).toHaveLength(4);
  });

  it("cut at a rate reproducibly: the same configuration and streams meet the same cuts", async () => {
    const slice = await allocateOk(token);
    const run = async () => {
      await setFaults({ stream_cuts: [{ after_tokens: 1, rate: 0.5 }] });
      const lengths: number[] = [];
      for (let i = 0; i < 8; i++) lengths.push((await streamInference(token, slice.allocation_id, { ...request, max_tokens: 4 })).events.length);
      return lengths;
    };
    const first = await run();
    expect(first).toContain(1);
    expect(first.some((n) => n > 1)).toBe(true);
    expect(await run()).toEqual(first);
  });
});

describe("a continuation prompt", () => {
  it("is carried on where the open answer stops, deterministically", async () => {
    const slice = await allocateOk(token);
    const asked = "user: Describe a river at dawn.";
    const first = (await infer(token, slice.allocation_id, { ...request, prompt: asked })).body.text as string;
    const sofar = `${first.split(" ").slice(0, 4).join(" ")} `;
    const prompt = `${asked}\nassistant: ${sofar}`;
    const next = (await infer(token, slice.allocation_id, { ...request, prompt, max_tokens: 10 })).body;
    expect(next.text).toMatch(/^[a-z]/);
    expect((await infer(token, slice.allocation_id, { ...request, prompt, max_tokens: 10 })).body.text).toBe(next.text);
    expect((await bills()).at(-1)!.prompt_tail).toBe(prompt);
  });
});
