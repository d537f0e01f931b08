/**
 * Single-flight: identical fragments in flight at the same time are computed once. The first
 * caller for a key starts the work; later callers join it and receive the same outcome.
 *
 * Each caller keeps its own deadline: a caller whose signal aborts stops waiting at once, but
 * the shared work is aborted only when every caller waiting on it has given up — one impatient
 * request must not fail the others that joined. Keys come from tenantKey, so flights are never
 * shared across tenants.
 */

interface Flight<V> {
  promise: Promise<V>;
  controller: AbortController;
  waiting: number;
}

export class SingleFlight<V> {
  private readonly flights = new Map<string, Flight<V>>();

  get inFlight(): number {
    return this.flights.size;
  }

  /** Runs `work` for `key` unless it is already running; `shared` says whether this caller joined another's. */
  async run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<V>): Promise<{ value: V; shared: boolean }> {
    signal.throwIfAborted();
    let flight = this.flights.get(key);
    const shared = flight !== undefined;
    if (flight === undefined) {
      const controller = new AbortController();
      const started: Flight<V> = { controller, waiting: 0, promise: Promise.resolve(undefined as V) };
      started.promise = (async () => {
        try {
          return await work(controller.signal);
        } finally {
          // The flight ends with its work: a later identical fragment is a new flight (or a cache hit).
          if (this.flights.get(key) === started) this.flights.delete(key);
        }
      })();
      this.flights.set(key, started);
      flight = started;
    }
    const joined = flight;
    joined.waiting++;
    let onAbort: (() => void) | undefined;
    try {
      const value = await new Promise<V>((resolve, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        joined.promise.then(resolve, reject);
      });
      return { value, shared };
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      joined.waiting--;
      if (joined.waiting === 0 && signal.aborted) {
        joined.controller.abort(signal.reason);
        // Nobody waits for it any more: let a new caller start afresh rather than join a dying flight.
        if (this.flights.get(key) === joined) this.flights.delete(key);
      }
    }
  }
}
