// Bad input, property-based: adversarial client text. Everything the gateway does to a client's
// text — fusion's normalisation, sub-task detection, chunking and answer voting, stop sequences,
// the classifier's helpers, the Authorization and traceparent headers — must take time linear in
// its length: one request whose work is quadratic freezes the isolate for every tenant on it (a
// prompt with 60,000 spaces once cost 12 s of CPU in normaliseInput). Inputs are runs of each
// character class a pattern repeats (spaces, tabs, closing brackets, dots, line breaks, digits,
// letters, CR, zero-width characters, and mixes), generated with fast-check, up to the 1 MiB body
// limit. Work is linear when doubling the input no more than about doubles the time (the best of
// a few runs), and when the full size stays far below the minutes the quadratic code took.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cutAtStop, StopScanner } from "../src/api/stop-sequences";
import { MAX_BODY_BYTES } from "../src/api/middleware";
import { precheck } from "../src/api/strike-service";
import { bearerToken } from "../src/auth";
import { RouteScopes } from "../src/auth/route-scopes";
import { classify, estimateTokens, flattenMessages } from "../src/classify";
import { chunkDocument, separateInstruction } from "../src/fusion/chunk";
import { findSubTasks, mightHaveSubTasks } from "../src/fusion/detect";
import { majorityVote, normaliseAnswer } from "../src/fusion/fuse";
import { fingerprintOf, identify } from "../src/fusion/identity";
import { looseForm, normaliseInput } from "../src/fusion/normalise";
import { draftPlan, planFusion } from "../src/fusion/plan";
import { isMultipleChoice } from "../src/fusion/plan-ensemble";
import { estimatorFromPrices, resolveFusionPolicy } from "../src/fusion/policy";
import { MAX_FUSION_TEXT_CHARS, type FusionRequest } from "../src/fusion/request";
import { minhash } from "../src/fusion/semantic";
import type { PlanContext } from "../src/fusion/types";
import { defaultContract, modelCatalogue } from "../src/policy";
import { StrikeResponse, type Classification } from "../src/schema";
import { traceFrom } from "../src/telemetry/trace-context";
import { createCovenant, deleteCovenant } from "./support/covenants";
import { call, strike } from "./support/gateway";

const KiB = 1024;
/** A body can carry about this many characters of one run. */
const LIMIT = MAX_BODY_BYTES;

type Work = () => unknown;

async function timeOf(work: Work): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function bestOf(runs: number, work: Work): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) best = Math.min(best, await timeOf(work));
  return best;
}

/**
 * `prepare(n)` builds an input of about n characters (outside the clock) and returns the work on
 * it. First a 64 KiB probe, bounded far above what linear code needs (it takes a few ms; the
 * quadratic code this guards against took 14-36 s there), so that quadratic code fails in seconds
 * instead of running for minutes; then the time for the limit over the time for half of it, each
 * repeated until a run takes some 20 ms (the runtime's clock counts whole milliseconds), the two
 * measured in turns, best of four; then the limit alone, bounded at 3 s (linear code takes tens of
 * milliseconds, quadratic code minutes). Doubling the input quadruples quadratic work, but at a
 * MiB a collection pause or a busy neighbour on a 2-core machine can make linear work look as bad:
 * the ratio is measured up to three times and fails only when every one is near quadratic and the
 * work at the limit is already slow (over 250 ms), which linear work never is.
 */
