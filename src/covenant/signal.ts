/** Wakes waiters when something they wait for may have changed (a lease slot freed, capacity returned). */
export class Signal {
  private waiters: Array<() => void> = [];

  /** Resolves on the next notify, after `timeoutMs`, or when `abort` fires, whichever comes first. */
  next(timeoutMs: number, abort?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abort?.removeEventListener("abort", done);
        // A waiter that timed out must leave, or notifyOne could spend a wake-up on it.
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, abort?.aborted ? 0 : Math.max(0, timeoutMs));
      abort?.addEventListener("abort", done, { once: true });
      this.waiters.push(done);
    });
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Wakes the longest waiter only: for a freed resource that one waiter can use. */
  notifyOne(): void {
    this.waiters.shift()?.();
  }
}
