// A Worker sleeping through an inference must notice when the allocation under it is preempted.
// The cluster object cannot call back into a sleeping request, so the Worker asks it, at most
// every PREEMPTION_CHECK_MS; only preemptible allocations can be preempted, so only they are asked about.
import { sleep, sleepUntil } from "./http";

export const PREEMPTION_CHECK_MS = 50;

export class PreemptionWatch {
  // The inference has just been admitted on an active allocation: no need to ask straight away.
  private checkedAt = Date.now();

  constructor(private readonly isPreempted: () => Promise<boolean>) {}

  /** Sleeps until `epochMs`; resolves true as soon as the allocation is found preempted. */
  async sleepUntil(epochMs: number): Promise<boolean> {
    for (;;) {
      if (Date.now() - this.checkedAt >= PREEMPTION_CHECK_MS) {
        this.checkedAt = Date.now();
        if (await this.isPreempted()) return true;
      }
      const left = epochMs - Date.now();
      if (left < 1) return false;
      await sleep(Math.min(left, this.checkedAt + PREEMPTION_CHECK_MS - Date.now()));
    }
  }
}

/** Sleeps until `epochMs`, watching for preemption when there is a watch; true if preempted. */
export async function sleepWatching(epochMs: number, watch: PreemptionWatch | undefined): Promise<boolean> {
  if (watch) return watch.sleepUntil(epochMs);
  await sleepUntil(epochMs);
  return false;
}
