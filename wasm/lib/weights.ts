// Trained float weights → the int8/f32 image the module embeds (wasm/model/weights.bin), and
// loading such an image into a running module to evaluate it through the real inference path.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Classifier } from "../../src/classify/engine";
import type { LinearModel } from "./softmax";

export const WEIGHTS_BIN = fileURLToPath(new URL("../model/weights.bin", import.meta.url));
export const WEIGHTS_META = fileURLToPath(new URL("../model/weights.json", import.meta.url));

/** Layout of weights.bin: int8 sparse [bucket][lane], f32 scale [lane], f32 dense [feature][lane]. */
export interface WeightsImage {
  bytes: Uint8Array;
  sparseBytes: number;
  scalesAt: number;
  denseAt: number;
}

/**
 * Each label's sparse weights share one scale. Clipping at a high quantile rather than the
 * maximum keeps resolution for the many small weights that, summed, carry the decision.
 */
const CLIP_QUANTILE = 0.9999;

export function quantise(model: LinearModel): WeightsImage {
  const { buckets, lanes, labels, denseSize } = model;
  const sparseBytes = buckets * lanes;
  const scalesAt = sparseBytes;
  const denseAt = scalesAt + lanes * 4;
  const bytes = new Uint8Array(denseAt + denseSize * lanes * 4);
  const q = new Int8Array(bytes.buffer, 0, sparseBytes);
  const scales = new Float32Array(lanes);
  const column = new Float32Array(buckets);
  for (let c = 0; c < labels; c++) {
    for (let b = 0; b < buckets; b++) column[b] = Math.abs(model.sparse[b * lanes + c]!);
    column.sort();
    const clip = column[Math.min(buckets - 1, Math.floor(CLIP_QUANTILE * buckets))]! || 1e-6;
    scales[c] = clip / 127;
    for (let b = 0; b < buckets; b++) {
      const v = Math.round(model.sparse[b * lanes + c]! / scales[c]!);
      q[b * lanes + c] = Math.max(-127, Math.min(127, v));
    }
  }
  new Float32Array(bytes.buffer, scalesAt, lanes).set(scales);
  new Float32Array(bytes.buffer, denseAt, denseSize * lanes).set(model.dense);
  return { bytes, sparseBytes, scalesAt, denseAt };
}

export function weightsId(image: WeightsImage): string {
  return `cls-${createHash("sha256").update(image.bytes).digest("hex").slice(0, 8)}`;
}

/** Points the module at `image` (copied into its scratch area); `null` restores the embedded weights. */
export function useWeights(classifier: Classifier, image: WeightsImage | null): void {
  const ex = classifier.exports;
  if (image === null) {
    ex.useWeights(0, 0, 0);
    return;
  }
  const at = ex.weightsScratch();
  new Uint8Array(ex.memory.buffer, at, image.bytes.byteLength).set(image.bytes);
  ex.useWeights(at, at + image.scalesAt, at + image.denseAt);
}

export function writeWeights(image: WeightsImage, meta: Record<string, unknown>): void {
  mkdirSync(dirname(WEIGHTS_BIN), { recursive: true });
  writeFileSync(WEIGHTS_BIN, image.bytes);
  writeFileSync(WEIGHTS_META, `${JSON.stringify({ id: weightsId(image), ...meta }, null, 2)}\n`);
}
