// Waiting for the device's schedule. Date.now() is the shared clock: the Durable Object books
// slots in epoch ms and the Worker sleeps until those instants.

/**
 * Resolves at `epochMs`. Waits under a millisecond are skipped: timers are not that precise, and
 * at small latency scales sleeping once per token would stretch the schedule instead of keeping it.
 */
export async function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait >= 1) await new Promise<void>((resolve) => setTimeout(resolve, wait));
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
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
