// Server-sent events produced over time: each token is written when the device's schedule says it
// exists, so a reader sees the first token long before the last one is generated. An injected cut
// ends the body after n tokens without the finishing chunk or [DONE], as a dropped tunnel would.
import { sleepUntil } from "./clock";
import type { CompletionJob } from "./completion";
import type { ChatAnswer } from "./answer";
import {
  chatCompletionChunk,
  chatUsageChunk,
  textCompletionChunk,
  textUsageChunk,
  toolCallArgumentsChunk,
  toolCallFinishChunk,
  toolCallHeaderChunk,
  type ResponseIdentity,
  type Usage,
} from "./responses";
import { tokenDueAt, type DeviceSlot } from "./schedule";

function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export interface StreamCut {
  afterTokens: number;
  /** Counts the cut once it happens. */
  record: () => Promise<void>;
}

/** One payload per generated token: text pieces, or for calls each call's header and its argument pieces. */
function tokenPayloads(job: CompletionJob, answer: ChatAnswer, identity: ResponseIdentity): unknown[] {
  if (answer.kind === "tool_calls") {
    return answer.calls.flatMap((call, index) => [
      toolCallHeaderChunk(identity, index, call),
      ...call.argumentPieces.map((piece) => toolCallArgumentsChunk(identity, index, piece)),
    ]);
  }
  const chunk = job.route === "chat" ? chatCompletionChunk : textCompletionChunk;
  return answer.tokens.map((token) => chunk(identity, token, null));
}

export async function* streamEvents(
  job: CompletionJob,
  answer: ChatAnswer,
  identity: ResponseIdentity,
  usage: Usage,
  slot: DeviceSlot,
  cut?: StreamCut,
): AsyncGenerator<string, void, undefined> {
  for (const [index, payload] of tokenPayloads(job, answer, identity).entries()) {
    if (cut && index >= cut.afterTokens) break;
    await sleepUntil(tokenDueAt(slot, index));
    yield sseData(payload);
  }
  if (cut) {
    await cut.record();
    return;
  }
  await sleepUntil(slot.end);
  if (answer.kind === "tool_calls") yield sseData(toolCallFinishChunk(identity, answer.finishReason));
  else yield sseData((job.route === "chat" ? chatCompletionChunk : textCompletionChunk)(identity, "", answer.finishReason));
  if (job.includeUsage) {
    yield sseData(job.route === "chat" ? chatUsageChunk(identity, usage) : textUsageChunk(identity, usage));
  }
  yield "data: [DONE]\n\n";
}

/**
 * A byte stream that pulls one event at a time, so nothing is produced ahead of the reader and
 * a client that hangs up stops the generator. `onEnd` is told when the last event has been handed
 * over, before the stream closes, or when the generator broke.
 */
export function sseBody(events: AsyncGenerator<string, void, undefined>, onEnd?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next;
        try {
          next = await events.next();
        } catch (err) {
          onEnd?.();
          throw err;
        }
        if (next.done) {
          onEnd?.();
          controller.close();
        } else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await events.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
