/**
 * A key's limits at the edge: one RPC to the key's `KeyLimiter` before a strike is sent to its
 * covenant — and none at all for a key without limits, which is most keys.
 */
import type { Principal } from "../auth";
import type { KeyHoldRef } from "../covenant/types";
import type { Env } from "../env";
import { hasLimits, refusalAnswer, refusalHeaders, type RateView, type RefusalAnswer, type Used } from "../policy";
import { keyLimiterName } from "./key-limiter";

export type KeyAdmission =
  | { ok: true; hold: KeyHoldRef | undefined; view: RateView }
  | { ok: false; status: RefusalAnswer["status"]; error: RefusalAnswer["error"]; headers: Record<string, string>; view: RateView };

/**
 * Admits a strike under its key's limits, reserving `tokens` (prompt + max_tokens). Undefined when
 * the key has no limits: nothing was asked of anyone.
 */
export async function admitForKey(env: Env, principal: Principal, holdId: string, tokens: number): Promise<KeyAdmission | undefined> {
  if (!hasLimits(principal.limits)) return undefined;
  const limiter = keyLimiterName(principal.tenant, principal.keyId);
  const admission = await env.KEY_LIMITER.getByName(limiter).admit({ ...principal.limits }, holdId, tokens);
  if (admission.ok) return { ok: true, hold: admission.hold ? { limiter, holdId: admission.hold.id } : undefined, view: admission.view };
  const answer = refusalAnswer("key", admission.refusal);
  return { ok: false, status: answer.status, error: answer.error, headers: refusalHeaders(answer), view: admission.view };
}

/** Settles a key's hold (idempotent in the limiter), trying once more if the first call fails. */
export async function settleKeyHold(env: Env, ref: KeyHoldRef, used: Used): Promise<void> {
  const call = () => env.KEY_LIMITER.getByName(ref.limiter).settle(ref.holdId, used);
  try {
    await call();
  } catch {
    // Unsettled, the hold expires with its lease: its slot comes back, its tokens stay spent.
    await new Promise((r) => setTimeout(r, 250));
    await call().catch(() => {});
  }
}

/**
 * A revoked key's limiter refuses at once, whatever an isolate still caches of the key, and keeps
 * nothing but that refusal. Keys that never had limits have no limiter to tell.
 */
export async function revokeKeyLimits(env: Env, tenant: string, keyId: string): Promise<void> {
  await env.KEY_LIMITER.getByName(keyLimiterName(tenant, keyId)).revoke();
}

/** Keeps a running strike's key hold alive; a failure only shortens it to its lease. */
export async function renewKeyHold(env: Env, ref: KeyHoldRef): Promise<void> {
  await env.KEY_LIMITER.getByName(ref.limiter).renew(ref.holdId).catch(() => {});
}