async function expectLinear(label: string, prepare: (n: number) => Work): Promise<void> {
  const probe = await timeOf(prepare(64 * KiB));
  expect(probe, `${label}: 64 KiB took ${probe.toFixed(1)} ms`).toBeLessThan(1_000);
  const halfWork = prepare(LIMIT / 2);
  const fullWork = prepare(LIMIT);
  let reps = 1;
  const repeated = (work: Work) => async () => {
    for (let i = 0; i < reps; i++) await work();
  };
  while (reps < 1_024 && (await timeOf(repeated(halfWork))) < 20) reps *= 2;
  let measured = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    let half = Infinity;
    let full = Infinity;
    for (let i = 0; i < 4; i++) {
      half = Math.min(half, await timeOf(repeated(halfWork)));
      full = Math.min(full, await timeOf(repeated(fullWork)));
    }
    const ratio = full / Math.max(half, 1);
    measured += `${measured ? "; " : ""}${reps}× ${LIMIT / 2 / KiB} KiB ${half.toFixed(0)} ms, ${reps}× ${LIMIT / KiB} KiB ${full.toFixed(0)} ms (×${ratio.toFixed(2)})`;
    if (ratio < 3.5 || full / reps < 250) break;
    expect(attempt, `${label}: doubling the input multiplied the time by 3.5 or more: ${measured}`).toBeLessThan(2);
  }
  const once = await bestOf(2, fullWork);
  expect(once, `${label}: ${LIMIT / KiB} KiB took ${once.toFixed(1)} ms`).toBeLessThan(3_000);
}

/** The character classes the patterns repeat, alone and mixed. */
const UNITS = [
  " ", "\t", "\f", "\v", "\n", "\r", "\r\n", "\u2028", "\u00a0", "\u3000", "\u200b", "\ufeff",
  ")", "]", '"', "”", "’", ".", "!", "?", "…", "。", ",", "%", "-", "+", "/", "#",
  "0", "7", "a", "Z", "é", "😀",
  "\n ", " \n", ". ", ".)", ".\n", "\n\n", "\n \n", "a ", " \t", "\u200b ", "\r\n ", "1. ", "- ", "(A) ", "also ", ", and also", "step 2 ", "it ",
];
/** Around the run: what would let a pattern start, and what makes it fail at the end. */
const HEADS = ["", "a", "a.", "0", "1. ", "Q1: ", "(A) ", "Answer: ", "Also, ", "\n"];
const TAILS = ["", "b", "x\n", "-0", "\u0000", ".", "?"];

interface Shape {
  unit: string;
  head: string;
  tail: string;
}
const shape: fc.Arbitrary<Shape> = fc.record({ unit: fc.constantFrom(...UNITS), head: fc.constantFrom(...HEADS), tail: fc.constantFrom(...TAILS) });
const textOf = ({ unit, head, tail }: Shape, n: number) => head + unit.repeat(Math.ceil(n / unit.length)).slice(0, n) + tail;
const shown = ({ unit, head, tail }: Shape) => JSON.stringify(head) + " + " + JSON.stringify(unit) + "×n + " + JSON.stringify(tail);

/**
 * Each function against generated shapes; `known` are the shapes the old expressions were
 * quadratic on, tried first so that a regression fails on them every time.
 */
function linearOnEveryShape(fn: string, run: (text: string) => unknown, known: Shape[] = [], numRuns = 3) {
  it(`${fn} is linear in runs of any character class`, async () => {
    await fc.assert(
      fc.asyncProperty(shape, (s) => expectLinear(`${fn} on ${shown(s)}`, (n) => {
        const text = textOf(s, n);
        return () => run(text);
      })),
      { numRuns, examples: known.map((s) => [s]), endOnFailure: true },
    );
  });
}

const spaces = (unit: string, head = "a", tail = "b"): Shape => ({ unit, head, tail });

