// API keys are exchanged for short-lived HS256 JWTs. Verification here is stateless (signature and
// expiry); each token also carries the generation it was issued in, which the cluster object
// compares with the current one, so that every token issued so far can be expired at once.
import { SignJWT, errors, jwtVerify } from "jose";
import type { ApiError, Outcome } from "./errors";
import { fail, ok } from "./errors";

export const TOKEN_ISSUER = "hostedai-emulator";

/** A verified caller: its key id, and the token generation its JWT was issued in. */
export interface Caller {
  id: string;
  generation: number;
}

export interface IssuedToken {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  expires_at: string;
}

const encoder = new TextEncoder();

/**
 * The caller's identity: a stable, non-secret id derived from the key, so that the JWT (which
 * anyone can decode) never carries the key itself.
 */
export async function keyIdFor(apiKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(apiKey)));
  return `key_${Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Compares in time independent of where the strings first differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export async function issueToken(
  apiKey: string,
  acceptedKeys: readonly string[],
  secret: string,
  ttlSeconds: number,
  nowMs: number,
  generation = 0,
): Promise<Outcome<IssuedToken>> {
  if (!acceptedKeys.some((k) => sameSecret(k, apiKey))) {
    return fail({ status: 401, type: "invalid_credentials", message: "The API key is not recognised.", param: "api_key" });
  }
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + ttlSeconds;
  const token = await new SignJWT({ gen: generation })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(await keyIdFor(apiKey))
    .setIssuer(TOKEN_ISSUER)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(crypto.randomUUID())
    .sign(encoder.encode(secret));
  return ok({
    access_token: token,
    token_type: "Bearer",
    expires_in: ttlSeconds,
    expires_at: new Date(expiresAt * 1000).toISOString(),
  });
}

/** Returns the caller from an `Authorization: Bearer <jwt>` header. */
export async function authenticate(authorization: string | undefined, secret: string): Promise<Outcome<Caller>> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const token = match?.[1];
  if (!token) return fail(unauthorized("Send Authorization: Bearer <token> from POST /api/v1/auth/token."));
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      requiredClaims: ["sub", "exp"],
    });
    if (!payload.sub) return fail(unauthorized("The token names no subject."));
    // A token without the claim predates any expire-tokens call: generation 0.
    const generation = typeof payload.gen === "number" && Number.isInteger(payload.gen) ? payload.gen : 0;
    return ok({ id: payload.sub, generation });
  } catch (error) {
    if (error instanceof errors.JWTExpired) {
      return fail({ status: 401, type: "token_expired", message: "The token has expired; request a new one." });
    }
    return fail(unauthorized("The token is not valid."));
  }
}

function unauthorized(message: string): ApiError {
  return { status: 401, type: "unauthorized", message };
}
