/**
 * Fragment identity. SHA-256 comes from crypto.subtle: native in workerd and Node, so hashing a
 * long document costs the Worker next to no CPU time, at the price of being async.
 *
 *   fingerprint = SHA-256(normalised input)                     — the content, under any model
 *   scope       = SHA-256(canonical {model, system, tools, sampling parameters})
 *   hash        = SHA-256("fragment/v1" ‖ scope ‖ fingerprint)   — the identity
 *
 * Only the fingerprint digests the (possibly long) input; the hash is built from two short
 * digests, so a fragment costs one pass over its text. Every parameter that can change an answer
 * is in the scope — a different system prompt, tool list, temperature or max_tokens gives a
 * different hash — and the scope is what the semantic cache matches exactly while it compares
 * inputs loosely.
 */
import { canonicalJson, normaliseInput } from "./normalise";
import { MAX_FUSION_TEXT_CHARS } from "./request";

const utf8 = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export interface IdentityParts {
  model: string;
  system: string | null;
  input: string;
  max_tokens: number;
  temperature: number;
  sampling?: Readonly<Record<string, unknown>> | undefined;
  tools?: readonly unknown[] | undefined;
}

export interface FragmentIdentity {
  hash: string;
  fingerprint: string;
  scope: string;
}

/**
 * Past MAX_FUSION_TEXT_CHARS an input is not normalised but digested as sent, after a line break:
 * a normalised text never starts with one (normalisation trims), so the two kinds of fingerprint
 * can never coincide.
 */
export function fingerprintOf(input: string): Promise<string> {
  return sha256Hex(input.length > MAX_FUSION_TEXT_CHARS ? `\n${input}` : normaliseInput(input));
}

export function scopeOf(parts: Omit<IdentityParts, "input">): Promise<string> {
  return sha256Hex(
    canonicalJson({
      v: 1,
      model: parts.model,
      // A system prompt past the cap is kept as sent, as an object no normalised string equals.
      system: parts.system === null ? null : parts.system.length > MAX_FUSION_TEXT_CHARS ? { as_sent: parts.system } : normaliseInput(parts.system),
      tools: parts.tools ?? null,
      // Named parameters win over the same keys in `sampling`, as they do when the strike is sent.
      params: { ...parts.sampling, max_tokens: parts.max_tokens, temperature: parts.temperature },
    }),
  );
}

export async function identify(parts: IdentityParts): Promise<FragmentIdentity> {
  const [fingerprint, scope] = await Promise.all([fingerprintOf(parts.input), scopeOf(parts)]);
  return { fingerprint, scope, hash: await sha256Hex(`fragment/v1\n${scope}\n${fingerprint}`) };
}

/** Keys of every cache and flight: the tenant always comes first, length-prefixed so no tenant name can forge another's key. */
export function tenantKey(tenant: string, hash: string): string {
  return `${tenant.length}:${tenant}:${hash}`;
}
