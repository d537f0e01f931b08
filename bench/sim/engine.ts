import { MinHeap } from "./heap";

export interface Timer {
  readonly at: number;
  cancelled: boolean;
}

interface Scheduled extends Timer {
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * Virtual time: events run in (time, order scheduled) order, so two events due at the same
 * instant run in the order they were scheduled, which is what makes a run reproducible and lets
 * zero-delay wake-ups stand in for the microtask order of the real object.
 */
export class EventLoop {
  private clock = 0;
  private seq = 0;
  private readonly queue = new MinHeap<Scheduled>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));

  get now(): number {
    return this.clock;
  }

  /** Runs `fn` at `at` (never in the past). */
  at(at: number, fn: () => void): Timer {
    const ev: Scheduled = { at: Math.max(at, this.clock), seq: this.seq++, fn, cancelled: false };
    this.queue.push(ev);
    return ev;
  }

  after(ms: number, fn: () => void): Timer {
    return this.at(this.clock + Math.max(0, ms), fn);
  }

  /** After `ms`, or right away (synchronously) when `ms` is 0: a call that takes no time. */
  call(ms: number, fn: () => void): void {
    if (ms > 0) this.after(ms, fn);
    else fn();
  }

  cancel(timer: Timer | undefined): void {
    if (timer) timer.cancelled = true;
  }

  /**
   * Runs events until none is left, the next one is due after `until`, or `stop` says so after an
   * event; returns the number run. Stopping at `until` moves the clock there.
   */
  run(until = Infinity, stop?: () => boolean): number {
    let n = 0;
    for (let ev = this.queue.peek(); ev && ev.at <= until; ev = this.queue.peek()) {
      this.queue.pop();
      if (ev.cancelled) continue;
      this.clock = ev.at;
      ev.fn();
      n++;
      if (stop?.()) return n;
    }
    if (Number.isFinite(until) && until > this.clock && !this.idle()) this.clock = until;
    return n;
  }

  /** Whether anything not cancelled is still due. */
  idle(): boolean {
    for (let ev = this.queue.peek(); ev; ev = this.queue.peek()) {
      if (!ev.cancelled) return false;
      this.queue.pop();
    }
    return true;
  }
}
