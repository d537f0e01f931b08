// The trained model: a linear softmax over the sparse hashed features (int8 weights, one scale
// per label) and the dense structure features (float weights, bias included).
import { DENSE, LABELS, LANES, NAMESPACES } from "./layout";
import { nsAccumulator, nsCount } from "./sink";
import { dense } from "./features";
import { DENSE_WEIGHTS, SPARSE_SCALES } from "./weights.generated";

export let denseWeights: usize = DENSE_WEIGHTS;
export let sparseScales: usize = SPARSE_SCALES;

export function setDenseWeights(weights: usize, scales: usize): void {
  denseWeights = weights;
  sparseScales = scales;
}

const logits: usize = heap.alloc(<usize>LANES * 8);

/** Writes the label probabilities (f32[LABELS], summing to 1) to `out`; returns the argmax. */
export function score(out: usize): i32 {
  for (let c = 0; c < LABELS; c++) {
    let z: f64 = 0;
    for (let ns = 0; ns < NAMESPACES; ns++) {
      const n = load<i32>(nsCount + (<usize>ns << 2));
      if (n == 0) continue;
      const sum = load<i32>(nsAccumulator + (<usize>(ns * LANES + c) << 2));
      // Each namespace's features count 1/sqrt(n) each: long texts do not shout louder.
      z += <f64>sum / Math.sqrt(<f64>n);
    }
    z *= <f64>load<f32>(sparseScales + (<usize>c << 2));
    for (let m = 0; m < DENSE; m++) {
      z += <f64>load<f32>(dense + (<usize>m << 2)) * <f64>load<f32>(denseWeights + (<usize>(m * LANES + c) << 2));
    }
    store<f64>(logits + (<usize>c << 3), z);
  }
  let best = 0;
  let top = load<f64>(logits);
  for (let c = 1; c < LABELS; c++) {
    const z = load<f64>(logits + (<usize>c << 3));
    if (z > top) { top = z; best = c; }
  }
  let total: f64 = 0;
  for (let c = 0; c < LABELS; c++) {
    const e = Math.exp(load<f64>(logits + (<usize>c << 3)) - top);
    store<f64>(logits + (<usize>c << 3), e);
    total += e;
  }
  for (let c = 0; c < LABELS; c++) store<f32>(out + (<usize>c << 2), <f32>(load<f64>(logits + (<usize>c << 3)) / total));
  return best;
}
