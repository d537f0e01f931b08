// Worker entry: the Hono app in front, the cluster Durable Object behind it.
import { app } from "./app";
import type { Env } from "./config";

export { HostedAiCluster } from "./cluster";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
