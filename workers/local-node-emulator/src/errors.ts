// Every failure leaves in OpenAI's error shape so OpenAI-compatible clients surface it unchanged.
import type { z } from "zod";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A failure with a known HTTP status; anything else that escapes a handler is a genuine bug. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toResponse(headers?: HeadersInit): Response {
    return Response.json(this.toBody(), { status: this.status, headers });
  }
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}

export function modelNotFound(model: string, servable: readonly string[]): ApiError {
  return new ApiError(
    404,
    `The model '${model}' does not exist or cannot be loaded on this node (available: ${servable.join(", ")}).`,
    "invalid_request_error",
    "model",
    "model_not_found",
  );
}

/** Turns the first zod issue into a 400 naming the offending field, e.g. `messages[0].role`. */
export function fromZodError(error: z.ZodError, input: unknown): ApiError {
  const issue = error.issues[0];
  if (!issue) return badRequest("The request body is invalid.");
  // A strict schema's unknown key is named itself, so a misspelt field is pointed at directly.
  if (issue.code === "unrecognized_keys") {
    const param = formatPath([...issue.path, issue.keys[0] ?? ""]);
    return badRequest(`Unknown parameter: '${param}'.`, param, "unknown_parameter");
  }
  const param = formatPath(issue.path);
  if (param === null) return badRequest(`Invalid request body: ${issue.message}`, null, "invalid_value");
  const missing = issue.code === "invalid_type" && valueAt(input, issue.path) === undefined;
  return missing
    ? badRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter")
    : badRequest(`Invalid value for '${param}': ${issue.message}`, param, "invalid_value");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

export function formatPath(path: readonly PropertyKey[]): string | null {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out === "" ? null : out;
}
