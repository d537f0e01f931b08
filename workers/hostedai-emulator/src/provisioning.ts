// How long Hosted.AI takes to hand over a slice once it has been placed. Faster pool types keep
// warm capacity; a preemptible slice is scavenged from idle capacity and takes longer to bring up.
// The jitter is seeded so that replays provision in exactly the same time.
import type { PoolTier } from "./catalogue";
import { randomFor } from "./random";

/** Base provisioning delay per pool type, in ms, before jitter and latency_scale. */
export const PROVISIONING_MS: Readonly<Record<PoolTier, number>> = {
  dedicated: 20,
  premium: 40,
  standard: 50,
};

/** Added for a preemptible slice, found among idle capacity before it is handed over. */
export const PREEMPTIBLE_EXTRA_MS = 30;

/** Jitter spans ±15 % of the base delay. */
const JITTER_SPREAD = 0.3;

export function provisioningDelayMs(tier: PoolTier, seed: string, sequence: number, latencyScale: number, preemptible = false): number {
  const jitter = 1 - JITTER_SPREAD / 2 + JITTER_SPREAD * randomFor(seed, "provisioning", sequence)();
  return (PROVISIONING_MS[tier] + (preemptible ? PREEMPTIBLE_EXTRA_MS : 0)) * jitter * latencyScale;
}
