import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { covenantStub } from "../../api/stubs";
import { DEFAULT_COVENANT_ID } from "../../policy";
import { CovenantStatus, CovenantUsage } from "../../schema";
import { AllocationMetricsArgs, AllocationMetricsView, CovenantStatusArgs, UsageArgs } from "../../schema/mcp";
import { covenantStatus, findHeldAllocation, notVisible } from "../covenants";
import { jsonResult, toolError, type SessionContext } from "../context";
import { hostedAi } from "../upstream";
import { upstreamFailure } from "./catalogue";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true };

/** `covenant_status`, `allocation_metrics`, `usage`: what a covenant holds, how it runs, what it spent. */
export function registerCovenantTools(server: McpServer, ctx: SessionContext): void {
  server.registerTool(
    "covenant_status",
    {
      title: "Covenant status",
      description: "A covenant's contract (models, resources, QoS, cost limits, fallback order) with its live leases, their utilisation and expiry, the queue depth and today's spend.",
      inputSchema: CovenantStatusArgs,
      outputSchema: CovenantStatus,
      annotations: { ...readOnly, openWorldHint: false },
    },
    async ({ covenant_id }) => {
      const status = await covenantStatus(ctx, covenant_id ?? DEFAULT_COVENANT_ID);
      return status.ok ? jsonResult(status.value) : toolError(status.error);
    },
  );

  server.registerTool(
    "allocation_metrics",
    {
      title: "Allocation metrics",
      description: "Hosted.AI's live metrics (GPU utilisation, memory used, inference count, average latency) for an allocation that one of your covenants holds as a lease; covenant_status lists them.",
      inputSchema: AllocationMetricsArgs,
      outputSchema: AllocationMetricsView,
      annotations: { ...readOnly, openWorldHint: true },
    },
    async ({ allocation_id, covenant_id }) => {
      const held = await findHeldAllocation(ctx, allocation_id, covenant_id);
      if (!held) {
        const where = covenant_id === undefined ? "any of your covenants" : `covenant ${covenant_id}`;
        return toolError({ type: "allocation_not_found", message: `allocation ${allocation_id} is not held by ${where}`, param: "allocation_id" });
      }
      try {
        const m = await hostedAi(ctx.env).metrics(allocation_id);
        return jsonResult({
          allocation_id,
          covenant_id: held.covenantId,
          pool_id: held.lease.pool_id,
          model: held.lease.model,
          gpu_utilization: m.gpu_utilization,
          memory_used_mb: m.memory_used_mb,
          inference_count: m.inference_count,
          average_latency_ms: m.average_latency_ms,
        } satisfies AllocationMetricsView);
      } catch (err) {
        return upstreamFailure(err);
      }
    },
  );

  server.registerTool(
    "usage",
    {
      title: "Covenant usage",
      description: "Spend, strikes, tokens and allocation seconds of a covenant by model and by pool, for a period (today, UTC, by default).",
      inputSchema: UsageArgs,
      outputSchema: CovenantUsage,
      annotations: { ...readOnly, openWorldHint: false },
    },
    async ({ covenant_id, from, to }) => {
      const id = covenant_id ?? DEFAULT_COVENANT_ID;
      const hidden = notVisible(ctx, id);
      if (hidden && !hidden.ok) return toolError(hidden.error);
      const usage = await covenantStub(ctx.env, ctx.tenant, id).usage(ctx.tenant, id, from ? Date.parse(from) : undefined, to ? Date.parse(to) : undefined);
      return usage.ok ? jsonResult(usage.value) : toolError(usage.error);
    },
  );
}