describe("adversarial client text, property-based: fusion", () => {
  linearOnEveryShape("normaliseInput", normaliseInput, [spaces(" "), spaces("\t"), spaces(" \t", "x", "\u0000")]);
  linearOnEveryShape("looseForm", looseForm, [spaces(" "), spaces("\v")]);
  linearOnEveryShape("fingerprintOf", (t) => fingerprintOf(t), [spaces(" ")]);
  linearOnEveryShape("minhash", minhash, [spaces(" ")], 2);
  // The sentence boundary's lookbehind read a run of closing brackets back from each position (in
  // a text with any character outside Latin-1, where the expression's "。" branch can match).
  linearOnEveryShape("chunkDocument", (t) => chunkDocument(t, 256), [spaces("”", "a…"), spaces(")", "a.", "。"), spaces("]", "a?", "’"), spaces(".)", "a")]);
  linearOnEveryShape("chunkDocument on a span", (t) => chunkDocument(t, 1_000, 7, t.length - 7), [spaces("’", "a!"), spaces(")", "a.", "。")]);
  linearOnEveryShape("separateInstruction", separateInstruction, [spaces("\n \n", "Summarise:"), spaces(" ", "\n")]);
  linearOnEveryShape("mightHaveSubTasks", mightHaveSubTasks);
  linearOnEveryShape("findSubTasks", (t) => findSubTasks(t), [spaces(" ", "1. What is x?\n2. What is y?\n"), spaces("\n ", "Also, ")]);
  linearOnEveryShape("findSubTasks on short prompts", (t) => findSubTasks(`What is x? Also ${t.slice(0, 990)}`));
  // An ensemble's vote reads model answers, which a client can steer: \s*%?\s* split a run of tabs every way.
  linearOnEveryShape("normaliseAnswer", normaliseAnswer, [{ unit: "\t", head: "0", tail: "-0" }, { unit: " ", head: "0", tail: "x" }]);
  linearOnEveryShape("majorityVote", (t) => majorityVote([{ id: "a", text: t }, { id: "b", text: `${t}.` }], ["a", "b"]), [{ unit: "\t", head: "0", tail: "-0" }], 3);
  linearOnEveryShape("isMultipleChoice", isMultipleChoice, [spaces(" ", "(A)"), spaces("(A) ")]);
});

describe("adversarial client text, property-based: the edge", () => {
  linearOnEveryShape("bearerToken", (t) => bearerToken(`Bearer ${t}`), [spaces(" ", "x", "y"), spaces("\t", "x ")]);
  linearOnEveryShape("traceFrom", (t) => traceFrom(`00-${"1".repeat(32)}-${"2".repeat(16)}-01-${t}`), [spaces(" ", "x", "\n")]);
  // The one expression built at run time (test/audit allows it): a route template, matched against the request path.
  const routes = new RouteScopes(() => [
    { type: "route", route: { method: "get", path: "/v1/covenants/{id}/usage", security: [{ bearer: [] }] } },
    { type: "route", route: { method: "get", path: "/v1/covenants/{id}/strikes/{strike}", security: [{ bearer: [] }] } },
  ]);
  linearOnEveryShape("RouteScopes.lookup", (t) => [routes.lookup("GET", `/v1/covenants/${t}/usage`), routes.lookup("GET", `/v1/covenants/${t}/strikes/${t}/x`), routes.lookup("GET", `/v1/covenants/${t}`)], [spaces("/", "a", "usage"), spaces("a/", "x")], 3);
  linearOnEveryShape("precheck (Idempotency-Key)", (t) => precheck({ covenantId: "c", model: undefined, maxTokens: 1, temperature: 0, latencySensitive: false, idempotencyKey: t }));
  linearOnEveryShape("classify", classify, [], 3);
  linearOnEveryShape("flattenMessages and estimateTokens", (t) => estimateTokens(flattenMessages([{ role: "system", content: t }, { role: "user", content: [{ type: "text", text: t }] }])), [], 3);
  linearOnEveryShape("cutAtStop", (t) => cutAtStop(t, [t.slice(0, 4 * KiB) + "!", "\n\n\n", t.slice(-64)]), [spaces("a", "a", "a")], 3);

  it("StopScanner is linear in the length of a stop sequence and of the stream", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("a", " ", ")", "ab", "\n"), fc.constantFrom(16, 256, 4096), async (unit, delta) => {
        // A stop that is one run, a different character, and the run again: every tail of a long
        // run of the stream is a start of it, but no stretch of the stream ever completes it.
        await expectLinear(`StopScanner on ${JSON.stringify(unit)}×n in deltas of ${delta}`, (n) => {
          const run = unit.repeat(Math.ceil(n / 2 / unit.length));
          const stop = `${run}\u0000${run}`;
          const stream = unit.repeat(Math.ceil(n / unit.length));
          const first = (3 * n) / 4;
          return () => {
            const scanner = new StopScanner([stop, `${unit}\u0001`]);
            let out = scanner.push(stream.slice(0, first));
            for (let at = first; at < stream.length; at += delta) out += scanner.push(stream.slice(at, at + delta));
            out += scanner.flush();
            if (out.length !== stream.length) throw new Error("the stream lost characters");
          };
        });
      }),
      { numRuns: 4, examples: [["a", 4096]], endOnFailure: true },
    );
  });
});

