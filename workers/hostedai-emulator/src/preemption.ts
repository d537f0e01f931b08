// Which preemptible slices to evict so that non-preemptible work fits in a full pool. Pure: the
// cluster object passes the GPUs and the candidates, and preempts what this returns.
import { type GpuCapacity, type SliceNeed, fits } from "./placement";

export interface EvictionCandidate {
  readonly id: string;
  readonly gpu_id: string;
  readonly vram_mb: number;
  readonly tflops: number;
  /** Creation order: among equal slices the newest goes first, having done the least work. */
  readonly sequence: number;
}

/**
 * The fewest evictions that free one GPU enough for `need`, or undefined when even evicting every
 * preemptible slice would not. A slice never spans GPUs, so room must be made on a single one;
 * on each GPU the largest slices go first, which keeps the count of evictions down.
 */
export function planEviction(
  gpus: readonly GpuCapacity[],
  candidates: readonly EvictionCandidate[],
  need: SliceNeed,
): string[] | undefined {
  let best: string[] | undefined;
  for (const gpu of gpus) {
    if (!fits(gpu.vram_mb, gpu.tflops, need)) continue;
    const share = (c: EvictionCandidate) => c.vram_mb / gpu.vram_mb + c.tflops / gpu.tflops;
    const onGpu = candidates
      .filter((c) => c.gpu_id === gpu.id)
      .sort((a, b) => share(b) - share(a) || b.sequence - a.sequence);
    let freeVram = gpu.free_vram_mb;
    let freeTflops = gpu.free_tflops;
    const evicted: string[] = [];
    for (const candidate of onGpu) {
      if (fits(freeVram, freeTflops, need)) break;
      evicted.push(candidate.id);
      freeVram += candidate.vram_mb;
      freeTflops += candidate.tflops;
    }
    if (!fits(freeVram, freeTflops, need)) continue;
    if (best === undefined || evicted.length < best.length) best = evicted;
  }
  return best;
}
