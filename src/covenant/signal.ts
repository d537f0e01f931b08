/** Wakes every waiter when something they wait for may have changed (a lease freed, capacity returned). */
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

  get waiting(): number {
    return this.waiters.length;
  }
}
