import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import {
  admit,
  emptyLimitState,
  rateView,
  renew,
  revoke,
  settle,
  slotsInUse,
  spendAt,
  type Admission,
  type Bucket,
  type Hold,
  type LimitState,
  type RateView,
  type Spend,
  type Used,
} from "../policy";
import type { Limits } from "../schema";

/** The object's name for a key: tenant scoping is part of its identity, as for covenants. */
export function keyLimiterName(tenant: string, keyId: string): string {
  return `${tenant}:${keyId}`;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS limiter (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS holds (
  id TEXT PRIMARY KEY,
  tokens REAL NOT NULL,
  slot INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

interface Saved {
  requests: Bucket | null;
  tokens: Bucket | null;
  spend: Spend;
  revoked: boolean;
}

export interface KeyLimiterStatus {
  view: RateView;
  /** Strikes holding a concurrency slot now. */
  slots: number;
  /** Holds not yet settled (strikes admitted and still running, or lost and not yet expired). */
  holds: number;
  spend: { day_usd: number; month_usd: number };
  revoked: boolean;
}

/**
 * One per limited key (named `<tenant>:<key id>`): the single writer of that key's limits across
 * every isolate and covenant, so they are exact. A strike is admitted here before it is sent to
 * its covenant (one RPC, only for keys that have limits); the covenant object renews the hold
 * while the strike runs and settles it when it ends. Everything is in SQLite, written before an
 * answer leaves, so an eviction or restart neither resets the buckets nor frees a running
 * strike's slot; a hold whose holder is gone expires with its lease (HOLD_LEASE_MS).
 *
 * The key's limits come with each admission (the edge's view of the key, as cached), so an edited
 * limit applies from the next strike; settling and renewing need none.
 */
export class KeyLimiter extends DurableObject<Env> {
  private state: LimitState;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(SCHEMA);
    const row = sql.exec<{ body: string }>(`SELECT body FROM limiter`).toArray()[0];
    const saved = row ? (JSON.parse(row.body) as Saved) : undefined;
    const holds = new Map<string, Hold>();
    for (const h of sql.exec<{ id: string; tokens: number; slot: number; expires_at: number }>(`SELECT * FROM holds`)) {
      holds.set(h.id, { id: h.id, tokens: h.tokens, slot: h.slot === 1, expiresAt: h.expires_at });
    }
    this.state = { ...emptyLimitState(Date.now()), ...saved, holds };
  }

  /** Admits a strike under `limits` (reserving `tokens`, prompt + max_tokens) or refuses it. */
  admit(limits: Limits, holdId: string, tokens: number): Admission {
    const sql = this.ctx.storage.sql;
    const { state, admission, dropped } = admit(this.state, limits, { holdId, tokens }, Date.now());
    this.state = state;
    for (const h of dropped) sql.exec(`DELETE FROM holds WHERE id = ?`, h.id);
    if (admission.ok && admission.hold) {
      const h = admission.hold;
      sql.exec(`INSERT OR REPLACE INTO holds (id, tokens, slot, expires_at) VALUES (?, ?, ?, ?)`, h.id, h.tokens, h.slot ? 1 : 0, h.expiresAt);
    }
    this.save();
    return admission;
  }

  /** Ends a strike's hold with what it used; a second settle of the same hold does nothing. */
  settle(holdId: string, used: Used): void {
    const before = this.state;
    const { state, hold } = settle(before, holdId, used, Date.now());
    if (state === before) return;
    this.state = state;
    this.ctx.storage.sql.exec(`DELETE FROM holds WHERE id = ?`, holdId);
    if (hold) this.save();
  }

  /** Keeps a running strike's hold from expiring. */
  renew(holdId: string): void {
    const { state, hold } = renew(this.state, holdId, Date.now());
    if (!hold) return;
    this.state = state;
    this.ctx.storage.sql.exec(`UPDATE holds SET expires_at = ? WHERE id = ?`, hold.expiresAt, holdId);
  }

  /** Refuses every strike from now on, whatever isolates still hold the key in their cache. */
  revoke(): void {
    this.state = revoke(this.state);
    this.save();
  }

  status(limits: Limits): KeyLimiterStatus {
    const now = Date.now();
    const spend = spendAt(this.state.spend, now);
    let holds = 0;
    for (const h of this.state.holds.values()) if (h.expiresAt > now) holds++;
    return {
      view: rateView(this.state, limits, now),
      slots: slotsInUse(this.state.holds, now),
      holds,
      spend: { day_usd: spend.dayUsd, month_usd: spend.monthUsd },
      revoked: this.state.revoked,
    };
  }

  private save(): void {
    const { requests, tokens, spend, revoked } = this.state;
    const body: Saved = { requests, tokens, spend, revoked };
    this.ctx.storage.sql.exec(
      `INSERT INTO limiter (singleton, body) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET body = excluded.body`,
      JSON.stringify(body),
    );
  }
}
