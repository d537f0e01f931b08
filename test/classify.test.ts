// The WebAssembly classifier as the edge runs it: one instance per isolate, one call per text.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyseRequest, classify, CONFIDENCE_THRESHOLD, instantiateClassifier } from "../src/classify";
import classifierModule from "../wasm/build/classifier.wasm";
import { Classification, TASK_LABELS, type TaskLabel } from "../src/schema";

function expectValid(c: Classification): void {
  expect(Classification.safeParse(c).success).toBe(true);
  const probabilities = TASK_LABELS.map((l) => c.probabilities[l]);
  for (const p of probabilities) expect(Number.isFinite(p) && p >= 0 && p <= 1).toBe(true);
  expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  // The label is the most probable one.
  expect(c.probabilities[c.label]).toBe(Math.max(...probabilities));
  expect(c.complexity).toBeGreaterThanOrEqual(0);
  expect(c.complexity).toBeLessThanOrEqual(1);
}

// Smoke prompts written for these tests (not from the training data or its supplement).
const SMOKE: Array<[TaskLabel, string]> = [
  ["coding", "Write a JavaScript function that removes duplicate objects from an array by their id field."],
  ["math", "A cyclist rides 18 km in 45 minutes. At the same speed, how far will she ride in 2 hours?"],
  ["reasoning", "All roses in the garden are red. Some red flowers wilt quickly. Can we conclude that some roses wilt quickly? Explain."],
  ["extraction", "From the text below, extract every city name.\n\nWe flew from Oslo to Berlin, took a train to Prague, and ended the trip in Vienna."],
  ["writing", "Write a short poem about rain on a tin roof."],
  ["roleplay", "Pretend you are a pirate captain and greet your new crew."],
  ["knowledge", "What is the capital of Canada?"],
];

