/** How many strikes of one covenant may be on the local node at once, unless the operator says otherwise. */
// High enough that a hundred concurrent requests on one covenant never queue (queueing costs each
// waiting strike a timer and a promise), low enough that a burst of a thousand does not become a
// thousand connections. A node that serves one request at a time is better served by a lower one.
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
  /** Strikes waiting, in the order they came (a Map keeps insertion order; leaving is O(1)). */
  private readonly queue = new Map<number, (granted: boolean) => void>();
  private lastId = 0;

  constructor(readonly max: number) {}

  get busy(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.queue.size;
  }

  /**
   * A slot, waiting for one until `until` (epoch ms) or `abort`; the function given back frees it
   * (once, however often it is called). Undefined when none came in time.
   */
  take(until: number, abort?: AbortSignal): Promise<(() => void) | undefined> {
    // Strikes already waiting go first: a newcomer never takes a slot one of them is owed.
    if (this.inUse < this.max && this.queue.size === 0) {
      this.inUse++;
      return Promise.resolve(this.freer());
    }
    return new Promise((resolve) => {
      const id = ++this.lastId;
      const finish = (granted: boolean) => {
        clearTimeout(timer);
        abort?.removeEventListener("abort", giveUp);
        this.queue.delete(id);
        resolve(granted ? this.freer() : undefined);
      };
      const giveUp = () => finish(false);
      const timer = setTimeout(giveUp, abort?.aborted ? 0 : Math.max(0, until - Date.now()));
      abort?.addEventListener("abort", giveUp, { once: true });
      this.queue.set(id, finish);
    });
  }

  /** Frees a slot once: straight to the longest waiter, who needs no second look, or back to the pool. */
  private freer(): () => void {
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const first = this.queue.values().next();
      if (first.done) this.inUse--;
      else first.value(true);
    };
  }
}
