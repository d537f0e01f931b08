// The one Mac behind the tunnel, as a Durable Object. It only books time on the device, keeps
// counters and decides injected faults; the Worker does the waiting, so the object is never held
// while a generation "runs".
import { DurableObject } from "cloudflare:workers";
import { readConfig, startupModel, type Env } from "./env";
import { FaultLedger, faultsFromEnv } from "./fault-ledger";
import type { FaultConfig, FaultKind, FaultPlan, MalformedKind } from "./faults";
import {
  initialDeviceState,
  planSlot,
  type DeviceSlot,
  type DeviceState,
  type SlotNeed,
} from "./schedule";

/** What GET /admin/stats reports; snake_case because it is served as JSON as is. */
export interface DeviceStats {
  requests_total: number;
  prompt_tokens_total: number;
  completion_tokens_total: number;
  loaded_model: string;
  busy_until: number;
  latency_scale: number;
  faults_injected_total: Record<FaultKind, number>;
  /** Completions booked and not yet answered in full (a stream counts until it ends or is cancelled). */
  in_flight: number;
  /** The most completions in flight at once since the node started or was reset. */
  max_in_flight: number;
}

type DeviceRow = {
  loaded_model: string;
  busy_until: number;
  requests_total: number;
  prompt_tokens_total: number;
  completion_tokens_total: number;
  latency_scale: number;
};

export class LocalDevice extends DurableObject<Env> {
  private state: DeviceState;
  private readonly faults: FaultLedger;
  // How many requests the node is serving at once: what a gateway's concurrency limit is checked
  // against. In memory: a restarted node has nothing in flight.
  private inFlight = 0;
  private maxInFlight = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS device (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      loaded_model TEXT NOT NULL,
      busy_until REAL NOT NULL,
      requests_total INTEGER NOT NULL,
      prompt_tokens_total INTEGER NOT NULL,
      completion_tokens_total INTEGER NOT NULL,
      latency_scale REAL NOT NULL
    )`);
    this.state = this.load() ?? this.save(this.freshState());
    this.faults = new FaultLedger(ctx.storage.sql, readConfig(env).seed, () => faultsFromEnv(env.FAULTS_JSON));
  }

  /** Asked once per API request, before anything else: which injected fault it meets. */
  planFault(): FaultPlan {
    return this.faults.plan();
  }

  /** A fault the Worker applied itself (a stream it cut), for the counters. */
  recordFault(kind: FaultKind): void {
    this.faults.record(kind);
  }

  getFaults(): FaultConfig {
    return this.faults.current;
  }

  /** Replaces the whole fault configuration (validated by the Worker). */
  setFaults(config: FaultConfig): FaultConfig {
    return this.faults.replace(config);
  }

  /**
   * Books the next free slot on the device for one generation and counts it as served. A
   * structured answer (`malformed` given: the completion tokens of each malformed form,
   * violates_schema null when it has none) may be spoilt by the malformed_output fault first:
   * the slot is then booked for the malformed answer, and `malformed` says which.
   */
  reserve(need: SlotNeed & { malformed?: { violates_schema: number | null; unparsable: number } }): DeviceSlot & { malformed: MalformedKind | null } {
    const { malformed: forms, ...slotNeed } = need;
    const malformed = forms ? this.faults.takeMalformed(forms.violates_schema !== null) : null;
    const completionTokens =
      malformed === "violates_schema" ? forms!.violates_schema! : malformed === "unparsable" ? forms!.unparsable : slotNeed.completionTokens;
    const { slot, next } = planSlot(this.state, { ...slotNeed, completionTokens }, Date.now());
    this.state = this.save(next);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return { ...slot, malformed };
  }

  /** A booked completion was answered in full, or its stream ended or was cancelled. */
  finished(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  stats(): DeviceStats {
    const s = this.state;
    return {
      requests_total: s.requestsTotal,
      prompt_tokens_total: s.promptTokensTotal,
      completion_tokens_total: s.completionTokensTotal,
      loaded_model: s.loadedModel,
      busy_until: s.busyUntil,
      latency_scale: s.latencyScale,
      faults_injected_total: this.faults.injectedTotals(),
      in_flight: this.inFlight,
      max_in_flight: this.maxInFlight,
    };
  }

  /** Changes the time scale for requests booked from now on; booked slots keep their times. */
  configure(change: { latencyScale: number }): DeviceStats {
    this.state = this.save({ ...this.state, latencyScale: change.latencyScale });
    return this.stats();
  }

  /** Back to a freshly started node: startup model loaded, idle, counters at zero, faults from FAULTS_JSON. */
  reset(): DeviceStats {
    this.state = this.save(this.freshState());
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.faults.reset(faultsFromEnv(this.env.FAULTS_JSON));
    return this.stats();
  }

  private freshState(): DeviceState {
    const config = readConfig(this.env);
    return initialDeviceState(startupModel(config), config.latencyScale);
  }

  private load(): DeviceState | undefined {
    const row = this.ctx.storage.sql.exec<DeviceRow>("SELECT * FROM device WHERE id = 1").toArray()[0];
    if (!row) return undefined;
    return {
      loadedModel: row.loaded_model,
      busyUntil: row.busy_until,
      requestsTotal: row.requests_total,
      promptTokensTotal: row.prompt_tokens_total,
      completionTokensTotal: row.completion_tokens_total,
      latencyScale: row.latency_scale,
    };
  }

  private save(state: DeviceState): DeviceState {
    this.ctx.storage.sql.exec(
      `INSERT INTO device (id, loaded_model, busy_until, requests_total, prompt_tokens_total,
         completion_tokens_total, latency_scale)
       VALUES (1, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET
         loaded_model = excluded.loaded_model,
         busy_until = excluded.busy_until,
         requests_total = excluded.requests_total,
         prompt_tokens_total = excluded.prompt_tokens_total,
         completion_tokens_total = excluded.completion_tokens_total,
         latency_scale = excluded.latency_scale`,
      state.loadedModel,
      state.busyUntil,
      state.requestsTotal,
      state.promptTokensTotal,
      state.completionTokensTotal,
      state.latencyScale,
    );
    return state;
  }
}

/** The node has exactly one device, so every request reaches the same object. */
export function deviceStub(env: Env): DurableObjectStub<LocalDevice> {
  return env.DEVICE.get(env.DEVICE.idFromName("device"));
}
