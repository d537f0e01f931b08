import { DurableObject } from "cloudflare:workers";
import { principalOf, recordOf, sha256Hex, type Principal, type PrincipalRecord } from "../auth";
import { newTaggedSecret, taggedTenant } from "../auth/tagged-secret";
import type { Env } from "../env";

/**
 * Single-use tickets for opening an MCP WebSocket without putting the API key in the URL.
 *
 * A ticket is `hsmt_<base64url(tenant)>.<base64url(32 random bytes)>` (src/auth/tagged-secret.ts):
 * the tenant part says which tenant's `McpTickets` object to ask, and the object stores only the
 * SHA-256 of the whole ticket with its expiry, so neither the secret nor a working ticket is ever
 * at rest. Redeeming is a delete in that one object (one writer), so a
 * ticket opens one session at most, whichever isolate receives it.
 */
export const TICKET_PREFIX = "hsmt_";
export const TICKET_TTL_DEFAULT_S = 30;
export const TICKET_TTL_MAX_S = 300;
/** Unexpired tickets one tenant may hold at once; issuing another answers 429. */
export const MAX_OUTSTANDING_TICKETS = 100;

/** A new ticket for a tenant (not yet stored). */
export function newTicket(tenant: string): string {
  return newTaggedSecret(TICKET_PREFIX, tenant);
}

/** The tenant a well-formed ticket names; undefined for anything else. It proves nothing by itself. */
export function ticketTenant(ticket: string): string | undefined {
  return taggedTenant(TICKET_PREFIX, ticket);
}

export type IssueResult = { ok: true; expiresAt: number } | { ok: false; retryAfterMs: number };

/**
 * One per tenant (named by the tenant id): the tenant's outstanding tickets, by hash, with their
 * expiry in ms since the epoch. Expired rows are swept on every issue and redemption, and at
 * most MAX_OUTSTANDING_TICKETS are held, so the table stays small. The table is created by the
 * first issue only: redeeming a made-up ticket for a tenant that never asked for one writes
 * nothing, so forged tickets cannot fill storage with empty objects.
 */
export class McpTickets extends DurableObject<Env> {
  private ready = false;

  private table(create: boolean): boolean {
    if (this.ready) return true;
    const sql = this.ctx.storage.sql;
    if (create) {
      sql.exec(`CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, principal TEXT)`);
      // Tables made before tickets carried their key's principal gain the column.
      const columns = sql.exec<{ name: string }>(`PRAGMA table_info(tickets)`).toArray().map((c) => c.name);
      if (!columns.includes("principal")) sql.exec(`ALTER TABLE tickets ADD COLUMN principal TEXT`);
    } else if (sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tickets'`).toArray().length === 0) {
      return false;
    }
    this.ready = true;
    return true;
  }

  /**
   * Stores a ticket's hash until now + ttlMs with the principal of the key that asked (the session
   * it opens runs with that key's scopes and limits), unless the tenant holds the most it may.
   */
  issue(hash: string, ttlMs: number, principal: PrincipalRecord): IssueResult {
    this.table(true);
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    sql.exec(`DELETE FROM tickets WHERE expires_at <= ?`, now);
    const held = sql.exec<{ n: number; earliest: number | null }>(`SELECT COUNT(*) AS n, MIN(expires_at) AS earliest FROM tickets`).one();
    if (held.n >= MAX_OUTSTANDING_TICKETS) return { ok: false, retryAfterMs: Math.max(0, (held.earliest ?? now) - now) };
    const expiresAt = now + ttlMs;
    sql.exec(`INSERT INTO tickets (hash, expires_at, principal) VALUES (?, ?, ?)`, hash, expiresAt, JSON.stringify(principal));
    return { ok: true, expiresAt };
  }

  /** Takes a ticket: its principal once for a stored, unexpired hash, null ever after (and for any other). */
  redeem(hash: string): PrincipalRecord | null {
    if (!this.table(false)) return null;
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const taken = sql.exec<{ expires_at: number; principal: string | null }>(`DELETE FROM tickets WHERE hash = ? RETURNING expires_at, principal`, hash).toArray()[0];
    sql.exec(`DELETE FROM tickets WHERE expires_at <= ?`, now);
    if (taken === undefined || taken.expires_at <= now || taken.principal === null) return null;
    return JSON.parse(taken.principal) as PrincipalRecord;
  }
}

function ticketsStub(env: Env, tenant: string) {
  return env.MCP_TICKETS.get(env.MCP_TICKETS.idFromName(tenant));
}

/** Issues a ticket for the key the caller authenticated with. */
export async function issueTicket(
  env: Env,
  principal: Principal,
  ttlS: number,
): Promise<{ ok: true; ticket: string; expiresAt: number } | { ok: false; retryAfterMs: number }> {
  const tenant = principal.tenant;
  const ticket = newTicket(tenant);
  const result = await ticketsStub(env, tenant).issue(await sha256Hex(ticket), ttlS * 1000, recordOf(principal));
  return result.ok ? { ok: true, ticket, expiresAt: result.expiresAt } : result;
}

export type Redeemed = { ok: true; principal: Principal } | { ok: false; reason: "malformed" | "spent" };

/**
 * Uses a ticket up: its tenant, once. `malformed`: not a ticket at all; `spent`: well formed but
 * unknown, already used or expired (which of these is not said, and cannot be told apart).
 */
export async function redeemTicket(env: Env, ticket: string): Promise<Redeemed> {
  const tenant = ticketTenant(ticket);
  if (!tenant) return { ok: false, reason: "malformed" };
  const record = await ticketsStub(env, tenant).redeem(await sha256Hex(ticket));
  return record && record.tenant === tenant ? { ok: true, principal: principalOf(record) } : { ok: false, reason: "spent" };
}
