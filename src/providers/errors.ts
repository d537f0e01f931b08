/**
 * A failure talking to an upstream, with enough detail for the gateway to pick a status and
 * explain it: which provider, what it said, and whether trying again could help.
 */
export class UpstreamError extends Error {
  constructor(
    readonly provider: string,
    /** HTTP status from the upstream; 0 when no response arrived. */
    readonly status: number,
    /** The upstream's own error type, or ours (`timeout`, `network_error`, `bad_response`). */
    readonly type: string,
    /** Safe to show the tenant: never an address, a host or an upstream's raw body. */
    message: string,
    readonly retryAfterS?: number,
    /** For the operator's log only: the address called, the runtime's own error, a raw body. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }

  /** Worth another try, possibly elsewhere: capacity, rate limits, the upstream's own faults. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  /** The status Homeskillet answers with when this error ends a request. */
  get gatewayStatus(): 502 | 503 | 504 {
    if (this.type === "timeout") return 504;
    if (this.status === 503 || this.status === 429) return 503;
    return 502;
  }
}

interface UpstreamErrorBody {
  error?: { type?: unknown; message?: unknown };
}

/** Turns a non-2xx upstream response into an UpstreamError, reading its JSON error if it has one. */
export async function upstreamErrorFrom(provider: string, res: Response): Promise<UpstreamError> {
  let type = `http_${res.status}`;
  let message = `${provider} answered ${res.status} ${res.statusText}`.trim();
  let detail: string | undefined;
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as UpstreamErrorBody;
    if (typeof body.error?.type === "string") type = body.error.type;
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // A body that is not the upstream's JSON error is often a proxy's or tunnel's page, which
    // names internal hosts: the operator's log gets it, the tenant does not.
    if (text) detail = text.slice(0, 200);
  }
  const retryAfter = Number(res.headers.get("retry-after"));
  return new UpstreamError(provider, res.status, type, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined, detail);
}
