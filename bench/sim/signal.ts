import type { EventLoop, Timer } from "./engine";

/**
 * The covenant object's `Signal` in virtual time: waiters wake on the next notify or after their
 * timeout. A notify wakes them through zero-delay events, in the order they began waiting, as the
 * object's promise continuations run after the code that notified.
 */
export class SimSignal {
  private waiters: { timer: Timer; wake: () => void }[] = [];

  constructor(private readonly loop: EventLoop) {}

  next(timeoutMs: number, wake: () => void): void {
    const waiter = {
      timer: this.loop.after(Math.max(0, timeoutMs), () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        wake();
      }),
      wake,
    };
    this.waiters.push(waiter);
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      this.loop.cancel(w.timer);
      this.loop.after(0, w.wake);
    }
  }

  get waiting(): number {
    return this.waiters.length;
  }
}
