import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { runStrike } from "../../api/strike-service";
import { StrikeRequest, StrikeResponse } from "../../schema";
import { jsonResult, toolError, type SessionContext } from "../context";
import { progressReporter } from "../progress";

/**
 * `strike`: the MCP face of `POST /v1/strikes` (the same edge service), with progress
 * notifications while it runs.
 */
export function registerStrike(server: McpServer, ctx: SessionContext): void {
  server.registerTool(
    "strike",
    {
      title: "Run inference under a covenant",
      description:
        "Runs one strike: the covenant acquires GPU capacity (a warm lease or a new Hosted.AI allocation), " +
        "runs the model on `messages` or `prompt`, and returns the completion with its usage, cost, pool, " +
        "allocation and timings. Give `covenant_id` to run under a covenant other than `default`, and `model` " +
        "to override the covenant's default model (see list_models).",
      inputSchema: StrikeRequest,
      outputSchema: StrikeResponse,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async (req, extra) => {
      const progress = progressReporter(extra);
      const covenantId = req.covenant_id ?? "default";
      const answer = await runStrike(
        { env: ctx.env, tenant: ctx.tenant },
        {
          covenantId,
          model: req.model,
          messages: req.messages,
          prompt: req.prompt,
          maxTokens: req.max_tokens,
          temperature: req.temperature,
          latencySensitive: req.latency_sensitive,
        },
        (strikeId, promptTokens) => progress("started", `strike ${strikeId}: ${promptTokens} prompt tokens sent to covenant ${covenantId}`),
      );
      if (!answer.ok) {
        await progress("done", `strike failed: ${answer.error.type}`);
        return toolError({ ...answer.error, status: answer.status });
      }
      const body = answer.body;
      // The covenant answers once, at the end: the allocation stage is reported from its timings.
      const placement = body.lease_reused ? `warm lease on ${body.allocation_id}` : `new allocation ${body.allocation_id} in ${body.timings.allocate_ms} ms`;
      await progress("allocated", `${body.model} on ${body.pool_id}: ${placement}`);
      await progress("done", `${body.usage.completion_tokens} tokens, $${body.cost_usd.toFixed(6)}, ${body.timings.total_ms} ms`);
      return jsonResult(body);
    },
  );
}
