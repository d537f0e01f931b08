// /admin: the record tests and benchmarks check (no allocation leaked), run-time speed controls,
// and a reset. Open on loopback; when ADMIN_KEY is set, every call must present it.
import { Hono } from "hono";
import { sameSecret } from "./auth";
import { errorResponse } from "./errors";
import { type AppEnv, cluster, json, readJsonBody } from "./http";
import { ConfigUpdateSchema, validate } from "./schemas";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", async (c, next) => {
  const required = c.env.ADMIN_KEY;
  if (required && !sameSecret(required, c.req.header("x-admin-key") ?? "")) {
    return errorResponse({ status: 401, type: "unauthorized", message: "Send the admin key in x-admin-key." });
  }
  await next();
});

adminRoutes.get("/allocations", async (c) => json(await cluster(c.env).adminView()));

adminRoutes.get("/config", async (c) => json(await cluster(c.env).getConfig()));

adminRoutes.post("/config", async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const update = validate(ConfigUpdateSchema, body.value);
  if (!update.ok) return errorResponse(update.error);
  return json(await cluster(c.env).updateConfig(update.value));
});

adminRoutes.post("/reset", async (c) => json(await cluster(c.env).reset()));
