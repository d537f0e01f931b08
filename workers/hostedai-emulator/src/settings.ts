// The run-time settings the cluster object keeps in its SQLite: latency and time scales and the
// emulated clock's anchor. Kept apart from the cluster so the object's code stays about the cluster.
import { type ClockAnchor, emulatedAt, realAt, rescaleClock, startClock } from "./clock";
import { type Env, type RuntimeConfig, runtimeConfigFromEnv } from "./config";
import type { ConfigUpdate } from "./schemas";
import type { ClusterStore } from "./store";
import type { ConfigView } from "./views";

export class RuntimeSettings {
  private config: RuntimeConfig;
  private clock: ClockAnchor;

  /** Loads what was stored, falling back to env for anything missing. */
  constructor(
    private readonly store: ClusterStore,
    private readonly env: Env,
  ) {
    const fromEnv = runtimeConfigFromEnv(env);
    const realMs = store.number("clock_real_ms") ?? Date.now();
    this.clock = {
      realMs,
      emulatedMs: store.number("clock_emulated_ms") ?? realMs,
      timeScale: store.number("time_scale") ?? fromEnv.time_scale,
    };
    this.config = { latency_scale: store.number("latency_scale") ?? fromEnv.latency_scale, time_scale: this.clock.timeScale };
  }

  /** Back to env's values, with the emulated clock starting at the real time. */
  restoreFromEnv(realNow: number): void {
    this.config = runtimeConfigFromEnv(this.env);
    this.store.setNumber("latency_scale", this.config.latency_scale);
    this.setClock(startClock(realNow, this.config.time_scale));
  }

  /** Returns whether the clock's speed changed, in which case alarms must be re-set. */
  update(update: ConfigUpdate, realNow: number): boolean {
    if (update.latency_scale !== undefined) {
      this.config.latency_scale = update.latency_scale;
      this.store.setNumber("latency_scale", update.latency_scale);
    }
    if (update.time_scale === undefined || update.time_scale === this.clock.timeScale) return false;
    this.setClock(rescaleClock(this.clock, realNow, update.time_scale));
    this.config.time_scale = update.time_scale;
    return true;
  }

  get latencyScale(): number {
    return this.config.latency_scale;
  }

  get timeScale(): number {
    return this.config.time_scale;
  }

  emulatedAt(realMs: number): number {
    return emulatedAt(this.clock, realMs);
  }

  realAt(emulatedMs: number): number {
    return realAt(this.clock, emulatedMs);
  }

  view(realNow: number, seed: string): ConfigView {
    return {
      latency_scale: this.config.latency_scale,
      time_scale: this.config.time_scale,
      seed,
      emulated_now: new Date(this.emulatedAt(realNow)).toISOString(),
    };
  }

  private setClock(clock: ClockAnchor): void {
    this.clock = clock;
    this.store.setNumber("clock_real_ms", clock.realMs);
    this.store.setNumber("clock_emulated_ms", clock.emulatedMs);
    this.store.setNumber("time_scale", clock.timeScale);
  }
}
