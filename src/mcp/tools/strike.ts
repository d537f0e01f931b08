import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { precheck } from "../../api/strike-service";
import { covenantStub } from "../../api/stubs";
import { analyseRequest } from "../../classify";
import { StrikeRequest, StrikeResponse } from "../../schema";
import { jsonResult, toolError, type SessionContext } from "../context";
import { progressReporter } from "../progress";

/**
 * `strike`: the MCP face of `POST /v1/strikes`, with progress notifications while it runs. The
 * edge's shared `runStrike` needs a Hono context, which a session's Durable Object does not have,
 * and reports nothing between its steps; so this runs the same steps with the same precheck.
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
      const receivedAt = Date.now();
      const progress = progressReporter(extra);
      const covenantId = req.covenant_id ?? "default";
      const refused = precheck({ covenantId, model: req.model, maxTokens: req.max_tokens, temperature: req.temperature, latencySensitive: req.latency_sensitive });
      if (refused && !refused.ok) return toolError(refused.error);
      const analysis = analyseRequest(req);
      const classifyMs = Date.now() - receivedAt;
      const strikeId = `str_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      await progress("started", `strike ${strikeId}: ${analysis.promptTokens} prompt tokens sent to covenant ${covenantId}`);

      const outcome = await covenantStub(ctx.env, ctx.tenant, covenantId).strike({
        strikeId,
        tenant: ctx.tenant,
        covenantId,
        model: req.model,
        promptText: analysis.promptText,
        promptTokens: analysis.promptTokens,
        maxTokens: req.max_tokens,
        temperature: req.temperature,
        latencySensitive: req.latency_sensitive,
      });
      if (!outcome.ok) {
        await progress("done", `strike ${strikeId} failed: ${outcome.error.type}`);
        return toolError({ ...outcome.error, status: outcome.status, strike_id: strikeId });
      }
      const { strike } = outcome;
      // The covenant answers once, at the end: the allocation stage is reported from its timings.
      const placement = strike.lease_reused
        ? `warm lease on ${strike.allocation_id}`
        : `new allocation ${strike.allocation_id} in ${strike.timings.allocate_ms} ms`;
      await progress("allocated", `${strike.model} on ${strike.pool_id}: ${placement}`);
      const body: StrikeResponse = {
        id: outcome.strikeId,
        object: "strike",
        created: Math.floor(receivedAt / 1000),
        ...strike,
        timings: { classify_ms: classifyMs, ...strike.timings, total_ms: Date.now() - receivedAt },
      };
      await progress("done", `${strike.usage.completion_tokens} tokens, $${strike.cost_usd.toFixed(6)}, ${body.timings.total_ms} ms`);
      return jsonResult(body);
    },
  );
}
