// Property-based bodies for everything fusion reads from a client: a strike's `fusion` options,
// the OpenAI API's `homeskillet.fusion`, and a covenant's fusion policy. Whatever comes in, the
// answer is a 2xx or a 4xx naming a field under fusion — never a 5xx — and nothing leaks.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { covenantStatus, createCovenant, deleteCovenant } from "./support/covenants";
import { call, liveAllocationsOf, strike } from "./support/gateway";

const MULTI = ["Please answer these:", "1. What is the capital of Australia?", "2. Name three prime numbers."].join("\n");
const MODELS = ["gemma-2b-it", "mistral-7b", "qwen-14b"] as const;

const junk = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -100, max: 100_000 }), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }));
const maybeJunk = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: junk });

const fusionRecord = (value: <T>(good: fc.Arbitrary<T>) => fc.Arbitrary<unknown>, extra: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      strategy: value(fc.constantFrom("auto", "single", "split", "map_reduce", "ensemble")),
      ensemble_models: value(fc.uniqueArray(fc.constantFrom(...MODELS), { minLength: 2, maxLength: 3 })),
      ensemble_fuse: value(fc.constantFrom("auto", "vote", "judge")),
      judge_model: value(fc.constantFrom(...MODELS)),
      tolerate_gaps: value(fc.boolean()),
      max_fragments: value(fc.integer({ min: 1, max: 32 })),
      chunk_tokens: value(fc.integer({ min: 256, max: 32_768 })),
      cache: value(fc.boolean()),
      surprise: extra,
    },
    { requiredKeys: [] },
  );
const valid = <T>(good: fc.Arbitrary<T>) => good;
/** Well-formed options (so that fused plans really run), options with wrong values, and junk. */
const fusionOptions = fc.oneof(
  { weight: 2, arbitrary: fusionRecord(valid, fc.constant(undefined)).map((o) => JSON.parse(JSON.stringify(o)) as unknown) },
  { weight: 2, arbitrary: fusionRecord(maybeJunk, fc.constant(1)) },
  { weight: 1, arbitrary: junk },
);

async function expectFieldError(res: Response, prefix: string) {
  const body = (await res.json()) as { error?: { type: string; message: string; param?: string } };
  expect(res.status, JSON.stringify(body)).toBeLessThan(500);
  if (res.status === 400) {
    expect(body.error?.message).toBeTruthy();
    expect(body.error?.param ?? "", JSON.stringify(body)).toMatch(new RegExp(`^${prefix.replaceAll(".", "\\.")}`));
  }
  return { status: res.status, body };
}

describe("fusion input, property-based", () => {
  it("never answers a strike's random fusion options with a 5xx, names the field, and leaks nothing", async () => {
    const { id } = await createCovenant({});
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(fusionOptions, async (fusion) => {
        const res = await strike({ covenant_id: id, prompt: MULTI, max_tokens: 8, fusion });
        if (res.status === 200) {
          const body = StrikeResponse.parse(await res.json());
          if (body.fusion) {
            fused++;
            expect(body.fusion.fragments.length).toBeGreaterThan(0);
            expect(body.cost_usd).toBeCloseTo(body.fusion.totals.cost_usd, 10);
          }
          return;
        }
        await expectFieldError(res, "fusion");
      }),
      { numRuns: 40, seed: 20261206 },
    );
    // The generator is meant to reach the planner, not only the validator.
    expect(fused).toBeGreaterThan(0);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("never answers random homeskillet.fusion on the OpenAI API with a 5xx", async () => {
    const { id } = await createCovenant({});
    await fc.assert(
      fc.asyncProperty(fusionOptions, async (fusion) => {
        const res = await call("/v1/chat/completions", {
          method: "POST",
          headers: { "x-homeskillet-covenant": id },
          body: JSON.stringify({ model: "auto", max_tokens: 8, messages: [{ role: "user", content: MULTI }], homeskillet: { fusion } }),
        });
        if (res.status === 200) return void (await res.body?.cancel());
        await expectFieldError(res, "homeskillet.fusion");
      }),
      { numRuns: 25, seed: 7 },
    );
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("never answers a random covenant fusion policy with a 5xx, and keeps the covenant as it was on a 400", async () => {
    const { id } = await createCovenant({ fusion: { max_concurrency: 2 } });
    const policy = fc.oneof(
      fc.record(
        {
          auto: maybeJunk(fc.boolean()),
          max_fragments: maybeJunk(fc.integer({ min: 0, max: 40 })),
          max_concurrency: maybeJunk(fc.integer({ min: 0, max: 40 })),
          map_reduce_min_tokens: maybeJunk(fc.integer({ min: 0, max: 2_000_000 })),
          map_model: maybeJunk(fc.constantFrom(...MODELS, "gpt-9")),
          reduce_model: maybeJunk(fc.constantFrom(...MODELS)),
          ensemble_labels: maybeJunk(fc.array(fc.constantFrom("coding", "math", "astrology"), { maxLength: 3 })),
          semantic_cache: maybeJunk(fc.boolean()),
          semantic_threshold: maybeJunk(fc.double({ min: 0, max: 1.5, noNaN: true })),
          cache_ttl_s: maybeJunk(fc.integer({ min: -1, max: 100_000 })),
        },
        { requiredKeys: [] },
      ),
      junk,
    );
    await fc.assert(
      fc.asyncProperty(policy, async (fusion) => {
        const before = (await covenantStatus(id)).covenant;
        const res = await call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify({ fusion }) });
        const { status } = await expectFieldError(res, "fusion");
        if (status !== 200) {
          const after = (await covenantStatus(id)).covenant;
          expect(after.fusion).toEqual(before.fusion);
        }
      }),
      { numRuns: 40, seed: 11 },
    );
    await deleteCovenant(id);
  });
});