// A fusion plan over a text past the cap: planned whole, whatever it asks for, and never normalised.
const catalogue = modelCatalogue();
function context(): PlanContext {
  const covenant = defaultContract("default", catalogue, "2026-01-01T00:00:00.000Z");
  return {
    covenant,
    policy: resolveFusionPolicy({ map_reduce_min_tokens: 1_000 }),
    catalogue,
    classify,
    route: () => "mistral-7b",
    estimate: estimatorFromPrices(catalogue, () => 0.1),
  };
}
const reading = (text: string): Classification => ({ ...classify(text), prompt_tokens: Math.ceil(text.length / 4) });

describe("the fusion text cap", () => {
  const paragraph = "The scheduler assigns each slice to a device by the memory it needs. Operators rebalance pools when a region runs hot.";
  const documentOf = (chars: number) => `Summarise this document.\n\n${`${paragraph}\n\n`.repeat(Math.ceil(chars / (paragraph.length + 2)))}`.slice(0, chars);

  it("decomposes a document up to the cap and plans a longer one as one plain strike, whatever it asks for", async () => {
    const within = documentOf(MAX_FUSION_TEXT_CHARS - 100);
    const req = (prompt: string, strategy?: "split" | "map_reduce" | "ensemble"): FusionRequest => ({ prompt, max_tokens: 64, temperature: 0, ...(strategy ? { fusion: { strategy } } : {}) });
    const inside = draftPlan(req(within, "map_reduce"), reading(within), context());
    expect(inside.ok && inside.plan.strategy).toBe("map_reduce");

    const over = `1. What is x?\n2. What is y?\n${documentOf(MAX_FUSION_TEXT_CHARS)}`;
    for (const strategy of [undefined, "split", "map_reduce", "ensemble"] as const) {
      const plan = draftPlan(req(over, strategy), reading(over), context());
      expect(plan.ok, strategy).toBe(true);
      if (!plan.ok) continue;
      expect(plan.plan.strategy).toBe("single");
      expect(plan.plan.reason).toContain(`over ${MAX_FUSION_TEXT_CHARS} characters`);
      expect(plan.plan.fragments).toHaveLength(1);
      // The fragment sends the request's own text, untouched.
      expect(plan.plan.fragments[0]!.prompt).toBe(over);
    }
    // A system prompt counts towards the cap as well.
    const withSystem: FusionRequest = { messages: [{ role: "system", content: " ".repeat(MAX_FUSION_TEXT_CHARS) }, { role: "user", content: within }], max_tokens: 64, temperature: 0, fusion: { strategy: "map_reduce" } };
    const both = draftPlan(withSystem, reading(within), context());
    expect(both.ok && both.plan.strategy).toBe("single");
  });

  it("fingerprints a text past the cap as sent, never as a normalised text would be", async () => {
    const within = `x${" ".repeat(MAX_FUSION_TEXT_CHARS - 2)}\n`;
    const over = `${within} `;
    // Within the cap trailing whitespace is normalised away; past it every character counts.
    expect(await fingerprintOf(within)).toBe(await fingerprintOf("x"));
    expect(await fingerprintOf(over)).not.toBe(await fingerprintOf(`${over} `));
    expect(await fingerprintOf(over)).not.toBe(await fingerprintOf(normaliseInput(over)));
    const sealed = await planFusion({ prompt: over, max_tokens: 8, temperature: 0 }, reading(over), context());
    expect(sealed.ok && sealed.plan.fragments[0]!.fingerprint).toBe(await fingerprintOf(over));
    // A long system prompt is part of the scope as sent.
    const system = "s".repeat(MAX_FUSION_TEXT_CHARS + 1);
    const a = await identify({ model: "mistral-7b", system, input: "q", max_tokens: 8, temperature: 0 });
    const b = await identify({ model: "mistral-7b", system: `${system}  `, input: "q", max_tokens: 8, temperature: 0 });
    expect(a.scope).not.toBe(b.scope);
  });

  it("plans prompts of the worst shapes, up to the cap and past it, in far less than a second", async () => {
    const shapes = [spaces(" "), spaces(" ", "1. What is x?\n2. What is y?\n"), spaces("”", "a…"), spaces("\n ", "Also, "), spaces("\t", "0", "-0")];
    for (const size of [LIMIT / 4 - 64, LIMIT]) {
      for (const s of shapes) {
        const text = textOf(s, size);
        for (const strategy of ["auto", "single", "split", "map_reduce"] as const) {
          const took = await timeOf(() => planFusion({ prompt: text, max_tokens: 64, temperature: 0, fusion: { strategy } }, reading(text), context()));
          expect(took, `${strategy}: ${shown(s)}, ${size} characters`).toBeLessThan(1_000);
        }
      }
    }
  });
});

