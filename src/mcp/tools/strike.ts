import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { watchStrike } from "../../api/strike-service";
import { StrikeRequest, StrikeResponse } from "../../schema";
import { jsonResult, toolError, type SessionContext } from "../context";
import { strikeProgress } from "../progress";

/**
 * `strike`: the MCP face of `POST /v1/strikes` (the same edge service), with live progress
 * notifications while it runs: its placement, or each fragment of a fused request.
 */
export function registerStrike(server: McpServer, ctx: SessionContext): void {
  server.registerTool(
    "strike",
    {
      title: "Run inference under a covenant",
      description:
        "Runs one strike: the covenant acquires GPU capacity (a warm lease or a new Hosted.AI allocation), " +
        "runs the model on `messages` or `prompt`, and returns the completion with its usage, cost, pool, " +
        "allocation and timings. Give `covenant_id` to run under a covenant other than `default`, `model` " +
        "to override the covenant's default model (see list_models), and `fusion` to split, map-reduce or " +
        "ensemble the request (progress then reports each fragment).",
      inputSchema: StrikeRequest,
      outputSchema: StrikeResponse,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async (req, extra) => {
      const progress = strikeProgress(extra);
      const covenantId = req.covenant_id ?? "default";
      const answer = await watchStrike(
        { env: ctx.env, tenant: ctx.tenant, principal: ctx.principal },
        {
          covenantId,
          model: req.model,
          messages: req.messages,
          prompt: req.prompt,
          maxTokens: req.max_tokens,
          temperature: req.temperature,
          latencySensitive: req.latency_sensitive,
          ...(req.priority ? { priority: req.priority } : {}),
          ...(req.fusion ? { fusion: req.fusion } : {}),
        },
        {
          sent: (strikeId, promptTokens) => progress.started(`strike ${strikeId}: ${promptTokens} prompt tokens sent to covenant ${covenantId}`),
          event: (e) => progress.event(e),
        },
      );
      if (!answer.ok) {
        await progress.done(`strike failed: ${answer.error.type}`);
        // The HTTP API's headers too: a limit's `retry-after` and `x-ratelimit-*` are part of the answer.
        const headers = Object.keys(answer.headers).length > 0 ? { headers: answer.headers } : {};
        return toolError({ ...answer.error, status: answer.status, ...headers });
      }
      const body = answer.body;
      await progress.done(`${body.usage.completion_tokens} tokens, $${body.cost_usd.toFixed(6)}, ${body.timings.total_ms} ms`);
      return jsonResult(body);
    },
  );
}
