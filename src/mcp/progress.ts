import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { StrikeWatchEvent } from "../api/strike-service";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Progress of one strike as the MCP client sees it: 1 started, then what the covenant reports, then done. */
export interface StrikeProgress {
  started(message: string): Promise<void>;
  /** A placement (plain strike) or a fragment's start or end (fused strike). */
  event(e: StrikeWatchEvent): Promise<void>;
  done(message: string): Promise<void>;
}

/**
 * Sends `notifications/progress` for the request when the client asked for them (gave a
 * progressToken); otherwise does nothing. A plain strike reports three stages — started,
 * allocated, done — and a fused one reports each fragment as it finishes between started and
 * done, with the total growing to fragments + 2 once the plan is known. Progress only ever
 * increases, as the spec requires: a stage that was skipped (a failed strike jumps to done) is
 * simply not reported.
 */
export function strikeProgress(extra: Extra): StrikeProgress {
  const token = extra._meta?.progressToken;
  let reached = 0;
  let total = 3;
  const send = async (progress: number, message: string) => {
    if (token === undefined || progress <= reached) return;
    reached = progress;
    await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total, message } });
  };
  return {
    started: (message) => send(1, `started: ${message}`),
    async event(e) {
      if (e.event === "placed") {
        const placement = e.lease_reused ? `warm lease ${e.allocation_id}` : e.pool_id === "local" ? "the local node" : `new allocation ${e.allocation_id}`;
        return send(2, `allocated: ${e.model} on ${e.pool_id}: ${placement}`);
      }
      const p = e.progress;
      total = p.total + 2;
      // A fragment's start is news but not progress: it goes out only with the next finish.
      if (p.type === "fragment_finished") return send(1 + p.done, `fragment ${p.done}/${p.total}: ${p.id} ${p.status}${p.cache !== "miss" ? ` (${p.cache})` : ""} in ${Math.round(p.latency_ms)} ms`);
    },
    done: (message) => send(total, `done: ${message}`),
  };
}
