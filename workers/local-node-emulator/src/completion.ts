// Turns a validated request into work for the device, books the device, waits out the schedule
// and answers: one JSON body, or an SSE stream paced token by token. A chat request that offers
// tools or asks for JSON is answered by answer.ts (tool calls, JSON, a final answer after tools).
import { type ChatAnswer, answerTokens, type PlannedChatAnswer, planChatAnswer } from "./answer";
import { sleepUntil } from "./clock";
import { deviceStub } from "./device";
import { startupModel, type Env, type NodeConfig } from "./env";
import { badRequest, modelNotFound } from "./errors";
import {
  chatCompletion,
  chatToolCallCompletion,
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
import { cutAtStop, DEFAULT_MAX_TOKENS, estimateTokens, generateText, type GenerationInput } from "./text";
import { asksForStructure, checkToolFields, conversationOf } from "./tools";

export interface CompletionJob {
  route: "chat" | "text";
  model: string;
  promptTokens: number;
  answer: ChatAnswer;
  /** A structured answer's malformed forms, for the malformed_output fault. */
  malformed?: PlannedChatAnswer["malformed"];
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
  structured?: ChatCompletionRequest,
): CompletionJob {
  const model = resolveModel(body.model, config);
  // mlx_lm.server prefers max_completion_tokens when both are given.
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;
  const generation: GenerationInput = {
    // A request seed varies the output the way it would reseed a real sampler.
    seed: body.seed === null || body.seed === undefined ? config.seed : `${config.seed}/${body.seed}`,
    model,
    prompt: canonicalPrompt,
    maxTokens,
    temperature: body.temperature ?? 0,
    ...(continues === undefined ? {} : { continues }),
  };
  const stops = typeof body.stop === "string" ? [body.stop] : (body.stop ?? []);
  // Stop sequences end text, JSON included; calls are not text.
  const stopped = (answer: ChatAnswer): ChatAnswer => (answer.kind === "text" ? { kind: "text", ...cutAtStop(answer, stops) } : answer);
  const planned: PlannedChatAnswer = structured
    ? planChatAnswer({ conversation: conversationOf(structured), generation })
    : { answer: { kind: "text", ...generateText(generation) } };
  const malformed = planned.malformed;
  return {
    route,
    model,
    promptTokens: estimateTokens(promptText),
    answer: stopped(planned.answer),
    ...(malformed
      ? {
          malformed: {
            ...(malformed.violates_schema ? { violates_schema: stopped(malformed.violates_schema) } : {}),
            unparsable: stopped(malformed.unparsable),
          },
        }
      : {}),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
  };
}

export function chatJob(body: ChatCompletionRequest, config: NodeConfig): CompletionJob {
  checkToolFields(body);
  const continues = prefill(body);
  const promptText = flattenMessages(body.messages, body.tools ?? []);
  // Tools or JSON asked for (and no prefill, which only continues text): the answer policy.
  if (continues === undefined && asksForStructure(body)) {
    const canonical = JSON.stringify({
      messages: body.messages.map((m) => ({ role: m.role, content: messageText(m), tool_calls: m.tool_calls ?? null, tool_call_id: m.tool_call_id ?? null })),
      tools: body.tools,
      tool_choice: body.tool_choice ?? null,
      parallel_tool_calls: body.parallel_tool_calls ?? null,
      response_format: body.response_format ?? null,
    });
    return buildJob("chat", body, config, canonical, promptText, undefined, body);
  }
  // Seed from the messages' meaning, so a string and the same text as one part give one answer.
  const canonical = JSON.stringify(body.messages.map((m) => ({ role: m.role, content: messageText(m) })));
  return buildJob("chat", body, config, canonical, promptText, continues);
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

/**
 * `streamCutAfterTokens`: an injected fault ends a stream abruptly after that many tokens.
 * `waitUntil` keeps a stream's request alive until its slot ends, when the device counts it done.
 */
export async function runCompletion(job: CompletionJob, env: Env, streamCutAfterTokens: number | null, waitUntil: (work: Promise<unknown>) => void): Promise<Response> {
  const identity = newIdentity(job.route, job.model, Date.now());
  const { malformed: forms } = job;
  const slot = await deviceStub(env).reserve({
    model: job.model,
    promptTokens: job.promptTokens,
    completionTokens: answerTokens(job.answer),
    ...(forms
      ? { malformed: { violates_schema: forms.violates_schema ? answerTokens(forms.violates_schema) : null, unparsable: answerTokens(forms.unparsable) } }
      : {}),
  });
  // The malformed_output fault may have spoilt a structured answer.
  const answer = (slot.malformed === null ? undefined : forms?.[slot.malformed]) ?? job.answer;
  const usage = usageOf(job.promptTokens, answerTokens(answer));
  const headers = slotHeaders(slot);

  // A completion is in flight on the device until it is answered in full, or, for a stream whose
  // client hung up, until its slot ends: the node generates it to the end either way.
  // Told without waiting for the device (no answer is held back for a counter); the call leaves
  // before the answer does, so the device has counted it before the client can send its next request.
  let done = false;
  const finished = () => {
    if (done) return;
    done = true;
    waitUntil(deviceStub(env).finished());
  };
  if (!job.stream) {
    await sleepUntil(slot.end);
    finished();
    let body;
    if (answer.kind === "tool_calls") {
      const calls = answer.calls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.argumentPieces.join("") } }));
      body = chatToolCallCompletion(identity, calls, answer.finishReason, usage);
    } else {
      const text = answer.tokens.join("");
      body = job.route === "chat" ? chatCompletion(identity, text, answer.finishReason, usage) : textCompletion(identity, text, answer.finishReason, usage);
    }
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
  waitUntil(sleepUntil(slot.end).then(finished));
  return new Response(sseBody(streamEvents(job, answer, identity, usage, slot, cut), finished), { headers });
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
