// The evaluation command end to end, and the classifier's figures against the recorded ones: the
// compiled WebAssembly classifier run by `npm run eval:classifier` on the labelled corpus scores
// what test/fixtures/classifier-eval.json records, and the shipped training recipe, trained on a
// random 80 % and scored on the rest as `npm run eval:classifier` and `npm run bench -- classifier`
// do (wasm/lib/evaluate.ts), reproduces the random-split figures bench/RESULTS.md reports.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_PATH } from "../../wasm/lib/dataset";
import { loadEvalData, randomSplit, recipeTrainer } from "../../wasm/lib/evaluate";
import { buildClassifier, loadClassifier } from "../../wasm/lib/node";
import recorded from "../fixtures/classifier-eval.json";

function evalClassifier(file: string) {
  const run = spawnSync("npx", ["tsx", "scripts/eval-classifier.ts", file, "--file-only"], { encoding: "utf8", timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  const last = run.stdout.trim().split("\n").at(-1)!;
  const m = /^accuracy=([01]\.\d{4}) macro_f1=([01]\.\d{4}) n=(\d+)$/.exec(last);
  expect(m, last).not.toBeNull();
  return { stdout: run.stdout, accuracy: Number(m![1]), macroF1: Number(m![2]), n: Number(m![3]) };
}

it("npm run eval:classifier prints per-label figures and ends with accuracy=… macro_f1=… n=…", () => {
  const dir = mkdtempSync(join(tmpdir(), "hs-eval-"));
  const file = join(dir, "sample.jsonl");
  const rows = [
    { text: "Write a Python function that returns the nth Fibonacci number.", label: "coding" },
    { text: "What is 17 multiplied by 23?", label: "math" },
    { text: "who wrote the novel pride and prejudice", label: "knowledge" },
    { text: "Pretend you are a pirate captain greeting new crew members.", label: "roleplay" },
  ];
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const out = evalClassifier(file);
  expect(out.n).toBe(4);
  expect(out.stdout).toMatch(/coding/);
  expect(out.stdout).toMatch(/^stability: [01]\.\d{3} label agreement over 44 perturbed copies/m);
  expect(out.stdout).toMatch(/^confident \(top probability >= 0\.5\): \d of 4/m);
});

const haveCorpus = existsSync(CORPUS_PATH);
if (!haveCorpus) console.warn(`classify-eval.test.ts: figures skipped, no labelled corpus at ${CORPUS_PATH}`);

describe.skipIf(!haveCorpus)("the classifier's figures", () => {
  it(`npm run eval:classifier on the labelled corpus prints the recorded accuracy and macro-F1, within ${recorded.tolerance}`, () => {
    const out = evalClassifier(CORPUS_PATH);
    expect(out.n).toBe(recorded.n);
    expect(Math.abs(out.accuracy - recorded.accuracy), `accuracy ${out.accuracy}, recorded ${recorded.accuracy}`).toBeLessThanOrEqual(recorded.tolerance);
    expect(Math.abs(out.macroF1 - recorded.macro_f1), `macro-F1 ${out.macroF1}, recorded ${recorded.macro_f1}`).toBeLessThanOrEqual(recorded.tolerance);
  });

  // bench/RESULTS.md rounds to three decimals; the run is seeded, so only that rounding and float
  // summation order separate a reproduction from the record.
  const TOLERANCE = 0.002;

  it(`the shipped recipe reproduces the random-split accuracy and macro-F1 of bench/RESULTS.md, within ${TOLERANCE}`, async () => {
    const row = readFileSync(new URL("../../bench/RESULTS.md", import.meta.url), "utf8")
      .split("\n")
      .find((l) => l.startsWith("| **WASM classifier (shipped recipe)** |"));
    expect(row, "bench/RESULTS.md has the shipped recipe's row").toBeDefined();
    const [accuracy, macroF1] = row!.split("|").slice(2, 4).map((c) => Number(c.replace(/\*/g, "").trim()));
    expect(accuracy).toBeGreaterThan(0.9);

    // As eval:classifier and bench/classifier.ts do it: the labelled public data shuffled with the
    // seed, 20 % held out, the rest (commercial sources) and the supplement trained on, the
    // held-out rows predicted by the compiled module.
    await buildClassifier();
    const classifier = await loadClassifier();
    const d = loadEvalData(classifier);
    const s = randomSplit(d, recipeTrainer(classifier, d, true));
    expect(Math.abs(s.accuracy - accuracy!), `accuracy ${s.accuracy}, recorded ${accuracy}`).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(s.macroF1 - macroF1!), `macro-F1 ${s.macroF1}, recorded ${macroF1}`).toBeLessThanOrEqual(TOLERANCE);
  });
});
