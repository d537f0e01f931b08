import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "@hono/zod-openapi";

export interface ErrorFields {
  type: string;
  message: string;
  param?: string;
  [extra: string]: unknown;
}

export function errorResponse(status: ContentfulStatusCode, fields: ErrorFields, headers?: Record<string, string>): Response {
  return Response.json({ error: fields }, { status, headers });
}

/** The first zod issue as a field-level error: which field, and what is wrong with it. */
export function validationError(error: z.ZodError): Response {
  const issue = error.issues[0];
  // An unknown field is named itself, not the object that holds it.
  const path = issue ? [...issue.path, ...(issue.code === "unrecognized_keys" ? issue.keys.slice(0, 1) : [])] : [];
  const param = path.length > 0 ? path.map(String).join(".") : undefined;
  const message = issue ? (param ? `${param}: ${issue.message}` : issue.message) : "invalid request";
  // A well-formed parameter that cannot be honoured is refused as such, not called malformed.
  const unsupported = issue?.code === "custom" && (issue.params as { unsupported?: boolean } | undefined)?.unsupported === true;
  return errorResponse(400, {
    type: unsupported ? "unsupported_parameter" : "invalid_request",
    message,
    ...(param ? { param } : {}),
    issues: error.issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
  });
}

/** Validation failures from any route, in the one error shape. */
export function validationHook(result: { success: boolean; error?: unknown }, _c: Context): Response | undefined {
  if (!result.success) return validationError(result.error as z.ZodError);
  return undefined;
}

export const onError: ErrorHandler = (err, c) => {
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const type = status === 413 ? "payload_too_large" : status === 400 ? "invalid_json" : "http_error";
    return errorResponse(status, { type, message: err.message || "request rejected" });
  }
  console.error(JSON.stringify({ level: "error", msg: "unhandled error", path: c.req.path, error: String((err as Error)?.stack ?? err) }));
  return errorResponse(500, { type: "internal_error", message: "Homeskillet hit an internal error; it has been logged" });
};

export const notFound: NotFoundHandler = (c) =>
  errorResponse(404, { type: "not_found", message: `no route for ${c.req.method} ${c.req.path}` });
