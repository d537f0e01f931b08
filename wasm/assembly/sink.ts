// Where sparse features go. At the edge each feature adds its bucket's quantised weights to its
// namespace's accumulator; for training the same features are also recorded so the trainer sees
// exactly what inference sees.
import { LANES, NAMESPACES, BUCKETS } from "./layout";
import { fmix } from "./hash";
import { SPARSE_WEIGHTS } from "./weights.generated";

/** Seeds keep the namespaces apart inside the shared bucket space. */
const NS_SEED: StaticArray<u32> = [0x2545f491, 0x9e3779b9, 0x6a09e667, 0xbb67ae85, 0x3c6ef372];

/** Recorded features (bucket | namespace << 24); only used while recording. */
export const MAX_RECORDED: i32 = 1 << 18;
export const recorded: usize = heap.alloc(<usize>MAX_RECORDED * 4);
export let recordedCount: i32 = 0;
let recording = false;

/** Per namespace: how many features fired, and the integer sum of their weights per label lane. */
export const nsCount: usize = heap.alloc(<usize>NAMESPACES * 4);
export const nsAccumulator: usize = heap.alloc(<usize>(NAMESPACES * LANES) * 4);

/** Weights the sink reads; the trainer may point the module at fold weights (see index.ts). */
export let sparseWeights: usize = SPARSE_WEIGHTS;

export function setSparseWeights(ptr: usize): void {
  sparseWeights = ptr;
}

export function resetSink(record: bool): void {
  recording = record;
  recordedCount = 0;
  memory.fill(nsCount, 0, <usize>NAMESPACES * 4);
  memory.fill(nsAccumulator, 0, <usize>(NAMESPACES * LANES) * 4);
}

export function emit(ns: i32, hash: u32): void {
  const bucket = fmix(hash ^ unchecked(NS_SEED[ns])) & <u32>(BUCKETS - 1);
  const countAt = nsCount + (<usize>ns << 2);
  store<i32>(countAt, load<i32>(countAt) + 1);
  // One 8-byte load: the bucket's eight int8 lanes, widened and added to the namespace's sums.
  const w = v128.load8x8_s(sparseWeights + (<usize>bucket << 3));
  const acc = nsAccumulator + (<usize>ns << 5);
  v128.store(acc, i32x4.add(v128.load(acc), i32x4.extend_low_i16x8_s(w)));
  v128.store(acc, i32x4.add(v128.load(acc, 16), i32x4.extend_high_i16x8_s(w)), 16);
  if (recording && recordedCount < MAX_RECORDED) {
    store<u32>(recorded + (<usize>recordedCount << 2), bucket | (<u32>ns << 24));
    recordedCount++;
  }
}
