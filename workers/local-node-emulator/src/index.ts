// Local-node emulator: the OpenAI-compatible API of `mlx_lm.server` on one Apple-silicon Mac,
// as a Homeskillet developer reaches it through a Cloudflare Tunnel.
import { app } from "./app";
import type { Env } from "./env";

export { LocalDevice } from "./device";

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
