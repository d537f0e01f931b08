/**
 * Hosted.AI JWTs, shared by every covenant object in this isolate: one token request serves
 * all strikes until the token nears expiry. Concurrent callers share one in-flight request.
 */
interface CachedToken {
  token: string;
  /** Epoch ms after which the token must not be sent any more. */
  refreshAt: number;
}

/** Stop using a token this long before the upstream says it expires (clock skew, request time). */
const EXPIRY_MARGIN_MS = 60_000;

const tokens = new Map<string, CachedToken>();
const inflight = new Map<string, Promise<string>>();

export function refreshAtFor(expiresInS: number, now: number): number {
  const lifetimeMs = expiresInS * 1000;
  // Short-lived tokens keep at least half their lifetime in use.
  return now + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2);
}

export async function cachedToken(
  key: string,
  fetchToken: () => Promise<{ token: string; expiresInS: number }>,
): Promise<string> {
  const hit = tokens.get(key);
  if (hit && Date.now() < hit.refreshAt) return hit.token;
  let pending = inflight.get(key);
  if (!pending) {
    pending = fetchToken()
      .then(({ token, expiresInS }) => {
        tokens.set(key, { token, refreshAt: refreshAtFor(expiresInS, Date.now()) });
        return token;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, pending);
  }
  return pending;
}

/** Forget a token the upstream refused, unless another caller already replaced it. */
export function dropToken(key: string, token: string): void {
  if (tokens.get(key)?.token === token) tokens.delete(key);
}
