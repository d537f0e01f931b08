/**
 * A covenant's own limits (its contract's `limits`), and the settling of a key's hold, around each
 * strike the covenant object runs. The decisions are the policy core's (src/policy/limits.ts);
 * this keeps their state: the buckets in SQLite, so an eviction does not hand out a fresh burst,
 * and the holds in memory, since they are strikes running in this very object and end with it.
 */
import {
  admit,
  emptyLimitState,
  hasLimits,
  HOLD_RENEW_MS,
  refusalAnswer,
  renew,
  settle,
  type Bucket,
  type LimitState,
  type RateView,
  type Used,
} from "../policy";
import type { CovenantLimits } from "../schema";
import type { KeyHoldRef, StrikeFailure, StrikeInput, StrikeOutcome } from "./types";

/** What the object needs to settle a key's hold: its limiter, and a way to finish after the answer. */
export interface KeyLimiterAccess {
  settle(ref: KeyHoldRef, used: Used): Promise<void>;
  renew(ref: KeyHoldRef): Promise<void>;
  waitUntil(work: Promise<unknown>): void;
}

/** An admitted strike: its covenant rate view (limited covenants only) and how to end it. */
export interface Gate {
  view: RateView | undefined;
  /** Frees the strike's slot, trues up its tokens, settles the key's hold. Call exactly once. */
  close(outcome: StrikeOutcome | undefined): void;
}

/** What a strike used, for settling: tokens and dollars of what ran (a replay ran nothing). */
export function usedBy(outcome: StrikeOutcome | undefined): Used {
  if (!outcome || outcome.replayed) return { tokens: 0, usd: 0 };
  if (outcome.ok) {
    const u = outcome.strike.usage;
    return { tokens: u.prompt_tokens + u.completion_tokens, usd: outcome.strike.cost_usd };
  }
  // A fused strike that failed may still have run (and paid for) some of its fragments.
  const totals = outcome.error.fusion?.totals;
  return totals ? { tokens: totals.prompt_tokens + totals.completion_tokens, usd: totals.cost_usd } : { tokens: 0, usd: 0 };
}

export class CovenantLimiter {
  private state: LimitState;

  constructor(
    private readonly sql: SqlStorage,
    private readonly keys: KeyLimiterAccess,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS rate_buckets (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), body TEXT NOT NULL)`);
    const row = sql.exec<{ body: string }>(`SELECT body FROM rate_buckets`).toArray()[0];
    const saved = row ? (JSON.parse(row.body) as { requests: Bucket | null; tokens: Bucket | null }) : undefined;
    this.state = { ...emptyLimitState(Date.now()), ...(saved && { requests: saved.requests, tokens: saved.tokens }) };
  }

  /**
   * Admits a strike under the covenant's limits, or refuses it (429 naming the limit, and the
   * key's hold settled at once). A covenant without limits costs nothing here: no state, no write.
   */
  open(limits: CovenantLimits | undefined, input: StrikeInput): Gate | StrikeFailure {
    const limited = hasLimits(limits);
    let view: RateView | undefined;
    let holdId: string | undefined;
    if (limited) {
      const now = Date.now();
      const before = this.state;
      const { state, admission } = admit(before, limits, { holdId: input.strikeId, tokens: input.promptTokens + input.maxTokens }, now);
      this.state = state;
      if (state.requests !== before.requests || state.tokens !== before.tokens) this.persist();
      view = admission.view;
      if (!admission.ok) {
        this.settleKey(input, { tokens: 0, usd: 0 });
        const answer = refusalAnswer("covenant", admission.refusal);
        return { ok: false, status: answer.status, error: answer.error, rateLimit: view };
      }
      holdId = admission.hold?.id;
    }
    // Whoever runs the strike keeps its holds alive: the key's lives in another object.
    const renewing = holdId !== undefined || input.keyHold !== undefined ? setInterval(() => this.renew(input, holdId), HOLD_RENEW_MS) : undefined;
    let closed = false;
    return {
      view,
      close: (outcome) => {
        if (closed) return;
        closed = true;
        if (renewing !== undefined) clearInterval(renewing);
        const used = usedBy(outcome);
        if (holdId !== undefined) {
          const before = this.state;
          this.state = settle(before, holdId, used, Date.now()).state;
          if (this.state.tokens !== before.tokens) this.persist();
        }
        this.settleKey(input, used);
      },
    };
  }

  /** A refused or unanswerable strike still ends its key's hold. */
  settleKey(input: StrikeInput, used: Used): void {
    if (input.keyHold) this.keys.waitUntil(this.keys.settle(input.keyHold, used));
  }

  /** The covenant was deleted: its limits start afresh if it is created again. */
  forget(): void {
    this.sql.exec(`DELETE FROM rate_buckets`);
    this.state = { ...emptyLimitState(Date.now()), holds: this.state.holds };
  }

  private renew(input: StrikeInput, holdId: string | undefined): void {
    if (holdId !== undefined) this.state = renew(this.state, holdId, Date.now()).state;
    if (input.keyHold) this.keys.waitUntil(this.keys.renew(input.keyHold));
  }

  private persist(): void {
    this.sql.exec(
      `INSERT INTO rate_buckets (singleton, body) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET body = excluded.body`,
      JSON.stringify({ requests: this.state.requests, tokens: this.state.tokens }),
    );
  }
}
