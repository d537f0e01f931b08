// How long Hosted.AI takes to hand over a slice once it has been placed. Faster tiers keep warm
// capacity; preemptible capacity is scavenged and slowest to bring up. The jitter is seeded so
// that replays provision in exactly the same time.
import type { PoolTier } from "./catalogue";
import { randomFor } from "./random";

/** Base provisioning delay per tier, in ms, before jitter and latency_scale. */
export const PROVISIONING_MS: Readonly<Record<PoolTier, number>> = {
  dedicated: 20,
  premium: 40,
  standard: 50,
  preemptible: 80,
};

/** Jitter spans ±15 % of the base delay. */
const JITTER_SPREAD = 0.3;

export function provisioningDelayMs(tier: PoolTier, seed: string, sequence: number, latencyScale: number): number {
  const jitter = 1 - JITTER_SPREAD / 2 + JITTER_SPREAD * randomFor(seed, "provisioning", sequence)();
  return PROVISIONING_MS[tier] * jitter * latencyScale;
}
