import { OpenAPIHono } from "@hono/zod-openapi";
import type { AuthVariables } from "../auth";
import type { Env } from "../env";
import { validationHook } from "./errors";

export type AppEnv = { Bindings: Env; Variables: AuthVariables };

export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
