// POST /api/v1/inference/{id}: one JSON answer at the end of the simulated latency, or, with
// `stream: true`, server-sent events paced token by token. Both paths account for the inference
// the same way: begun in the cluster before the first token, finished after the last. What the
// model writes is planned in answer.ts: text, or tool calls and JSON when the prompt asks for them.
import { planAnswer } from "./answer";
import { seed } from "./config";
import { errorResponse } from "./errors";
import { allocationPreempted } from "./faults";
import { type AppContext, cluster, json, readJsonBody } from "./http";
import { InferenceRequestSchema, validate } from "./schemas";
import { type DoneEvent, inferenceStream } from "./stream";
import { promptTokens } from "./textgen";
import type { InferenceBill, InferenceOutcome } from "./views";
import { PreemptionWatch, sleepWatching } from "./watch";

/** How much of a prompt an inference's bill keeps: enough to see how the prompt ended. */
const PROMPT_TAIL_CHARS = 2048;

export async function runInference(c: AppContext, allocationId: string): Promise<Response> {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(InferenceRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);

  const { model, prompt, max_tokens, temperature } = request.value;
  // Tool calls, JSON or text, as the model reads the prompt; a structured answer may yet be spoilt.
  const planned = planAnswer({ seed: seed(c.env), model, prompt, maxTokens: max_tokens, temperature });
  const prompt_tokens = promptTokens(prompt);

  const stub = cluster(c.env);
  const { malformed } = planned;
  const begun = await stub.beginInference(c.get("caller"), allocationId, {
    model,
    promptTokens: prompt_tokens,
    completionTokens: planned.completion.completionTokens,
    stream: request.value.stream,
    ...(malformed
      ? { malformed: { violates_schema: malformed.violates_schema?.completionTokens ?? null, unparsable: malformed.unparsable.completionTokens } }
      : {}),
  });
  if (!begun.ok) return errorResponse(begun.error);
  const receipt = begun.value;
  const completion = (receipt.malformed_output !== null ? malformed?.[receipt.malformed_output] : undefined) ?? planned.completion;
  const usage = {
    prompt_tokens,
    completion_tokens: completion.completionTokens,
    total_tokens: prompt_tokens + completion.completionTokens,
  };
  const startedAt = Date.now();
  const done: DoneEvent = {
    allocation_id: allocationId,
    model,
    finish_reason: completion.finishReason,
    usage,
    latency_ms: receipt.latency_ms,
    cost_usd: receipt.cost_usd,
  };

  // What an ending reports to be billed: what was delivered.
  const bill = (outcome: InferenceOutcome, delivered: number, text: string, cost: number): InferenceBill => ({
    model,
    stream: request.value.stream,
    outcome,
    prompt_tail: prompt.slice(-PROMPT_TAIL_CHARS),
    prompt_tokens,
    completion_tokens: delivered,
    cost_usd: cost,
    text,
  });
  if (request.value.stream) {
    return inferenceStream({ stub, allocationId, receipt, startedAt, tokens: completion.tokens, done, bill });
  }
  const watch = receipt.preemptible ? new PreemptionWatch(() => stub.isPreempted(allocationId)) : undefined;
  let preempted = false;
  try {
    preempted = await sleepWatching(startedAt + receipt.latency_ms, watch);
  } finally {
    // A preempted JSON answer delivers nothing; the bill is settled once it is known which.
    const finished = await stub.finishInference(receipt.inference_id, allocationId, {
      bill: preempted ? bill("preempted", 0, "", 0) : bill("done", usage.completion_tokens, completion.text, receipt.cost_usd),
    });
    preempted ||= finished.preempted;
  }
  if (preempted) return errorResponse(allocationPreempted(allocationId));
  return json({
    allocation_id: allocationId,
    model,
    text: completion.text,
    finish_reason: done.finish_reason,
    usage,
    latency_ms: done.latency_ms,
    cost_usd: done.cost_usd,
  });
}
