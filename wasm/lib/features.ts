// Features for training, computed by the compiled module's own extractor: what the trainer
// learns from is, by construction, what the edge computes.
import type { Classifier } from "../../src/classify/engine";

/** Examples as compressed sparse rows of (bucket, value), plus their dense features. */
export interface FeatureMatrix {
  rows: number;
  denseSize: number;
  offsets: Uint32Array;
  buckets: Uint32Array;
  values: Float32Array;
  dense: Float32Array;
}

/**
 * One example's sparse features: a bucket fired n times in a namespace that fired N features
 * in all counts n / sqrt(N), the weighting the module applies when it scores.
 */
function rowOf(classifier: Classifier, text: string, scratch: Map<number, number>): { dense: Float32Array } {
  const { exports: ex, layout } = classifier;
  const { length } = classifier.write(text);
  const count = ex.extract(length);
  const memory = ex.memory.buffer;
  const recorded = new Uint32Array(memory, ex.recordedFeatures(), count);
  const nsCounts = new Int32Array(memory, ex.namespaceCounts(), layout.namespaces);
  scratch.clear();
  for (const f of recorded) {
    const bucket = f & 0xffffff;
    const weight = 1 / Math.sqrt(nsCounts[f >>> 24]!);
    scratch.set(bucket, (scratch.get(bucket) ?? 0) + weight);
  }
  return { dense: new Float32Array(memory, ex.denseFeatures(), layout.dense).slice() };
}

export function extractFeatures(classifier: Classifier, texts: readonly string[]): FeatureMatrix {
  const denseSize = classifier.layout.dense;
  const offsets = new Uint32Array(texts.length + 1);
  const dense = new Float32Array(texts.length * denseSize);
  const bucketParts: Uint32Array[] = [];
  const valueParts: Float32Array[] = [];
  const scratch = new Map<number, number>();
  let total = 0;
  texts.forEach((text, i) => {
    const row = rowOf(classifier, text, scratch);
    dense.set(row.dense, i * denseSize);
    const buckets = Uint32Array.from(scratch.keys()).sort();
    const values = Float32Array.from(buckets, (b) => scratch.get(b)!);
    bucketParts.push(buckets);
    valueParts.push(values);
    total += buckets.length;
    offsets[i + 1] = total;
  });
  const buckets = new Uint32Array(total);
  const values = new Float32Array(total);
  bucketParts.forEach((part, i) => {
    buckets.set(part, offsets[i]!);
    values.set(valueParts[i]!, offsets[i]!);
  });
  return { rows: texts.length, denseSize, offsets, buckets, values, dense };
}

/** The rows at `indices`, as a matrix of their own. */
export function selectRows(m: FeatureMatrix, indices: readonly number[]): FeatureMatrix {
  let total = 0;
  for (const i of indices) total += m.offsets[i + 1]! - m.offsets[i]!;
  const offsets = new Uint32Array(indices.length + 1);
  const buckets = new Uint32Array(total);
  const values = new Float32Array(total);
  const dense = new Float32Array(indices.length * m.denseSize);
  let at = 0;
  indices.forEach((i, r) => {
    const from = m.offsets[i]!;
    const to = m.offsets[i + 1]!;
    buckets.set(m.buckets.subarray(from, to), at);
    values.set(m.values.subarray(from, to), at);
    at += to - from;
    offsets[r + 1] = at;
    dense.set(m.dense.subarray(i * m.denseSize, (i + 1) * m.denseSize), r * m.denseSize);
  });
  return { rows: indices.length, denseSize: m.denseSize, offsets, buckets, values, dense };
}

