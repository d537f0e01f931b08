/**
 * What `Signal.next` resolves with: a wake-up meant for one waiter (`passOn` hands it on when that
 * waiter cannot use what was freed), or a plain one (a wake-up for all, a timeout, an abort).
 */
export type Wake = { readonly horizon: number } | undefined;

/**
 * Wakes waiters when something they wait for may have changed (a lease slot freed, capacity
 * returned). Waiters are kept in the order they began waiting, and leave in O(1): with a thousand
 * strikes waiting, a wake-up must not cost a thousand steps per waiter.
 */
export class Signal {
  private waiters = new Map<number, (wake: Wake) => void>();
  private lastId = 0;

  /** Resolves on the next notify, after `timeoutMs`, or when `abort` fires, whichever comes first. */
  next(timeoutMs: number, abort?: AbortSignal): Promise<Wake> {
    return new Promise((resolve) => {
      const id = ++this.lastId;
      const done = (wake: Wake) => {
        clearTimeout(timer);
        abort?.removeEventListener("abort", aborted);
        // A waiter that timed out must leave, or notifyOne could spend a wake-up on it.
        this.waiters.delete(id);
        resolve(wake);
      };
      const aborted = () => done(undefined);
      const timer = setTimeout(aborted, abort?.aborted ? 0 : Math.max(0, timeoutMs));
      abort?.addEventListener("abort", aborted, { once: true });
      this.waiters.set(id, done);
    });
  }

  /** Wakes every waiter: what changed may matter to any of them (a new lease, one gone). */
  notify(): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiters) w(undefined);
  }

  /**
   * Wakes the longest waiter only: for a freed resource that one waiter can use. If it cannot,
   * `passOn` hands the wake-up to the next of those that were waiting when it was given, so the
   * resource is offered to each of them in turn, as a wake-up for all would, one at a time.
   */
  notifyOne(): void {
    this.wakeFirst(this.lastId);
  }

  /** The woken waiter could not use what was freed: the next one waiting since before then may. */
  passOn(wake: Wake): void {
    if (wake) this.wakeFirst(wake.horizon);
  }

  get waiting(): number {
    return this.waiters.size;
  }

  private wakeFirst(horizon: number): void {
    // Waiters are in the order they began; one that began after the wake-up was given has seen
    // the freed resource already (it decided to wait with it in view).
    const first = this.waiters.entries().next();
    if (!first.done && first.value[0] <= horizon) first.value[1]({ horizon });
  }
}
