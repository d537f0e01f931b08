import { OpenAPIHono } from "@hono/zod-openapi";
import { requireTenant } from "../auth";
import { VERSION } from "../version";
import type { AppEnv } from "./app-types";
import { notFound, onError, validationHook } from "./errors";
import { mcpRoutes } from "../mcp";
import { classifications } from "./classify";
import { covenants } from "./covenants";
import { models } from "./models";
import { openai, openAiErrors } from "./openai";
import { strikes } from "./strikes";
import { metricsRoutes, requestLogger } from "../telemetry";
import { dashboardRoutes } from "../dashboard";

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(notFound);
  // One JSON line per request, with the W3C trace id (taken from traceparent or new).
  app.use("*", requestLogger);

  app.get("/healthz", (c) => c.json({ status: "ok", service: "homeskillet", version: VERSION }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Homeskillet",
      version: VERSION,
      description: "Covenant-based orchestration of AI inference on virtualised GPUs.",
    },
  });

  app.route("/", metricsRoutes); // operator key, not tenant keys (src/telemetry/endpoint.ts)
  // The dashboard's data, operator key too; its page is a static asset (src/dashboard/routes.ts).
  app.route("/", dashboardRoutes);

  // Registered before auth so that its errors, too, reach OpenAI clients in OpenAI's shape.
  app.use("/v1/chat/completions", openAiErrors);
  app.use("/v1/*", requireTenant);
  app.route("/", strikes);
  app.route("/", classifications);
  app.route("/", models);
  app.route("/", covenants);
  app.route("/", openai);
  app.route("/", mcpRoutes);
  return app;
}
