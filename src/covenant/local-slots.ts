import { Waiters } from "./waiters";

/**
 * How many strikes of one covenant may be on the local node at once, unless the operator says
 * otherwise. High enough that a hundred concurrent requests on one covenant never queue (queueing
 * costs each waiting strike a timer and a promise), low enough that a burst of a thousand does not
 * become a thousand connections. A node that serves one request at a time is better served by a
 * lower one.
 */
export const DEFAULT_LOCAL_NODE_MAX_CONCURRENCY = 128;
const MAX_SETTING = 1024;

/**
 * `LOCAL_NODE_MAX_CONCURRENCY`: a whole number from 1 to 1024; anything else (unset, empty, not a
 * whole number, out of range) is the default.
 */
export function localConcurrencyFrom(raw: string | undefined): number {
  const n = Number(raw?.trim() || Number.NaN);
  return Number.isInteger(n) && n >= 1 && n <= MAX_SETTING ? n : DEFAULT_LOCAL_NODE_MAX_CONCURRENCY;
}

/**
 * The local node's slots, as one covenant object hands them out. A local node is one machine
 * (mlx_lm.server answers one request at a time, llama.cpp a few): a burst of a thousand strikes
 * sent to it at once is a thousand connections it, or the tunnel in front of it, may drop. Strikes
 * beyond the limit wait here, in the order they came, for as long as their deadline allows.
 */
export class LocalSlots {
  private inUse = 0;
  /** Strikes waiting, in the order they came; settled `true` when a freed slot is handed to them. */
  private readonly waiters = new Waiters<boolean>();

  constructor(readonly max: number) {}

  get busy(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * A slot, waiting for one until `until` (epoch ms) or `abort`; the function given back frees it
   * (once, however often it is called). Undefined when none came in time.
   */
  async take(until: number, abort?: AbortSignal): Promise<(() => void) | undefined> {
    // A freed slot goes straight to the longest waiter (freer), so while anyone waits every slot is
    // taken: a newcomer queues behind those already waiting.
    if (this.inUse < this.max) {
      this.inUse++;
      return this.freer();
    }
    return (await this.waiters.wait(until - Date.now(), abort, false)) ? this.freer() : undefined;
  }

  /** Frees a slot once: straight to the longest waiter, who needs no second look, or back to the pool. */
  private freer(): () => void {
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      if (!this.waiters.settleFirst(true)) this.inUse--;
    };
  }
}
