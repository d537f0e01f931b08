// A stream cut at a random point by the Hosted.AI emulator, read through the official openai SDK:
// the gateway continues it on the next pool of the covenant's chain, and the SDK sees one
// uninterrupted stream whose text is the cut attempt's tokens followed by the continuation's —
// both as the emulator itself recorded them — with finish_reason set and usage their sum. The
// cut point is drawn by fast-check; its seed is logged (FC_SEED=… repeats a run).
import fc from "fast-check";
import OpenAI from "openai";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { InferenceRecordView as Bill } from "../../workers/hostedai-emulator/src/views.ts";
import { addFaultRules } from "./support.ts";

const { gateway, hostedai, keys } = inject("system");
const MAX_TOKENS = 48;
const PROMPT = "Tell me about rivers at dawn.";

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${gateway}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${keys.dev}`, "content-type": "application/json", ...init.headers },
  });
  expect(res.ok, `${path}: ${res.status} ${await res.clone().text()}`).toBe(true);
  return res.json() as Promise<any>;
};

const admin = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${hostedai}${path}`, { ...init, headers: { "content-type": "application/json" } });
  expect(res.ok, `${path}: ${res.status}`).toBe(true);
  return res.json() as Promise<any>;
};

const covenants: string[] = [];
afterAll(async () => {
  // Their leases were held for the usage check; deleting the covenants releases them.
  for (const id of covenants) await api(`/v1/covenants/${id}`, { method: "DELETE" }).catch(() => {});
});

describe("a stream cut at a random point, through the openai SDK", () => {
  it("reads as one stream: the cut attempt's tokens then the continuation's, finish_reason set, usage their sum", async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    console.log(`openai-continue: fast-check seed ${seed} (FC_SEED=${seed} repeats this run)`);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), async (cutAfter) => {
        const id = `continue-${Date.now().toString(36)}-${run++}`;
        covenants.push(id);
        await api("/v1/covenants", {
          method: "POST",
          // Two pools: mistral-7b's matrix type (standard), then premium, which pool_type "any" allows.
          body: JSON.stringify({ id, models: ["mistral-7b"], fallback: ["standard-us-east", "premium-us-east"], qos: { pool_type: "any" }, lease: { idle_timeout_s: 60 } }),
        });
        const uncut = await addFaultRules(hostedai, { stream_cuts: [{ pool: "standard-us-east", metadata: { workload_id: id }, after_tokens: cutAfter, rate: 1 }] });
        const client = new OpenAI({ apiKey: keys.dev, baseURL: `${gateway}/v1`, defaultHeaders: { "x-homeskillet-covenant": id }, maxRetries: 0 });
        let text = "";
        let finish: string | null = null;
        let usage: OpenAI.CompletionUsage | undefined;
        const seams: Record<string, unknown>[] = [];
        try {
          const stream = await client.chat.completions.create({
            model: "mistral-7b",
            messages: [{ role: "user", content: PROMPT }],
            max_tokens: MAX_TOKENS,
            temperature: 0.4,
            stream: true,
            stream_options: { include_usage: true },
          });
          for await (const chunk of stream) {
            const extra = (chunk as unknown as { homeskillet?: Record<string, unknown> }).homeskillet;
            if (extra?.continued === true && chunk.choices[0]?.delta.content) seams.push(extra);
            text += chunk.choices[0]?.delta.content ?? "";
            finish = chunk.choices[0]?.finish_reason ?? finish;
            usage = chunk.usage ?? usage;
          }
        } finally {
          await uncut();
        }

        // What the emulator delivered and billed, attempt by attempt.
        const bills = ((await admin("/admin/inferences")).inferences as Bill[]).filter((b) => b.metadata.workload_id === id);
        expect(bills.map((b) => [b.pool_id, b.outcome])).toEqual([
          ["standard-us-east", "cut"],
          ["premium-us-east", "done"],
        ]);
        const [cut, rest] = bills as [Bill, Bill];
        const sent = Math.min(cutAfter, cut.completion_tokens);
        expect(cut.completion_tokens).toBe(sent);
        expect(rest.prompt_tail.endsWith(`assistant: ${cut.text}`)).toBe(true);
        expect(rest.completion_tokens).toBeLessThanOrEqual(MAX_TOKENS - sent);

        expect(text).toBe(cut.text + rest.text);
        expect(["stop", "length"]).toContain(finish);
        expect(seams).toEqual([expect.objectContaining({ continued: true, pool_id: "premium-us-east", after_tokens: sent })]);
        const prompt = cut.prompt_tokens + rest.prompt_tokens;
        const completion = cut.completion_tokens + rest.completion_tokens;
        expect(usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

        // The usage API books each attempt on its pool at exactly what the emulator billed.
        const booked = await api(`/v1/covenants/${id}/usage`);
        for (const bill of bills) {
          const line = booked.by_pool.find((p: { key: string }) => p.key === bill.pool_id);
          expect(line).toMatchObject({ prompt_tokens: bill.prompt_tokens, completion_tokens: bill.completion_tokens });
          expect(line.cost_usd).toBeCloseTo(bill.cost_usd, 12);
        }
        expect(booked.total_usd).toBeCloseTo(cut.cost_usd + rest.cost_usd, 12);
      }),
      { numRuns: 4, seed },
    );
  });
});
