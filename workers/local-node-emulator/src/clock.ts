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
