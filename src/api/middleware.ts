import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorResponse } from "./errors";

/** Request bodies above this are refused before they are read. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const limitBody: MiddlewareHandler = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => errorResponse(413, { type: "payload_too_large", message: `request body is larger than ${MAX_BODY_BYTES} bytes` }),
});

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;

/** JSON routes refuse other media types up front, so a wrong header never reads as missing fields. */
export const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    return errorResponse(415, {
      type: "unsupported_media_type",
      message: "send the body as JSON with `Content-Type: application/json`",
      param: "content-type",
    });
  }
  await next();
};

/** The body is optional; when there is one it must be JSON, refused in the one error shape otherwise. */
export const optionalJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type");
  const other = type ? !JSON_TYPE.test(type) : c.req.raw.body !== null && (await c.req.arrayBuffer()).byteLength > 0;
  if (other) {
    return errorResponse(415, {
      type: "unsupported_media_type",
      message: "send no body, or a JSON object with `Content-Type: application/json`",
      param: "content-type",
    });
  }
  await next();
};
