import type { PoolSnapshot } from "../policy";
import { toPoolSnapshot, type HostedAiClient } from "../providers/hostedai";

/** How long a pool listing is trusted before it is fetched again. */
const POOL_TTL_MS = 10_000;

/**
 * The upstream's pool listing, fetched at most once per TTL per object (concurrent strikes share
 * one request) and refreshed early when an allocation finds a pool fuller than the listing said.
 * When the listing cannot be fetched the last one is used: an unreachable upstream must not make
 * the covenant forget its pools, or their breakers could never see the failures.
 */
export class PoolCache {
  private snapshot: { pools: PoolSnapshot[]; fetchedAt: number } | undefined;
  private pending: Promise<PoolSnapshot[]> | undefined;
  private stale = false;

  constructor(private readonly client: HostedAiClient) {}

  async get(now: number): Promise<PoolSnapshot[]> {
    if (this.snapshot && !this.stale && now - this.snapshot.fetchedAt < POOL_TTL_MS) return this.snapshot.pools;
    this.pending ??= this.client
      .listPools()
      .then((wire) => {
        const pools = wire.map(toPoolSnapshot);
        this.snapshot = { pools, fetchedAt: Date.now() };
        this.stale = false;
        return pools;
      })
      .catch((err) => {
        if (!this.snapshot) throw err;
        // Keep serving the last listing, but try again at the next strike.
        this.stale = true;
        return this.snapshot.pools;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    this.stale = true;
  }
}
