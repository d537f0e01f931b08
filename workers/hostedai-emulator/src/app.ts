// The Worker's HTTP surface: contract routes under /api/v1, admin under /admin, JSON everywhere,
// including for paths that do not exist.
import { Hono } from "hono";
import { adminRoutes } from "./admin-routes";
import { callerRoutes, tokenRoutes, unknownApiRoutes } from "./api-routes";
import { errorResponse } from "./errors";
import { ConnectionReset } from "./gate";
import type { AppEnv } from "./http";
import { recordTraceparent } from "../../shared/trace-record";

export const app = new Hono<AppEnv>();

app.use("/api/v1/*", recordTraceparent);

app.route("/api/v1", tokenRoutes);
app.route("/api/v1", callerRoutes);
app.route("/api/v1", unknownApiRoutes);
app.route("/admin", adminRoutes);

app.notFound((c) =>
  errorResponse({ status: 404, type: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}.` }),
);

app.onError((error) => {
  // An injected partition drops the connection: let it escape to the runtime.
  if (error instanceof ConnectionReset) throw error;
  console.error("hostedai-emulator: unhandled error", error);
  return errorResponse({ status: 500, type: "internal_error", message: "The emulator failed to handle this request." });
});
