import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { analyseRequest } from "../../classify";
import { modelList } from "../../api/models";
import { UpstreamError } from "../../providers/errors";
import { ClassifyRequest, ModelList } from "../../schema";
import { NoArguments, PoolList } from "../../schema/mcp";
import { hostedAi } from "../upstream";
import { jsonResult, toolError, type SessionContext } from "../context";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true };

/** `list_models`, `list_pools`, `classify`: what can run, where, and how a request reads. */
export function registerCatalogue(server: McpServer, ctx: SessionContext): void {
  server.registerTool(
    "list_models",
    {
      title: "List models",
      description: "Models Homeskillet can run, with the VRAM and TFLOPS each needs from a GPU slice and the pool tier it suits.",
      inputSchema: NoArguments,
      outputSchema: ModelList,
      annotations: { ...readOnly, openWorldHint: false },
    },
    () => jsonResult(modelList()),
  );

  server.registerTool(
    "list_pools",
    {
      title: "List GPU pools",
      description: "The Hosted.AI GPU pools with their free VRAM and TFLOPS, price per GPU hour and status, as Hosted.AI reports them now.",
      inputSchema: NoArguments,
      outputSchema: PoolList,
      annotations: { ...readOnly, openWorldHint: true },
    },
    async () => {
      try {
        const pools = await hostedAi(ctx.env).listPools();
        return jsonResult({
          pools: pools.map((p) => ({
            id: p.id,
            tier: p.tier,
            region: p.region,
            gpu_model: p.gpu_model,
            gpu_count: p.gpu_count,
            vram_mb_per_gpu: p.vram_mb_per_gpu,
            tflops_per_gpu: p.tflops_per_gpu,
            free_vram_mb: p.free_vram_mb,
            free_tflops: p.free_tflops,
            price_per_gpu_hour: p.price_per_gpu_hour,
            status: p.status,
          })),
        } satisfies PoolList);
      } catch (err) {
        return upstreamFailure(err);
      }
    },
  );

  server.registerTool(
    "classify",
    {
      title: "Classify a request",
      description:
        "Classifies `messages` or `prompt` the way the edge does before a strike (POST /v1/classify): task label with a probability for each, complexity, prompt and output token estimates, latency class, and the prompt text the model would read. Runs no model.",
      inputSchema: ClassifyRequest,
      annotations: { ...readOnly, openWorldHint: false },
    },
    (req) => {
      const analysis = analyseRequest(req);
      return jsonResult({ ...analysis.classification, prompt_chars: analysis.promptText.length, prompt_text: analysis.promptText });
    },
  );
}

/** Upstream failures become tool errors that say which provider failed and whether to retry. */
export function upstreamFailure(err: unknown) {
  if (!(err instanceof UpstreamError)) throw err;
  return toolError({
    type: "upstream_error",
    message: err.message,
    upstream: { provider: err.provider, status: err.status, type: err.type },
    retryable: err.retryable,
  });
}
