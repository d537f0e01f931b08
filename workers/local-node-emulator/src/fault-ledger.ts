// The device object's side of fault injection: the configuration in force, the seeded draw
// counter and the counts of what was injected, in the object's SQLite so a restart carries on.
import { fromZodError } from "./errors";
import { decideFault, FAULT_KINDS, FaultConfig, type FaultKind, type FaultPlan, type MalformedKind, NO_FAULTS } from "./faults";
import { fnv1a32, mulberry32 } from "./text";

type Counts = Record<FaultKind, number>;
type LedgerRow = { config: string; draws: number; counts: string };

const zeroCounts = (): Counts => Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Counts;

/** FAULTS_JSON is read at start and on reset; a malformed one is a deployment error. */
export function faultsFromEnv(raw: string | undefined): FaultConfig {
  if (raw === undefined || raw.trim() === "") return NO_FAULTS;
  let input: unknown;
  try {
    input = JSON.parse(raw);
  } catch {
    throw new Error("FAULTS_JSON is not valid JSON");
  }
  const parsed = FaultConfig.safeParse(input);
  if (!parsed.success) throw new Error(`FAULTS_JSON: ${fromZodError(parsed.error, input).message}`);
  return parsed.data;
}

export class FaultLedger {
  private config: FaultConfig;
  private draws: number;
  private counts: Counts;
  /** Structured answers spoilt since the configuration was set. */
  private malformedUsed: number;

  constructor(
    private readonly sql: SqlStorage,
    private readonly seed: string,
    initial: () => FaultConfig,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS faults (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      config TEXT NOT NULL,
      draws INTEGER NOT NULL,
      counts TEXT NOT NULL
    )`);
    const row = sql.exec<LedgerRow>("SELECT config, draws, counts FROM faults WHERE id = 1").toArray()[0];
    this.config = row ? (JSON.parse(row.config) as FaultConfig) : initial();
    this.draws = row?.draws ?? 0;
    this.counts = row ? { ...zeroCounts(), ...(JSON.parse(row.counts) as Partial<Counts>) } : zeroCounts();
    if (!row) this.save();
    sql.exec(`CREATE TABLE IF NOT EXISTS malformed_output (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      used INTEGER NOT NULL
    )`);
    this.malformedUsed = sql.exec<{ used: number }>("SELECT used FROM malformed_output WHERE id = 1").toArray()[0]?.used ?? 0;
  }

  get current(): FaultConfig {
    return this.config;
  }

  injectedTotals(): Counts {
    return { ...this.counts };
  }

  /** Replaces the configuration and restarts the draw sequence, so a run that sets its faults first is reproducible. */
  replace(config: FaultConfig): FaultConfig {
    this.config = config;
    this.draws = 0;
    this.save();
    this.saveMalformed(0);
    return config;
  }

  /**
   * Whether this structured answer comes out malformed, and how: the next of `malformed_output.count`
   * since the configuration was set, alternating between breaking the schema and not parsing (an
   * answer whose schema cannot be broken does not parse instead). Null when it comes out right.
   */
  takeMalformed(canViolateSchema: boolean): MalformedKind | null {
    const used = this.malformedUsed;
    if (used >= (this.config.malformed_output?.count ?? 0)) return null;
    this.saveMalformed(used + 1);
    this.record("malformed_output");
    return used % 2 === 0 && canViolateSchema ? "violates_schema" : "unparsable";
  }

  private saveMalformed(used: number): void {
    this.malformedUsed = used;
    this.sql.exec(
      "INSERT INTO malformed_output (id, used) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET used = excluded.used",
      used,
    );
  }

  /** A fresh start: the given configuration, the sequence from its beginning, nothing counted. */
  reset(config: FaultConfig): void {
    this.counts = zeroCounts();
    this.replace(config);
  }

  plan(): FaultPlan {
    const plan = decideFault(this.config, () => this.draw());
    for (const kind of plan.injected) this.counts[kind] += 1;
    this.save();
    return plan;
  }

  record(kind: FaultKind): void {
    this.counts[kind] += 1;
    this.save();
  }

  /** The n-th number of the run's sequence: a pure function of SEED and n. */
  private draw(): number {
    this.draws += 1;
    return mulberry32(fnv1a32(`${this.seed}\u0000fault\u0000${this.draws}`))();
  }

  private save(): void {
    this.sql.exec(
      `INSERT INTO faults (id, config, draws, counts) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET config = excluded.config, draws = excluded.draws, counts = excluded.counts`,
      JSON.stringify(this.config),
      this.draws,
      JSON.stringify(this.counts),
    );
  }
}
