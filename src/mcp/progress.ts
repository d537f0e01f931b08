import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";

/** The stages a strike reports, in order; their index is the progress value. */
export const STRIKE_STAGES = ["started", "allocated", "done"] as const;
export type StrikeStage = (typeof STRIKE_STAGES)[number];

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Sends `notifications/progress` for the request when the client asked for them (gave a
 * progressToken); otherwise does nothing. Progress only ever increases, as the spec requires:
 * a stage that was skipped (a failed strike jumps to `done`) is simply not reported.
 */
export function progressReporter(extra: Extra): (stage: StrikeStage, message: string) => Promise<void> {
  const token = extra._meta?.progressToken;
  let reached = -1;
  return async (stage, message) => {
    const at = STRIKE_STAGES.indexOf(stage);
    if (token === undefined || at <= reached) return;
    reached = at;
    await extra.sendNotification({
      method: "notifications/progress",
      params: { progressToken: token, progress: at + 1, total: STRIKE_STAGES.length, message: `${stage}: ${message}` },
    });
  };
}
