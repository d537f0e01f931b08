// Every failure the emulator reports, as plain data. The cluster object returns these across RPC
// (thrown errors lose their fields on the way), and the Worker turns them into JSON responses.

export interface ApiError {
  /** Any 4xx/5xx: injected faults answer with whatever status a run configures. */
  status: number;
  type: string;
  message: string;
  /** The request field at fault, dotted ("requirements.min_vram_mb"). */
  param?: string;
  /** Sent as the Retry-After header (seconds) and repeated in the body. */
  retry_after_seconds?: number;
  /** Further facts that help the caller act on the error. */
  details?: Record<string, string | number | boolean>;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = <T = never>(error: ApiError): Outcome<T> => ({ ok: false, error });

export function invalidRequest(param: string, message: string): ApiError {
  return { status: 400, type: "invalid_request", message, param };
}

export function allocationNotFound(id: string): ApiError {
  return {
    status: 404,
    type: "allocation_not_found",
    message: `No allocation ${id} exists for this caller.`,
    param: "allocation_id",
  };
}

/** `{"error": {...}}`, as every error response carries it and a stream's error event repeats it. */
export function errorBody(error: ApiError): { error: Record<string, unknown> } {
  const body: Record<string, unknown> = { type: error.type, message: error.message };
  if (error.param !== undefined) body.param = error.param;
  if (error.retry_after_seconds !== undefined) body.retry_after_seconds = error.retry_after_seconds;
  if (error.details) Object.assign(body, error.details);
  return { error: body };
}

export function errorResponse(error: ApiError): Response {
  const headers = new Headers({ "content-type": "application/json; charset=utf-8" });
  if (error.retry_after_seconds !== undefined) headers.set("retry-after", String(error.retry_after_seconds));
  return new Response(JSON.stringify(errorBody(error)), { status: error.status, headers });
}
