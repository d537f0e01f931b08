// The two locks a tunnelled node can have: Cloudflare Access in front of the tunnel (service-token
// headers) and the server's own bearer key. Both are off unless configured.
import { ApiError } from "./errors";
import type { NodeConfig } from "./env";

/** Returns the error to answer with, or undefined when the request may proceed. */
export function checkAccess(headers: Headers, config: NodeConfig): ApiError | undefined {
  if (config.accessClientId !== undefined || config.accessClientSecret !== undefined) {
    const id = headers.get("cf-access-client-id");
    const secret = headers.get("cf-access-client-secret");
    if (!id || !secret) {
      return new ApiError(
        401,
        "This node is protected by Cloudflare Access: send the CF-Access-Client-Id and CF-Access-Client-Secret headers of a service token.",
        "authentication_error",
        null,
        "access_token_missing",
      );
    }
    // Both must match; a half-configured pair (one value unset) admits nobody.
    const idOk = config.accessClientId !== undefined && constantTimeEqual(id, config.accessClientId);
    const secretOk = config.accessClientSecret !== undefined && constantTimeEqual(secret, config.accessClientSecret);
    if (!(idOk && secretOk)) {
      return new ApiError(403, "The Cloudflare Access service token was not accepted.", "permission_error", null, "access_denied");
    }
  }
  if (config.apiKey !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "");
    const key = match?.[1]?.trim();
    if (!key || !constantTimeEqual(key, config.apiKey)) {
      return new ApiError(
        401,
        key ? "Incorrect API key provided." : "Missing API key: send 'Authorization: Bearer <key>'.",
        "invalid_request_error",
        null,
        "invalid_api_key",
      );
    }
  }
  return undefined;
}

/** Admin endpoints are for whoever runs the node, so they are open on the loopback interface. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** Compares secrets without an early exit, so timing does not reveal how much of a guess matched. */
function constantTimeEqual(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
