// Waiting, for both emulators. Date.now() is the shared clock: Durable Objects book slots in
// epoch ms and the Workers sleep until those instants.

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/**
 * Resolves at `epochMs`. Waits under a millisecond are skipped: timers are not that precise, and
 * at small latency scales sleeping once per token would stretch a stream instead of pacing it.
 */
export function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  return wait >= 1 ? sleep(wait) : Promise.resolve();
}

/** Resolves after `ms`, or as soon as the client goes away, whichever is first. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
