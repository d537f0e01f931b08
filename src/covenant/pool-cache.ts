import type { PoolSnapshot } from "../policy";
import { toPoolSnapshot, type HostedAiClient } from "../providers/hostedai";

/** How long a pool listing is trusted before it is fetched again. */
const POOL_TTL_MS = 10_000;

/**
 * The upstream's pool listing, fetched at most once per TTL per object (concurrent strikes share
 * one request) and dropped when an allocation finds a pool fuller than the listing said.
 */
export class PoolCache {
  private snapshot: { pools: PoolSnapshot[]; fetchedAt: number } | undefined;
  private pending: Promise<PoolSnapshot[]> | undefined;

  constructor(private readonly client: HostedAiClient) {}

  async get(now: number): Promise<PoolSnapshot[]> {
    if (this.snapshot && now - this.snapshot.fetchedAt < POOL_TTL_MS) return this.snapshot.pools;
    this.pending ??= this.client
      .listPools()
      .then((wire) => {
        const pools = wire.map(toPoolSnapshot);
        this.snapshot = { pools, fetchedAt: Date.now() };
        return pools;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    this.snapshot = undefined;
  }
}
