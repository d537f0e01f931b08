// Multinomial logistic regression over the hashed features, trained by AdaGrad SGD with L2.
// Sparse rows make each step touch only the buckets that fired; the seed fixes the example order.
import type { FeatureMatrix } from "./features";
import { rng, shuffleInPlace } from "./random";

export interface LinearModel {
  labels: number;
  lanes: number;
  buckets: number;
  denseSize: number;
  /** bucket × lane */
  sparse: Float32Array;
  /** dense feature × lane */
  dense: Float32Array;
}

export interface SoftmaxOptions {
  labels: number;
  lanes: number;
  buckets: number;
  epochs: number;
  learningRate: number;
  /** L2 strength on the sparse weights, applied where a step touches them. */
  l2: number;
  /** L2 strength on the dense weights (the bias input excepted). */
  denseL2: number;
  seed: number;
}

export function logits(model: LinearModel, m: FeatureMatrix, row: number, out: Float64Array): void {
  const { labels, lanes, denseSize } = model;
  out.fill(0, 0, labels);
  for (let k = m.offsets[row]!; k < m.offsets[row + 1]!; k++) {
    const base = m.buckets[k]! * lanes;
    const x = m.values[k]!;
    for (let c = 0; c < labels; c++) out[c]! += x * model.sparse[base + c]!;
  }
  const d0 = row * denseSize;
  for (let j = 0; j < denseSize; j++) {
    const x = m.dense[d0 + j]!;
    if (x === 0) continue;
    for (let c = 0; c < labels; c++) out[c]! += x * model.dense[j * lanes + c]!;
  }
}

export function softmaxInPlace(z: Float64Array, labels: number): void {
  let top = -Infinity;
  for (let c = 0; c < labels; c++) top = Math.max(top, z[c]!);
  let total = 0;
  for (let c = 0; c < labels; c++) {
    z[c] = Math.exp(z[c]! - top);
    total += z[c]!;
  }
  for (let c = 0; c < labels; c++) z[c]! /= total;
}

export function predict(model: LinearModel, m: FeatureMatrix, row: number, scratch = new Float64Array(model.lanes)): number {
  logits(model, m, row, scratch);
  let best = 0;
  for (let c = 1; c < model.labels; c++) if (scratch[c]! > scratch[best]!) best = c;
  return best;
}

export function trainSoftmax(
  m: FeatureMatrix,
  targets: ArrayLike<number>,
  sampleWeights: ArrayLike<number>,
  opts: SoftmaxOptions,
): LinearModel {
  const { labels, lanes, buckets } = opts;
  const model: LinearModel = {
    labels,
    lanes,
    buckets,
    denseSize: m.denseSize,
    sparse: new Float32Array(buckets * lanes),
    dense: new Float32Array(m.denseSize * lanes),
  };
  const sparseG = new Float32Array(model.sparse.length);
  const denseG = new Float32Array(model.dense.length);
  const eps = 1e-8;
  const z = new Float64Array(lanes);
  const g = new Float64Array(lanes);
  const order = Array.from({ length: m.rows }, (_, i) => i);
  const random = rng(opts.seed);
  const lr = opts.learningRate;

  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    shuffleInPlace(order, random);
    for (const row of order) {
      logits(model, m, row, z);
      softmaxInPlace(z, labels);
      const s = sampleWeights[row]!;
      const y = targets[row]!;
      for (let c = 0; c < labels; c++) g[c] = s * (z[c]! - (c === y ? 1 : 0));

      for (let k = m.offsets[row]!; k < m.offsets[row + 1]!; k++) {
        const base = m.buckets[k]! * lanes;
        const x = m.values[k]!;
        for (let c = 0; c < labels; c++) {
          const i = base + c;
          const grad = g[c]! * x + opts.l2 * model.sparse[i]!;
          sparseG[i]! += grad * grad;
          model.sparse[i]! -= (lr * grad) / Math.sqrt(sparseG[i]! + eps);
        }
      }
      const d0 = row * m.denseSize;
      for (let j = 0; j < m.denseSize; j++) {
        const x = m.dense[d0 + j]!;
        if (x === 0) continue;
        const l2 = j === 0 ? 0 : opts.denseL2;
        for (let c = 0; c < labels; c++) {
          const i = j * lanes + c;
          const grad = g[c]! * x + l2 * model.dense[i]!;
          denseG[i]! += grad * grad;
          model.dense[i]! -= (lr * grad) / Math.sqrt(denseG[i]! + eps);
        }
      }
    }
  }
  return model;
}
