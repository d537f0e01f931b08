// Training as the shipped weights and the benchmark both do it: the same data handling, sample
// weights and hyper-parameters, so the benchmark measures the recipe that ships.
import type { Classifier } from "../../src/classify/engine";
import { TASK_LABELS } from "../../src/schema/classification";
import { labelIndex, type Example } from "./dataset";
import { selectRows, type FeatureMatrix } from "./features";
import { trainSoftmax, type LinearModel, type SoftmaxOptions } from "./softmax";
import { quantise, useWeights, type WeightsImage } from "./weights";

export const SEED = 20261123;

export interface Recipe {
  epochs: number;
  learningRate: number;
  l2: number;
  denseL2: number;
  /**
   * Sample weight ∝ (size of the example's source group)^-groupPower: 0 keeps every example
   * equal, 1 gives every source file the same total say, so one big dataset's style (say,
   * lower-case search queries) does not become the definition of its label.
   */
  groupPower: number;
  /**
   * Models trained on differently shuffled passes and averaged: a short, strongly regularised
   * training generalises best across sources, and averaging removes its dependence on order.
   */
  ensemble: number;
}

export const RECIPE: Recipe = {
  epochs: 1,
  learningRate: 0.2,
  l2: 1e-3,
  denseL2: 1e-3,
  groupPower: 0.5,
  ensemble: 4,
};

export function sampleWeights(examples: readonly Example[], recipe: Recipe): Float32Array {
  const groupSize = new Map<string, number>();
  const key = (e: Example) => `${e.source}\u0000${e.label}`;
  for (const e of examples) groupSize.set(key(e), (groupSize.get(key(e)) ?? 0) + 1);
  const raw = examples.map((e) => Math.pow(groupSize.get(key(e))!, -recipe.groupPower));
  // Then every label gets the same total weight, so the small labels count as much as the big.
  const labelTotal = new Float64Array(TASK_LABELS.length);
  examples.forEach((e, i) => (labelTotal[labelIndex(e.label)]! += raw[i]!));
  const present = labelTotal.filter((t) => t > 0).length;
  const weights = new Float32Array(examples.length);
  examples.forEach((e, i) => {
    weights[i] = (raw[i]! / labelTotal[labelIndex(e.label)]!) * (examples.length / present);
  });
  return weights;
}

export function trainRecipe(
  classifier: Classifier,
  features: FeatureMatrix,
  examples: readonly Example[],
  rows: readonly number[],
  recipe: Recipe = RECIPE,
  seed = SEED,
): LinearModel {
  const subset = rows.map((r) => examples[r]!);
  const buckets = 1 << classifier.layout.hashBits;
  const matrix = selectRows(features, rows);
  const targets = Int32Array.from(subset, (e) => labelIndex(e.label));
  const options: SoftmaxOptions = {
    labels: classifier.layout.labels,
    lanes: classifier.layout.lanes,
    buckets,
    epochs: recipe.epochs,
    learningRate: recipe.learningRate,
    l2: recipe.l2,
    denseL2: recipe.denseL2,
    seed,
  };
  const weights = sampleWeights(subset, recipe);
  const model = trainSoftmax(matrix, targets, weights, options);
  for (let e = 1; e < recipe.ensemble; e++) {
    const member = trainSoftmax(matrix, targets, weights, { ...options, seed: seed + e });
    for (let i = 0; i < model.sparse.length; i++) model.sparse[i]! += member.sparse[i]!;
    for (let i = 0; i < model.dense.length; i++) model.dense[i]! += member.dense[i]!;
  }
  for (let i = 0; i < model.sparse.length; i++) model.sparse[i]! /= recipe.ensemble;
  for (let i = 0; i < model.dense.length; i++) model.dense[i]! /= recipe.ensemble;
  return model;
}

/** Labels the module assigns to `texts` with `image` loaded: the edge's own inference path. */
export function predictWithModule(classifier: Classifier, image: WeightsImage, texts: readonly string[]): Int32Array {
  useWeights(classifier, image);
  try {
    return Int32Array.from(texts, (t) => TASK_LABELS.indexOf(classifier.classify(t).label));
  } finally {
    useWeights(classifier, null);
  }
}

/** Probabilities the module gives `texts` with `image` loaded, one Float64Array row per text. */
export function probabilitiesWithModule(classifier: Classifier, image: WeightsImage, texts: readonly string[]): Float64Array[] {
  useWeights(classifier, image);
  try {
    return texts.map((t) => {
      const p = classifier.classify(t).probabilities;
      return Float64Array.from(TASK_LABELS, (l) => p[l]);
    });
  } finally {
    useWeights(classifier, null);
  }
}

/**
 * Temperature scaling: the T that makes softmax(z / T) fit held-out labels best (least negative
 * log-likelihood), found on a grid. Probabilities at T = 1 are all it needs: p^(1/T), renormalised.
 */
export function fitTemperature(probabilities: readonly Float64Array[], targets: ArrayLike<number>): number {
  let best = 1;
  let bestLoss = Infinity;
  for (let t = 0.5; t <= 6.0001; t += 0.05) {
    let loss = 0;
    probabilities.forEach((p, i) => {
      let total = 0;
      for (const v of p) total += Math.pow(Math.max(v, 1e-12), 1 / t);
      loss -= Math.log(Math.pow(Math.max(p[targets[i]!]!, 1e-12), 1 / t) / total);
    });
    if (loss < bestLoss) {
      bestLoss = loss;
      best = Number(t.toFixed(2));
    }
  }
  return best;
}

/** The model with every logit divided by `temperature` (labels unchanged, probabilities calibrated). */
export function withTemperature(model: LinearModel, temperature: number): LinearModel {
  return {
    ...model,
    sparse: model.sparse.map((w) => w / temperature),
    dense: model.dense.map((w) => w / temperature),
  };
}

export { quantise };
