/** Wakes waiters when something they wait for may have changed (a lease slot freed, capacity returned). */
export class Signal {
  private waiters: Array<() => void> = [];

  /** Resolves on the next notify, or after `timeoutMs`, whichever comes first. */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      function done() {
        clearTimeout(timer);
        resolve();
      }
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

  get waiting(): number {
    return this.waiters.length;
  }
}
