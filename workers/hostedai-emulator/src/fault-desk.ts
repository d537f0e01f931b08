// The cluster object's side of fault injection: the configuration in force, the seeded draw
// counter, the token generation and the counters of what was injected. Everything is kept in
// the cluster's SQLite so a restarted object carries on exactly where it stopped.
import { type Outcome, fail, invalidRequest, ok } from "./errors";
import {
  FAULT_KINDS, type FaultConfig, FaultConfigSchema, type FaultKind, type GateVerdict, type MalformedKind, NO_FAULTS, type RequestFacts,
  type StreamFacts, decideGate, decideStreamCut, namedPools,
} from "./faults";
import { randomFor } from "./random";
import { validate } from "./schemas";
import type { ClusterStore } from "./store";

const CONFIG_KEY = "fault_config";
const DRAWS_KEY = "fault_draws";
const GENERATION_KEY = "token_generation";
const MALFORMED_KEY = "malformed_used";
const countKey = (kind: FaultKind) => `faults_${kind}`;

/** Validates a fault configuration, including that every pool it names exists. */
export function parseFaultConfig(input: unknown, poolIds: ReadonlySet<string>): Outcome<FaultConfig> {
  const parsed = validate(FaultConfigSchema, input);
  if (!parsed.ok) return parsed;
  const unknown = namedPools(parsed.value).find(({ pool }) => !poolIds.has(pool));
  if (unknown) return fail(invalidRequest(unknown.path, `Invalid ${unknown.path}: no pool ${unknown.pool} exists.`));
  return parsed;
}

/** FAULTS_JSON is read at start and on reset; a malformed one is a deployment error. */
export function faultsFromEnv(raw: string | undefined, poolIds: ReadonlySet<string>): FaultConfig {
  if (raw === undefined || raw.trim() === "") return NO_FAULTS;
  let input: unknown;
  try {
    input = JSON.parse(raw);
  } catch {
    throw new Error("FAULTS_JSON is not valid JSON");
  }
  const parsed = parseFaultConfig(input, poolIds);
  if (!parsed.ok) throw new Error(`FAULTS_JSON: ${parsed.error.message}`);
  return parsed.value;
}

export class FaultDesk {
  private current: FaultConfig;

  constructor(
    private readonly store: ClusterStore,
    private readonly seed: string,
  ) {
    const saved = store.text(CONFIG_KEY);
    // Parsed again so a configuration saved before a field existed gains its default.
    this.current = saved === undefined ? NO_FAULTS : FaultConfigSchema.parse(JSON.parse(saved));
  }

  get config(): FaultConfig {
    return this.current;
  }

  /** Replaces the whole configuration and restarts the draw sequence, so a run that sets its faults first is reproducible. */
  replace(config: FaultConfig): FaultConfig {
    this.current = config;
    this.store.setText(CONFIG_KEY, JSON.stringify(config));
    this.store.setNumber(DRAWS_KEY, 0);
    this.store.setNumber(MALFORMED_KEY, 0);
    return config;
  }

  isPoolDown(poolId: string): boolean {
    return this.current.pools_down.includes(poolId);
  }

  get tokenGeneration(): number {
    return this.store.number(GENERATION_KEY) ?? 0;
  }

  /** Every token issued so far becomes invalid: they carry an older generation from now on. */
  expireTokens(): number {
    return this.store.increment(GENERATION_KEY);
  }

  /** Puts the generation back after the store was cleared, so expired tokens stay expired. */
  restoreTokenGeneration(generation: number): void {
    this.store.setNumber(GENERATION_KEY, generation);
  }

  gate(facts: RequestFacts): GateVerdict {
    const verdict = decideGate(this.current, facts, this.tokenGeneration, () => this.draw());
    for (const kind of verdict.injected) this.count(kind);
    return verdict;
  }

  /** After how many tokens this streamed inference is cut (null: not at all). */
  streamCut(facts: StreamFacts): number | null {
    return decideStreamCut(this.current, facts, () => this.draw());
  }

  /**
   * Whether this structured answer comes out malformed, and how: the next of `malformed_output.count`
   * since the configuration was set, alternating between breaking the schema and not parsing
   * (an answer whose schema cannot be broken does not parse instead). Null when it comes out right.
   */
  takeMalformed(canViolateSchema: boolean): MalformedKind | null {
    const wanted = this.current.malformed_output?.count ?? 0;
    const used = this.store.number(MALFORMED_KEY) ?? 0;
    if (used >= wanted) return null;
    this.store.setNumber(MALFORMED_KEY, used + 1);
    this.count("malformed_output");
    return used % 2 === 0 && canViolateSchema ? "violates_schema" : "unparsable";
  }

  count(kind: FaultKind, by = 1): void {
    this.store.increment(countKey(kind), by);
  }

  counts(): Record<FaultKind, number> {
    return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, this.store.number(countKey(kind)) ?? 0])) as Record<FaultKind, number>;
  }

  /** The n-th number of the run's sequence: a pure function of SEED and n. */
  private draw(): number {
    const n = this.store.increment(DRAWS_KEY);
    return randomFor(this.seed, "fault", n)();
  }
}
