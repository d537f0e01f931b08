// Stability of the compiled classifier: the label should not change under edits that leave the
// task alone (closing punctuation, case, surrounding white space, a greeting, "please"). Measured
// as agreement over a perturbed copy of an evaluation set: the public prompts committed in
// wasm/data/public, the hand-written supplement, and a seeded sample of the labelled corpus.
import { existsSync, readdirSync } from "node:fs";
import { beforeAll, expect, it } from "vitest";
import type { Classifier } from "../../src/classify/engine";
import { CORPUS_PATH, PUBLIC_DIR, readExamples, readSupplement } from "../../wasm/lib/dataset";
import { buildClassifier, loadClassifier } from "../../wasm/lib/node";
import { rng, shuffleInPlace } from "../../wasm/lib/random";
import { PERTURBATIONS, stability } from "../../wasm/lib/stability";
import { join } from "node:path";

const GOAL = 0.98;

let classifier: Classifier;
let texts: string[];

beforeAll(async () => {
  await buildClassifier();
  classifier = await loadClassifier();
  const pub = readdirSync(PUBLIC_DIR)
    .filter((n) => n.endsWith(".jsonl"))
    .flatMap((n) => readExamples(join(PUBLIC_DIR, n)).map((e) => e.text));
  const corpus = existsSync(CORPUS_PATH) ? shuffleInPlace(readExamples(CORPUS_PATH).map((e) => e.text), rng(20261207)).slice(0, 1500) : [];
  texts = [...pub, ...readSupplement().map((e) => e.text), ...corpus];
});

it("every perturbation changes the text it is applied to (so agreement measures something)", () => {
  for (const p of PERTURBATIONS) {
    const changed = ["Name three prime numbers.", "name three prime numbers"].some((t) => p.apply(t) !== t);
    expect(changed, p.name).toBe(true);
  }
});

it(`keeps the label over a perturbed copy of the evaluation set (agreement >= ${GOAL})`, () => {
  const r = stability(classifier, texts);
  expect(r.pairs).toBe(texts.length * PERTURBATIONS.length);
  expect(r.agreement, JSON.stringify(r.examples, null, 1)).toBeGreaterThanOrEqual(GOAL);
  for (const p of r.perPerturbation) expect(p.agreement, p.name).toBeGreaterThanOrEqual(0.95);
});

it("routes 'Name three prime numbers' the same with or without a trailing full stop", () => {
  expect(classifier.classify("Name three prime numbers.").label).toBe(classifier.classify("Name three prime numbers").label);
});
