// Turns a validated request into work for the device, books the device, waits out the schedule
// and answers: one JSON body, or an SSE stream paced token by token.
import { sleepUntil } from "./clock";
import { deviceStub } from "./device";
import { startupModel, type Env, type NodeConfig } from "./env";
import { badRequest, modelNotFound } from "./errors";
import {
  chatCompletion,
  newIdentity,
  textCompletion,
  usageOf,
} from "./responses";
import {
  flattenMessages,
  messageText,
  type ChatCompletionRequest,
  type TextCompletionRequest,
} from "./schema";
import type { DeviceSlot } from "./schedule";
import { sseBody, streamEvents } from "./stream";
import { cutAtStop, DEFAULT_MAX_TOKENS, estimateTokens, generateText, type GeneratedText } from "./text";

export interface CompletionJob {
  route: "chat" | "text";
  model: string;
  promptTokens: number;
  generated: GeneratedText;
  stream: boolean;
  includeUsage: boolean;
}

/** mlx_lm.server's name for "whatever model the server was started with". */
const DEFAULT_MODEL_ALIAS = "default_model";

export function resolveModel(requested: string | null | undefined, config: NodeConfig): string {
  if (requested === null || requested === undefined || requested === DEFAULT_MODEL_ALIAS) {
    return startupModel(config);
  }
  if (!config.models.includes(requested)) throw modelNotFound(requested, config.models);
  return requested;
}

type SharedOptions = Omit<ChatCompletionRequest, "messages">;

function buildJob(
  route: CompletionJob["route"],
  body: SharedOptions,
  config: NodeConfig,
  canonicalPrompt: string,
  promptText: string,
  continues?: string,
): CompletionJob {
  const model = resolveModel(body.model, config);
  // mlx_lm.server prefers max_completion_tokens when both are given.
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;
  const raw = generateText({
    // A request seed varies the output the way it would reseed a real sampler.
    seed: body.seed === null || body.seed === undefined ? config.seed : `${config.seed}/${body.seed}`,
    model,
    prompt: canonicalPrompt,
    maxTokens,
    temperature: body.temperature ?? 0,
    ...(continues === undefined ? {} : { continues }),
  });
  const stops = typeof body.stop === "string" ? [body.stop] : (body.stop ?? []);
  return {
    route,
    model,
    promptTokens: estimateTokens(promptText),
    generated: cutAtStop(raw, stops),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
  };
}

export function chatJob(body: ChatCompletionRequest, config: NodeConfig): CompletionJob {
  // Seed from the messages' meaning, so a string and the same text as one part give one answer.
  const canonical = JSON.stringify(body.messages.map((m) => ({ role: m.role, content: messageText(m) })));
  return buildJob("chat", body, config, canonical, flattenMessages(body.messages), prefill(body));
}

/**
 * The answer so far, when the request asks for the last message to be continued (vLLM's
 * `continue_final_message`): the completion then carries on that assistant message — its content
 * is the prompt's end, the response holds only what follows. Refused as vLLM refuses it: with
 * `add_generation_prompt` also true, or when the last message is not the assistant's.
 */
function prefill(body: ChatCompletionRequest): string | undefined {
  if (body.continue_final_message !== true) return undefined;
  if (body.add_generation_prompt === true) {
    throw badRequest("Cannot set both `continue_final_message` and `add_generation_prompt` to true.", "continue_final_message", "invalid_value");
  }
  const last = body.messages.at(-1)!;
  if (last.role !== "assistant") {
    throw badRequest("`continue_final_message` needs the last message to be the assistant's.", "continue_final_message", "invalid_value");
  }
  return messageText(last);
}

export function textJob(body: TextCompletionRequest, config: NodeConfig): CompletionJob {
  const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt.join("");
  return buildJob("text", body, config, JSON.stringify(prompt), prompt);
}

/** `streamCutAfterTokens`: an injected fault ends a stream abruptly after that many tokens. */
export async function runCompletion(job: CompletionJob, env: Env, streamCutAfterTokens: number | null): Promise<Response> {
  const identity = newIdentity(job.route, job.model, Date.now());
  const usage = usageOf(job.promptTokens, job.generated.tokens.length);
  const slot = await deviceStub(env).reserve({
    model: job.model,
    promptTokens: job.promptTokens,
    completionTokens: job.generated.tokens.length,
  });
  const headers = slotHeaders(slot);

  if (!job.stream) {
    await sleepUntil(slot.end);
    const text = job.generated.tokens.join("");
    const body = job.route === "chat"
      ? chatCompletion(identity, text, job.generated.finishReason, usage)
      : textCompletion(identity, text, job.generated.finishReason, usage);
    return Response.json(body, { headers });
  }

  // mlx_lm.server sends a stream's headers when the device takes the request up, after any
  // model load; tokens then follow at the decode rate.
  await sleepUntil(slot.start + slot.loadMs);
  headers.set("content-type", "text/event-stream");
  headers.set("cache-control", "no-cache");
  const cut = streamCutAfterTokens === null
    ? undefined
    : { afterTokens: streamCutAfterTokens, record: () => deviceStub(env).recordFault("stream_cut") };
  return new Response(sseBody(streamEvents(job, identity, usage, slot, cut)), { headers });
}

/**
 * The booked slot, for callers that want to see the device's queue: not part of the
 * mlx_lm.server API, and ignored by OpenAI clients.
 */
function slotHeaders(slot: DeviceSlot): Headers {
  return new Headers({
    "x-device-sequence": String(slot.sequence),
    "x-device-requested-at": String(slot.requestedAt),
    "x-device-slot-start": String(slot.start),
    "x-device-slot-end": String(slot.end),
    "x-device-queued-ms": String(slot.queuedMs),
    "x-device-load-ms": String(slot.loadMs),
  });
}
