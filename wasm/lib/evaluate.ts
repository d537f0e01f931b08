// How the classifier's recipe is measured, shared by `npm run eval:classifier` and
// `npm run bench -- classifier`: a random split, and leave-one-source-out with and without the
// project's hand-written supplement. Every model is trained as the shipped one is (commercial
// sources only, wasm/lib/pipeline.ts), quantised, and its predictions come from the compiled module.
import type { Classifier } from "../../src/classify/engine";
import { isCommercial, labelIndex, readLabelled, readSupplement, repoOf, type Example } from "./dataset";
import { extractFeatures, type FeatureMatrix } from "./features";
import { score, type Scores } from "./metrics";
import { RECIPE, SEED, predictWithModule, quantise, trainRecipe, type Recipe } from "./pipeline";
import { rng, shuffleInPlace } from "./random";

export const HOLD_OUT = 0.2;

export interface EvalData {
  examples: Example[];
  /** Labelled public rows: every figure is measured on these. */
  rows: number[];
  /** The rows a shipped model may learn from (non-commercial sources are only ever held out). */
  trainable: Set<number>;
  /** The hand-written supplement's rows: training only. */
  supplementRows: number[];
  features: FeatureMatrix;
  targets: Int32Array;
}

export function loadEvalData(classifier: Classifier, labelled: Example[] = readLabelled(), supplement: Example[] = readSupplement()): EvalData {
  const examples = [...labelled, ...supplement];
  const rows = labelled.map((_, i) => i);
  return {
    examples,
    rows,
    trainable: new Set(rows.filter((r) => isCommercial(examples[r]!))),
    supplementRows: supplement.map((_, i) => labelled.length + i),
    features: extractFeatures(classifier, examples.map((e) => e.text)),
    targets: Int32Array.from(examples, (e) => labelIndex(e.label)),
  };
}

export type Trainer = (train: number[], test: number[]) => Int32Array;

export function recipeTrainer(classifier: Classifier, d: EvalData, withSupplement: boolean, recipe: Recipe = RECIPE): Trainer {
  return (train, test) => {
    const rows = train.filter((r) => d.trainable.has(r));
    if (withSupplement) rows.push(...d.supplementRows);
    const image = quantise(trainRecipe(classifier, d.features, d.examples, rows, recipe));
    return predictWithModule(classifier, image, test.map((r) => d.examples[r]!.text));
  };
}

export function randomSplit(d: EvalData, trainer: Trainer, rows: number[] = d.rows): Scores {
  const order = shuffleInPlace([...rows], rng(SEED));
  const cut = Math.floor(order.length * (1 - HOLD_OUT));
  const test = order.slice(cut);
  return score(test.map((r) => d.targets[r]!), trainer(order.slice(0, cut), test));
}

export interface LosoResult {
  pooled: Scores;
  folds: Array<{ repo: string; n: number; accuracy: number }>;
}

/** One fold per source repository: trained on the others, predicting it; predictions pooled. */
export function leaveOneSourceOut(d: EvalData, trainer: Trainer, rows: number[] = d.rows): LosoResult {
  const repos = [...new Set(rows.map((r) => repoOf(d.examples[r]!.source)))];
  const actual: number[] = [];
  const predicted: number[] = [];
  const folds: LosoResult["folds"] = [];
  for (const repo of repos) {
    const test = rows.filter((r) => repoOf(d.examples[r]!.source) === repo);
    const train = rows.filter((r) => repoOf(d.examples[r]!.source) !== repo);
    const p = trainer(train, test);
    let correct = 0;
    test.forEach((r, i) => {
      actual.push(d.targets[r]!);
      predicted.push(p[i]!);
      if (p[i] === d.targets[r]) correct++;
    });
    folds.push({ repo, n: test.length, accuracy: correct / test.length });
  }
  return { pooled: score(actual, predicted), folds };
}

export { SEED };
