/**
 * Waiters kept in the order they began, each until it is settled, its time is up or its abort
 * fires. Leaving is O(1) whichever way a waiter goes: with a thousand strikes waiting, one of them
 * leaving must not cost a thousand steps. Signal (wake-ups) and LocalSlots (hand-overs) share it.
 */
export class Waiters<T> {
  private readonly queue = new Map<number, (value: T) => void>();
  private lastId = 0;

  get size(): number {
    return this.queue.size;
  }

  /** The id of the latest waiter to begin (0 before any): waiters with ids up to it began by now. */
  get newest(): number {
    return this.lastId;
  }

  /** Resolves with what it is settled with, or with `giveUp` after `timeoutMs` or when `abort` fires. */
  wait(timeoutMs: number, abort: AbortSignal | undefined, giveUp: T): Promise<T> {
    return new Promise((resolve) => {
      const id = ++this.lastId;
      const settle = (value: T) => {
        clearTimeout(timer);
        abort?.removeEventListener("abort", expire);
        // A waiter that gave up leaves at once, so nothing is ever settled on it.
        this.queue.delete(id);
        resolve(value);
      };
      const expire = () => settle(giveUp);
      const timer = setTimeout(expire, abort?.aborted ? 0 : Math.max(0, timeoutMs));
      abort?.addEventListener("abort", expire, { once: true });
      this.queue.set(id, settle);
    });
  }

  /** Settles the longest waiter, if one began no later than `horizon`; whether one was. */
  settleFirst(value: T, horizon = Infinity): boolean {
    const first = this.queue.entries().next();
    if (first.done || first.value[0] > horizon) return false;
    first.value[1](value);
    return true;
  }

  /** Settles every waiter. */
  settleAll(value: T): void {
    const all = [...this.queue.values()];
    this.queue.clear();
    for (const settle of all) settle(value);
  }
}
