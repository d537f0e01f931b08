// /admin: the record tests and benchmarks check (no allocation leaked), run-time speed controls,
// fault injection, and a reset. Open on loopback; when ADMIN_KEY is set, every call must present it.
import { Hono } from "hono";
import { sameSecret } from "./auth";
import { errorResponse } from "./errors";
import { type AppEnv, cluster, json, readJsonBody, respond } from "./http";
import { AllocationStatusSchema, ConfigUpdateSchema, PreemptRequestSchema, validate } from "./schemas";
import { tracedRequests } from "../../shared/trace-record";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", async (c, next) => {
  const required = c.env.ADMIN_KEY;
  if (required && !sameSecret(required, c.req.header("x-admin-key") ?? "")) {
    return errorResponse({ status: 401, type: "unauthorized", message: "Send the admin key in x-admin-key." });
  }
  await next();
});

/** Live allocations (the leak check); `?status=released|expired|preempted` lists ended ones with their bills. */
adminRoutes.get("/allocations", async (c) => {
  const raw = c.req.query("status");
  if (raw === undefined) return json(await cluster(c.env).adminView());
  const status = validate(AllocationStatusSchema, raw, "status");
  return status.ok ? json(await cluster(c.env).adminView(status.value)) : errorResponse(status.error);
});

/** What each recent inference delivered and was billed (the newest 1000), oldest first. */
adminRoutes.get("/inferences", async (c) => json({ inferences: await cluster(c.env).inferenceLog() }));

/** The `traceparent` recent API requests arrived with (see trace-record.ts). */
adminRoutes.get("/traceparents", (c) => json({ requests: tracedRequests() }));

adminRoutes.get("/config", async (c) => json(await cluster(c.env).getConfig()));

adminRoutes.post("/config", async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const update = validate(ConfigUpdateSchema, body.value);
  if (!update.ok) return errorResponse(update.error);
  return json(await cluster(c.env).updateConfig(update.value));
});

adminRoutes.post("/reset", async (c) => json(await cluster(c.env).reset()));

adminRoutes.get("/faults", async (c) => json(await cluster(c.env).getFaults()));

/** Replaces the whole fault configuration: anything left out is off. */
adminRoutes.put("/faults", async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  return respond(await cluster(c.env).setFaults(body.value));
});

adminRoutes.delete("/faults", async (c) => respond(await cluster(c.env).setFaults({})));

adminRoutes.post("/faults/expire-tokens", async (c) => json(await cluster(c.env).expireTokens()));

adminRoutes.post("/faults/preempt", async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(PreemptRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  return respond(await cluster(c.env).preempt(request.value));
});
