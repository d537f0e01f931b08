import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { modelCatalogue } from "../policy";
import { HostedAiClient, isAllocationGone } from "../providers/hostedai";
import { Admission, CapacitySignal } from "./admission";
import { PoolCache } from "./pool-cache";
import { CovenantStore } from "./storage";
import { StrikeRunner } from "./strike-runner";
import type { StrikeInput, StrikeOutcome } from "./types";

/** Strikes of one covenant talking to upstreams at once; the rest queue in the object. */
const MAX_CONCURRENT_STRIKES = 64;
/** A failed release is tried again after this long, doubling, capped. */
const RELEASE_RETRY_BASE_MS = 1_000;
const RELEASE_RETRY_MAX_MS = 60_000;

/**
 * One Durable Object per covenant (named `<tenant>:<covenant id>`). A thin shell: it loads state,
 * asks the policy core, performs the I/O and persists what happened.
 */
export class CovenantObject extends DurableObject<Env> {
  private readonly store: CovenantStore;
  private readonly client: HostedAiClient;
  private readonly runner: StrikeRunner;
  private readonly admission = new Admission(MAX_CONCURRENT_STRIKES);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new CovenantStore(ctx.storage.sql);
    this.client = new HostedAiClient({
      baseUrl: env.HOSTEDAI_BASE_URL,
      apiKey: env.HOSTEDAI_API_KEY ?? "",
      fetcher: env.HOSTEDAI,
    });
    this.runner = new StrikeRunner({
      client: this.client,
      store: this.store,
      models: modelCatalogue(),
      pools: new PoolCache(this.client),
      admission: this.admission,
      capacity: new CapacitySignal(),
      releaseDeferred: () => this.rearm(),
    });
    // Allocations still on record when the object starts belong to strikes of a previous life
    // (eviction, crash, deploy): nobody is using them, so they are released now.
    ctx.blockConcurrencyWhile(async () => {
      const orphans = this.store.allocations();
      if (orphans.length === 0) return;
      for (const a of orphans) {
        this.store.markReleasing(a.allocation_id);
        this.store.setTimer("release", a.allocation_id, Date.now());
      }
      await this.rearm();
    });
  }

  strike(input: StrikeInput): Promise<StrikeOutcome> {
    return this.runner.run(input);
  }

  /** A snapshot for status endpoints and tests. */
  status() {
    return {
      in_flight: this.admission.inFlight,
      queued: this.admission.queued,
      allocations: this.store.allocations(),
      totals: this.store.strikeTotals(),
      next_alarm_at: this.store.earliestTimer() ?? null,
    };
  }

  override async alarm(): Promise<void> {
    for (const timer of this.store.dueTimers(Date.now())) {
      if (timer.kind === "release") await this.retryRelease(timer.ref, timer.attempts);
    }
    await this.rearm();
  }

  private async retryRelease(allocationId: string, attempts: number): Promise<void> {
    try {
      await this.client.release(allocationId);
    } catch (err) {
      if (!isAllocationGone(err)) {
        const delay = Math.min(RELEASE_RETRY_MAX_MS, RELEASE_RETRY_BASE_MS * 2 ** attempts);
        this.store.setTimer("release", allocationId, Date.now() + delay, attempts + 1);
        return;
      }
    }
    this.store.forgetAllocation(allocationId);
    this.store.clearTimer("release", allocationId);
  }

  /** One alarm per object, always set to the earliest due timer. */
  private async rearm(): Promise<void> {
    const earliest = this.store.earliestTimer();
    if (earliest === undefined) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(earliest);
  }
}
