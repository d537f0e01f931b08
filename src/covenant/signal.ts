import { Waiters } from "./waiters";

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
  private readonly waiters = new Waiters<Wake>();

  /** Resolves on the next notify, after `timeoutMs`, or when `abort` fires, whichever comes first. */
  next(timeoutMs: number, abort?: AbortSignal): Promise<Wake> {
    return this.waiters.wait(timeoutMs, abort, undefined);
  }

  /** Wakes every waiter: what changed may matter to any of them (a new lease, one gone). */
  notify(): void {
    this.waiters.settleAll(undefined);
  }

  /**
   * Wakes the longest waiter only: for a freed resource that one waiter can use. If it cannot,
   * `passOn` hands the wake-up to the next of those that were waiting when it was given, so the
   * resource is offered to each of them in turn, as a wake-up for all would, one at a time.
   */
  notifyOne(): void {
    this.wakeFirst(this.waiters.newest);
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
    this.waiters.settleFirst({ horizon }, horizon);
  }
}
