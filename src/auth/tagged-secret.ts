/**
 * Secrets that say which tenant they belong to: `<prefix><base64url(tenant)>.<base64url(32 random
 * bytes)>`. API keys (`hsk_live_`) and MCP tickets (`hsmt_`) use it. The tenant part says which
 * tenant's Durable Object can check the secret (a request carries nothing else that says it);
 * objects store only the SHA-256 of the whole string, so a secret whose tenant part is changed
 * names another tenant's object, where its hash is unknown. The prefix makes a leaked secret
 * recognisable to secret scanners.
 */
const SECRET_BYTES = 32;
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SHAPE = /^([A-Za-z0-9_-]{2,88})\.([A-Za-z0-9_-]{43})$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/==?$/, ""); // padding is one or two "=" (test/audit: /=+$/ is quadratic)
}

function fromBase64url(text: string): Uint8Array | undefined {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A new secret for a tenant (not yet stored anywhere). */
export function newTaggedSecret(prefix: string, tenant: string): string {
  return `${prefix}${base64url(encoder.encode(tenant))}.${base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** The tenant a well-formed secret names; undefined for anything else. It proves nothing by itself. */
export function taggedTenant(prefix: string, secret: string): string | undefined {
  if (!secret.startsWith(prefix)) return undefined;
  const match = SHAPE.exec(secret.slice(prefix.length));
  const bytes = match ? fromBase64url(match[1]!) : undefined;
  if (!bytes) return undefined;
  let tenant: string;
  try {
    tenant = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  // The encoding must be the canonical one, so one secret has one spelling.
  return TENANT_ID.test(tenant) && base64url(encoder.encode(tenant)) === match![1] ? tenant : undefined;
}