describe("classify", () => {
  it.each(SMOKE)("labels a plain %s prompt, with a probability for every label", (label, text) => {
    const c = classify(text);
    expectValid(c);
    expect(c.label).toBe(label);
    expect(c.probabilities[label]).toBeGreaterThan(0.5);
    expect(Object.keys(c.probabilities).sort()).toEqual([...TASK_LABELS].sort());
  });

  it("is deterministic, also across instances and after other texts", () => {
    const text = SMOKE[0]![1];
    const first = classify(text);
    for (const [, other] of SMOKE) classify(other);
    expect(classify(text)).toEqual(first);
    expect(instantiateClassifier(classifierModule).classify(text)).toEqual(first);
  });

  it("says whether it is confident: the top probability against the threshold", () => {
    for (const text of ["Write a haiku about autumn leaves.", "hmm", "ok so what about the other one then"]) {
      const c = classify(text);
      expect(c.confident).toBe(c.probabilities[c.label] >= CONFIDENCE_THRESHOLD);
    }
    expect(classify("Write a Python function that parses an ISO 8601 date string.").confident).toBe(true);
  });

  it("gives the same label whatever the closing punctuation, case, white space, greeting or please", () => {
    const base = classify("Name three prime numbers");
    for (const text of ["Name three prime numbers.", "name three prime numbers?", "  Name three prime numbers!\n", "Hi! Please name three prime numbers.", "Name three prime numbers, please. Thanks!"]) {
      const c = classify(text);
      expect(c.label, text).toBe(base.label);
      expect(c.probabilities[c.label], text).toBeCloseTo(base.probabilities[base.label], 1);
    }
  });

  it("drops a greeting only where it greets: at the start, or thanks at the end", () => {
    // Largest difference between two readings' probabilities: what was dropped only nudges the
    // length and line-count features (under 0.05); a word that is read moves the probabilities
    // more than that (by how much depends on the weights: 0.09 to 0.21 with cls-877c32a0, 0.16 to
    // 0.21 with cls-904f83a0).
    const gap = (a: string, b: string) =>
      Math.max(...TASK_LABELS.map((l) => Math.abs(classify(a).probabilities[l] - classify(b).probabilities[l])));
    expect(gap("Hello! Say hello.", "Say hello")).toBeLessThan(0.05);
    expect(gap("Say hello", "Say")).toBeGreaterThan(0.05);
    expect(gap("Translate thank you into French.\nThanks!", "Translate thank you into French")).toBeLessThan(0.05);
    expect(gap("Translate thank you into French", "Translate into French")).toBeGreaterThan(0.05);
  });

  it("names the weights it used", () => {
    expect(classify("hello").classifier).toMatch(/^cls-[0-9a-f]{8}$/);
    expect(classify("hello").classifier).not.toBe("cls-00000000");
  });

  it("estimates more effort for a hard engineering task than for a lookup", () => {
    const hard = classify(
      "Design and implement a distributed rate limiter in Go that must handle a million requests per second " +
        "across regions, with exact per-tenant quotas. Explain the trade-offs, analyse the complexity, and include tests.",
    );
    const easy = classify("What is the capital of Canada?");
    expect(hard.complexity).toBeGreaterThan(easy.complexity + 0.2);
    expect(easy.latency_class).toBe("interactive");
    expect(hard.output_tokens).toBeGreaterThan(easy.output_tokens);
  });

  it("reads an explicit length request into the output estimate", () => {
    const c = classify("Write a 500-word essay about the ocean.");
    expect(c.output_tokens).toBeGreaterThan(500);
    expect(c.output_tokens).toBeLessThan(900);
  });

  it("estimates prompt tokens about as a BPE tokenizer counts them", () => {
    expect(classify("").prompt_tokens).toBe(0);
    expect(classify("What is the capital of Canada?").prompt_tokens).toBe(7);
    const prose = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    expect(classify(prose).prompt_tokens).toBeGreaterThan(900);
    expect(classify(prose).prompt_tokens).toBeLessThan(1200);
  });

  it("survives empty and whitespace-only text", () => {
    for (const text of ["", " ", "\n\n\t", "\u00a0\u3000"]) expectValid(classify(text));
  });

  it("reads a huge text by its head and tail, scaling the token estimate to the whole", () => {
    const big = "Please review the following log and tell me what failed.\n" + "INFO worker started ok\n".repeat(40_000);
    expect(big.length).toBeGreaterThan(900_000);
    const c = classify(big);
    expectValid(c);
    expect(c.prompt_tokens).toBeGreaterThan(150_000);
    expect(c.latency_class).toBe("batch");
  });

  it("survives binary-looking text: control characters, NULs, stray bytes", () => {
    let binary = "";
    for (let i = 0; i < 4096; i++) binary += String.fromCharCode((i * 7919) % 256);
    expectValid(classify(binary));
    expectValid(classify("\u0000".repeat(1000)));
  });

  it("survives text that is not UTF-8: lone surrogates, and raw invalid bytes", () => {
    expectValid(classify("abc\ud800def\udfff"));
    const engine = instantiateClassifier(classifierModule);
    const invalid = new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x92, 0x41, 0x80, 0xc0, 0xaf]);
    expectValid(engine.classifyBytes(invalid));
    const mixed = new TextEncoder().encode("Write a poem about the sea ");
    expectValid(engine.classifyBytes(new Uint8Array([...mixed, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80])));
  });

  it("survives emoji and scripts without spaces", () => {
    expectValid(classify("🙂🙂🚀 write a poem 👩‍👩‍👧 about rockets"));
    expectValid(classify("👍".repeat(20_000)));
    expectValid(classify("请用三句话介绍长城的历史。東京の天気はどうですか"));
  });

  it("never fails on arbitrary Unicode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => expectValid(classify(text))),
      { numRuns: 300, seed: 20261123 },
    );
  });
});

describe("analyseRequest", () => {
  it("flattens messages and carries the classification", () => {
    const a = analyseRequest({
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: [{ type: "text", text: "What is the capital of Canada?" }] },
      ],
    });
    expect(a.promptText).toBe("system: You are helpful.\nuser: What is the capital of Canada?");
    expect(a.classification.label).toBe("knowledge");
    expect(a.promptTokens).toBe(a.classification.prompt_tokens);
  });

  it("reads the task from the user's words, the sizes from everything the upstream reads", () => {
    const system = "You are a friendly assistant who always talks like a pirate and stays in character.";
    const user = "Write a Python function that reverses a singly linked list in place.";
    const a = analyseRequest({ messages: [{ role: "system", content: system }, { role: "user", content: user }] });
    const alone = classify(user);
    expect(a.classification.label).toBe("coding");
    expect(a.classification.probabilities).toEqual(alone.probabilities);
    expect(a.classification.confident).toBe(alone.confident);
    expect(a.promptTokens).toBe(classify(a.promptText).prompt_tokens);
    expect(a.promptTokens).toBeGreaterThan(alone.prompt_tokens);
  });

  it("takes a prompt as it is", () => {
    const a = analyseRequest({ prompt: "Write a short poem about rain on a tin roof." });
    expect(a.promptText).toBe("Write a short poem about rain on a tin roof.");
    expect(a.classification.label).toBe("writing");
  });
});
