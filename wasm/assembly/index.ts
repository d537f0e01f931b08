// The module's face. The host writes UTF-8 into `input()` and calls `classify(len, scale)` once;
// the answer is a fixed record at the returned address (see src/classify/engine.ts):
//   f32 probabilities[8] · f32 complexity · i32 prompt tokens · i32 output tokens ·
//   i32 latency class · i32 label
// `extract` is the same front half for training: it records the features instead of scoring.
import { BUCKETS, DENSE, HASH_BITS, INPUT_CAPACITY, LABELS, LANES, NAMESPACES } from "./layout";
import { scan } from "./scan";
import { computeDense, dense, emitTokenFeatures } from "./features";
import { nsCount, recorded, recordedCount, resetSink, setSparseWeights } from "./sink";
import { score, setDenseWeights } from "./model";
import { estimate, estimates } from "./estimates";
import { WEIGHTS_BUCKETS, WEIGHTS_DENSE, WEIGHTS_ID, SPARSE_WEIGHTS, SPARSE_SCALES, DENSE_WEIGHTS } from "./weights.generated";

const inputBuffer: usize = heap.alloc(<usize>INPUT_CAPACITY);
const result: usize = heap.alloc(64);
const layoutRecord: usize = heap.alloc(32);

export function input(): usize {
  return inputBuffer;
}

function analyse(len: i32, record: bool): void {
  const n = len < 0 ? 0 : min(len, INPUT_CAPACITY);
  resetSink(record);
  scan(inputBuffer, n);
  emitTokenFeatures();
  computeDense();
}

export function classify(len: i32, windowScale: f64): usize {
  analyse(len, false);
  const label = score(result);
  store<f32>(result, 0, 28);
  estimate(result, windowScale >= 1 ? windowScale : 1);
  store<f32>(result, estimates.complexity, 32);
  store<i32>(result, estimates.promptTokens, 36);
  store<i32>(result, estimates.outputTokens, 40);
  store<i32>(result, estimates.latencyClass, 44);
  store<i32>(result, label, 48);
  return result;
}

/** Training: records the features of the text; returns how many (see recordedFeatures). */
export function extract(len: i32): i32 {
  analyse(len, true);
  return recordedCount;
}

/** u32 per feature: bucket | namespace << 24. */
export function recordedFeatures(): usize {
  return recorded;
}

/** i32 per namespace: how many features it fired (each weighs 1/sqrt of that). */
export function namespaceCounts(): usize {
  return nsCount;
}

export function denseFeatures(): usize {
  return dense;
}

/** labels, lanes, hash bits, dense features, namespaces, input capacity, weights id, weights match. */
export function layout(): usize {
  store<i32>(layoutRecord, LABELS);
  store<i32>(layoutRecord, LANES, 4);
  store<i32>(layoutRecord, HASH_BITS, 8);
  store<i32>(layoutRecord, DENSE, 12);
  store<i32>(layoutRecord, NAMESPACES, 16);
  store<i32>(layoutRecord, INPUT_CAPACITY, 20);
  store<u32>(layoutRecord, WEIGHTS_ID, 24);
  store<i32>(layoutRecord, WEIGHTS_BUCKETS == BUCKETS && WEIGHTS_DENSE == DENSE ? 1 : 0, 28);
  return layoutRecord;
}

/**
 * Evaluation of models being trained: point the module at weights the host placed in memory
 * (same layout as the embedded ones), or back at the embedded ones with zeros.
 */
export function useWeights(sparse: usize, scales: usize, denseW: usize): void {
  if (sparse == 0) {
    setSparseWeights(SPARSE_WEIGHTS);
    setDenseWeights(DENSE_WEIGHTS, SPARSE_SCALES);
  } else {
    setSparseWeights(sparse);
    setDenseWeights(denseW, scales);
  }
}

/** Room for host-placed weights: bytes at the returned address, allocated once. */
let scratch: usize = 0;
export function weightsScratch(): usize {
  if (scratch == 0) scratch = heap.alloc(<usize>BUCKETS * LANES + <usize>LANES * 4 + <usize>(DENSE * LANES) * 4 + 16);
  return scratch;
}
