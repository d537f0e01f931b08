// Where a new slice goes. A slice never spans GPUs: its VRAM and TFLOPS both come from one GPU.
// Best fit keeps large holes intact for large requests, which is what makes fragmentation visible.

export interface GpuCapacity {
  readonly id: string;
  readonly vram_mb: number;
  readonly tflops: number;
  readonly free_vram_mb: number;
  readonly free_tflops: number;
}

export interface SliceNeed {
  readonly vram_mb: number;
  readonly tflops: number;
}

export type Placement =
  | { kind: "placed"; gpuId: string }
  /** Some GPU could hold it when empty enough, just not now. */
  | { kind: "full" }
  /** No GPU of the pool is big enough, however empty. */
  | { kind: "unsatisfiable" };

// Free TFLOPS are sums of floats; a hair of rounding must not turn "exactly full" into "too small".
const EPSILON = 1e-9;

export function placeSlice(gpus: readonly GpuCapacity[], need: SliceNeed): Placement {
  const couldEverFit = gpus.some((g) => fits(g.vram_mb, g.tflops, need));
  if (!couldEverFit) return { kind: "unsatisfiable" };
  let best: { gpuId: string; leftover: number } | undefined;
  for (const gpu of gpus) {
    if (!fits(gpu.free_vram_mb, gpu.free_tflops, need)) continue;
    const leftover =
      (gpu.free_vram_mb - need.vram_mb) / gpu.vram_mb + (gpu.free_tflops - need.tflops) / gpu.tflops;
    if (best === undefined || leftover < best.leftover - EPSILON) best = { gpuId: gpu.id, leftover };
  }
  return best ? { kind: "placed", gpuId: best.gpuId } : { kind: "full" };
}

export function fits(vramMb: number, tflops: number, need: SliceNeed): boolean {
  return vramMb + EPSILON >= need.vram_mb && tflops + EPSILON >= need.tflops;
}
