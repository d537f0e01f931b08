/**
 * Tenant API keys. Keys are compared by their SHA-256, so configuration may hold hashes
 * (`sha256:<hex>`) instead of the keys themselves, and a lookup never compares secrets directly.
 */
export type KeyTable = ReadonlyMap<string, string>; // sha256 hex of key → tenant id

const encoder = new TextEncoder();
/** Two hex digits per byte value, built once per isolate: every request hashes its key. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let out = "";
  for (let i = 0; i < digest.length; i++) out += HEX[digest[i]!];
  return out;
}

export class KeyConfigError extends Error {}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export async function buildKeyTable(tenantKeysJson: string | undefined, devKey: string | undefined): Promise<KeyTable> {
  const table = new Map<string, string>();
  if (tenantKeysJson?.trim()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(tenantKeysJson);
    } catch {
      throw new KeyConfigError("HOMESKILLET_TENANT_KEYS is not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new KeyConfigError('HOMESKILLET_TENANT_KEYS must be a JSON object {"tenant": "key"}');
    }
    for (const [tenant, key] of Object.entries(parsed)) {
      if (!TENANT_ID.test(tenant)) throw new KeyConfigError(`HOMESKILLET_TENANT_KEYS: bad tenant id ${JSON.stringify(tenant)}`);
      if (typeof key !== "string" || key.length < 8) throw new KeyConfigError(`HOMESKILLET_TENANT_KEYS: key for ${tenant} must be a string of 8+ characters`);
      const hash = key.startsWith("sha256:") ? key.slice(7).toLowerCase() : await sha256Hex(key);
      table.set(hash, tenant);
    }
  }
  if (devKey?.trim()) table.set(await sha256Hex(devKey.trim()), "dev");
  return table;
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined | null): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
