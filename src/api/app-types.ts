import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AuthVariables } from "../auth";
import type { Env } from "../env";
import { validationHook } from "./errors";

export type AppEnv = { Bindings: Env; Variables: AuthVariables };

/** A route's JSON response (or request body) for the OpenAPI document: its schema and what it means. */
export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
