import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { analyseRequest } from "../classify";
import { Classification, ClassifyRequest, ErrorBody } from "../schema";
import { newRouter } from "./app-types";
import { errorResponse } from "./errors";
import { limitBody, requireJson } from "./middleware";

const errorContent = { "application/json": { schema: ErrorBody } };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Bodies that are not valid UTF-8 are refused by name, rather than read with replacement
 * characters into a prompt nobody sent. The bytes read here are cached for the JSON parse.
 */
export const requireUtf8: MiddlewareHandler = async (c, next) => {
  try {
    strictUtf8.decode(await c.req.arrayBuffer());
  } catch {
    return errorResponse(400, { type: "invalid_encoding", message: "the request body is not valid UTF-8" });
  }
  await next();
};

export const classifyRoute = createRoute({
  method: "post",
  path: "/v1/classify",
  summary: "Classify a request as the edge does before a strike: task, complexity, token estimates, latency class",
  security: [{ bearer: ["strike"] }],
  middleware: [limitBody, requireJson, requireUtf8] as const,
  request: { body: { required: true, content: { "application/json": { schema: ClassifyRequest } } } },
  responses: {
    200: { description: "The classification", content: { "application/json": { schema: Classification } } },
    400: { description: "Invalid request (the error names the field) or a body that is not UTF-8", content: errorContent },
    401: { description: "Missing or invalid API key", content: errorContent },
    413: { description: "Body too large", content: errorContent },
    415: { description: "Body is not JSON", content: errorContent },
  },
});

export const classifications = newRouter().openapi(classifyRoute, (c) => {
  const { classification } = analyseRequest(c.req.valid("json"));
  return c.json(classification, 200);
});