describe("adversarial client text, end to end", () => {
  const words = Array.from({ length: 600 }, (_, i) => ["the", "cluster", "assigns", "slices", "to", "devices", "by", "memory", "and", "compute"][i % 10]).join(" ");
  // ~600 words of prose with 200,000 spaces inside a line: an ordinary request the classifier
  // counts as long enough to plan, so fusion normalises it.
  const prompt = `${words.slice(0, 1_500)}${" ".repeat(200_000)}${words.slice(1_500)}`;
  // These pass the whole path and check only that it answers: how long each function on it takes
  // is measured above (expectLinear), away from the emulators' latency and a loaded machine's
  // stalls. A quadratic pass over these inputs would take minutes, past the test's timeout.

  it("answers a chat completion with 200,000 spaces inside a line", async () => {
    const res = await call("/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "auto", max_tokens: 8, messages: [{ role: "user", content: prompt }] }) });
    await res.text();
    expect(res.status).toBeLessThan(500);
  });

  it("answers fused strikes over such a prompt, and plans one past the cap as a plain strike", async () => {
    const { id } = await createCovenant({ fusion: { map_reduce_min_tokens: 1_000 } });
    for (const fusion of [{ strategy: "auto" }, { strategy: "split" }, { strategy: "map_reduce" }]) {
      const res = await strike({ covenant_id: id, prompt, max_tokens: 8, fusion });
      const text = await res.text();
      expect(res.status, `${JSON.stringify(fusion)}: ${text}`).toBeLessThan(500);
    }
    const long = `1. What is x?\n2. What is y?\n${"z ".repeat(MAX_FUSION_TEXT_CHARS / 2)}`;
    const res = await strike({ covenant_id: id, prompt: long, max_tokens: 8, fusion: { strategy: "split" } });
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    // Run whole: no fusion report.
    if (res.status === 200) expect(StrikeResponse.parse(JSON.parse(text)).fusion).toBeUndefined();
    await deleteCovenant(id);
  });

  it("refuses a long Content-Type or Authorization header", async () => {
    const typed = await call("/v1/strikes", { method: "POST", body: "{}", headers: { "content-type": `application/${"+".repeat(32 * KiB)}x` } });
    expect(typed.status).toBe(415);
    const authed = await call("/v1/strikes", { method: "POST", body: "{}", key: `x${" ".repeat(32 * KiB)}y` });
    expect(authed.status).toBe(401);
  });
});
