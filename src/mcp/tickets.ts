import { DurableObject } from "cloudflare:workers";
import { sha256Hex } from "../auth";
import type { Env } from "../env";

/**
 * Single-use tickets for opening an MCP WebSocket without putting the API key in the URL.
 *
 * A ticket is `hsmt_<base64url(tenant)>.<base64url(32 random bytes)>`. The tenant part says which
 * tenant's `McpTickets` object to ask (the WebSocket request carries nothing else that says it);
 * the object stores only the SHA-256 of the whole ticket with its expiry, so neither the secret
 * nor a working ticket is ever at rest, and a ticket whose tenant part is changed names another
 * object, where its hash is unknown. Redeeming is a delete in that one object (one writer), so a
 * ticket opens one session at most, whichever isolate receives it.
 */
export const TICKET_PREFIX = "hsmt_";
export const TICKET_TTL_DEFAULT_S = 30;
export const TICKET_TTL_MAX_S = 300;
/** Unexpired tickets one tenant may hold at once; issuing another answers 429. */
export const MAX_OUTSTANDING_TICKETS = 100;

const SECRET_BYTES = 32;
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TICKET = /^hsmt_([A-Za-z0-9_-]{2,88})\.([A-Za-z0-9_-]{43})$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | undefined {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A new ticket for a tenant (not yet stored). */
export function newTicket(tenant: string): string {
  return `${TICKET_PREFIX}${base64url(encoder.encode(tenant))}.${base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** The tenant a well-formed ticket names; undefined for anything else. It proves nothing by itself. */
export function ticketTenant(ticket: string): string | undefined {
  const match = TICKET.exec(ticket);
  const bytes = match ? fromBase64url(match[1]!) : undefined;
  if (!bytes) return undefined;
  let tenant: string;
  try {
    tenant = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  // The encoding must be the canonical one, so one ticket has one spelling.
  return TENANT_ID.test(tenant) && base64url(encoder.encode(tenant)) === match![1] ? tenant : undefined;
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
      sql.exec(`CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`);
    } else if (sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tickets'`).toArray().length === 0) {
      return false;
    }
    this.ready = true;
    return true;
  }

  /** Stores a ticket's hash until now + ttlMs, unless the tenant already holds the most it may. */
  issue(hash: string, ttlMs: number): IssueResult {
    this.table(true);
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    sql.exec(`DELETE FROM tickets WHERE expires_at <= ?`, now);
    const held = sql.exec<{ n: number; earliest: number | null }>(`SELECT COUNT(*) AS n, MIN(expires_at) AS earliest FROM tickets`).one();
    if (held.n >= MAX_OUTSTANDING_TICKETS) return { ok: false, retryAfterMs: Math.max(0, (held.earliest ?? now) - now) };
    const expiresAt = now + ttlMs;
    sql.exec(`INSERT INTO tickets (hash, expires_at) VALUES (?, ?)`, hash, expiresAt);
    return { ok: true, expiresAt };
  }

  /** Takes a ticket: true once for a stored, unexpired hash, false ever after (and for any other). */
  redeem(hash: string): boolean {
    if (!this.table(false)) return false;
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const taken = sql.exec<{ expires_at: number }>(`DELETE FROM tickets WHERE hash = ? RETURNING expires_at`, hash).toArray()[0];
    sql.exec(`DELETE FROM tickets WHERE expires_at <= ?`, now);
    return taken !== undefined && taken.expires_at > now;
  }
}

function ticketsStub(env: Env, tenant: string) {
  return env.MCP_TICKETS.get(env.MCP_TICKETS.idFromName(tenant));
}

/** Issues a ticket for a tenant the caller has authenticated. */
export async function issueTicket(
  env: Env,
  tenant: string,
  ttlS: number,
): Promise<{ ok: true; ticket: string; expiresAt: number } | { ok: false; retryAfterMs: number }> {
  const ticket = newTicket(tenant);
  const result = await ticketsStub(env, tenant).issue(await sha256Hex(ticket), ttlS * 1000);
  return result.ok ? { ok: true, ticket, expiresAt: result.expiresAt } : result;
}

export type Redeemed = { ok: true; tenant: string } | { ok: false; reason: "malformed" | "spent" };

/**
 * Uses a ticket up: its tenant, once. `malformed`: not a ticket at all; `spent`: well formed but
 * unknown, already used or expired (which of these is not said, and cannot be told apart).
 */
export async function redeemTicket(env: Env, ticket: string): Promise<Redeemed> {
  const tenant = ticketTenant(ticket);
  if (!tenant) return { ok: false, reason: "malformed" };
  return (await ticketsStub(env, tenant).redeem(await sha256Hex(ticket))) ? { ok: true, tenant } : { ok: false, reason: "spent" };
}
