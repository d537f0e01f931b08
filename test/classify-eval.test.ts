// The scoring behind `npm run eval:classifier`: the script reads a JSON-lines file in Node and
// prints exactly these functions' output, so their format is what the script's output is. And the
// edge's classifier, as the gateway runs it in workerd, scores the recorded figures on the
// labelled corpus (test/fixtures/classifier-eval.json; the Node side is test/node/classify-eval.test.ts).
import { describe, expect, it } from "vitest";
import { classify } from "../src/classify";
import { TASK_LABELS, type TaskLabel } from "../src/schema/classification";
import { formatScores, score, summaryLine } from "../wasm/lib/metrics";
import recorded from "./fixtures/classifier-eval.json";

describe("eval:classifier output", () => {
  // actual / predicted as label indices (0 coding, 1 math, 2 reasoning, …).
  const actual = [0, 0, 0, 1, 1, 2];
  const predicted = [0, 0, 1, 1, 1, 0];
  const s = score(actual, predicted);

  it("ends with exactly `accuracy=<0..1> macro_f1=<0..1> n=<count>`", () => {
    expect(summaryLine(s)).toMatch(/^accuracy=(0|1)\.\d{4} macro_f1=(0|1)\.\d{4} n=\d+$/);
    // F1: coding 2/3, math 0.8, reasoning 0 → macro (2/3 + 0.8 + 0) / 3.
    expect(summaryLine(s)).toBe("accuracy=0.6667 macro_f1=0.4889 n=6");
  });

  it("computes per-label precision, recall and the confusion matrix", () => {
    expect(s.confusion[0]!.slice(0, 3)).toEqual([2, 1, 0]);
    expect(s.confusion[2]!.slice(0, 3)).toEqual([1, 0, 0]);
    const coding = s.perLabel[0]!;
    expect(coding.precision).toBeCloseTo(2 / 3);
    expect(coding.recall).toBeCloseTo(2 / 3);
    const math = s.perLabel[1]!;
    expect(math.precision).toBeCloseTo(2 / 3);
    expect(math.recall).toBe(1);
    expect(s.perLabel[2]!.recall).toBe(0);
  });

  it("prints a table per label and the confusion matrix", () => {
    const text = formatScores(s);
    expect(text).toContain("precision");
    expect(text).toContain("recall");
    expect(text).toContain("confusion (rows: actual, columns: predicted)");
    expect(text.split("\n").filter((l) => /^coding\s+\d/.test(l))).toHaveLength(2);
  });

  it("macro-F1 counts only labels that occur in the data or the predictions", () => {
    const perfect = score([3, 3, 4], [3, 3, 4]);
    expect(perfect.macroF1).toBe(1);
    expect(perfect.accuracy).toBe(1);
  });
});

// The corpus lives beside the project (../shared), as the trainer and the benchmark read it; a
// checkout without it skips these figures (the Node test says so).
const corpus = Object.values(import.meta.glob<string>("../../shared/data/prompts/train.jsonl", { query: "?raw", import: "default", eager: true }))[0];

describe.skipIf(corpus === undefined)("the edge's classifier on the labelled corpus", () => {
  it(`scores the recorded accuracy and macro-F1, within ${recorded.tolerance}`, () => {
    const rows = corpus!
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { text: string; label: TaskLabel });
    expect(rows).toHaveLength(recorded.n);
    const s = score(
      rows.map((r) => TASK_LABELS.indexOf(r.label)),
      rows.map((r) => TASK_LABELS.indexOf(classify(r.text).label)),
    );
    expect(Math.abs(s.accuracy - recorded.accuracy), `accuracy ${s.accuracy}, recorded ${recorded.accuracy}`).toBeLessThanOrEqual(recorded.tolerance);
    expect(Math.abs(s.macroF1 - recorded.macro_f1), `macro-F1 ${s.macroF1}, recorded ${recorded.macro_f1}`).toBeLessThanOrEqual(recorded.tolerance);
  });
});
