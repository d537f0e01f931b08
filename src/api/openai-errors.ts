import type { MiddlewareHandler } from "hono";

/** OpenAI's error `type` for a Homeskillet status. */
export function openAiType(status: number): string {
  if (status === 400 || status === 404 || status === 409 || status === 422) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 402) return "insufficient_quota";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  return "server_error";
}

/**
 * Every error on the OpenAI routes — auth, validation, body limits, strikes — in OpenAI's shape
 * `{error: {message, type, param, code}}`, with Homeskillet's own error type as the `code`.
 */
export const openAiErrors: MiddlewareHandler = async (c, next) => {
  await next();
  const res = c.res;
  if (res.ok || !res.headers.get("content-type")?.includes("application/json")) return;
  const body = (await res.clone().json().catch(() => null)) as { error?: Record<string, unknown> } | null;
  const e = body?.error;
  // Already in OpenAI's shape (it has a `code`), or not an error body at all.
  if (!e || typeof e.message !== "string" || "code" in e) return;
  c.res = new Response(JSON.stringify(toOpenAiError(res.status, e as { message: string })), { status: res.status, headers: res.headers });
};

export function toOpenAiError(status: number, e: { message: string; type?: unknown; param?: unknown }) {
  const { message, type, param, ...rest } = e;
  return { error: { ...rest, message, type: openAiType(status), param: typeof param === "string" ? param : null, code: typeof type === "string" ? type : null } };
}

