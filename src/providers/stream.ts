import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { StreamEventNote } from "../telemetry/upstream";

/** What any streaming upstream yields, whatever its wire format. */
export type UpstreamStreamEvent =
  /** `usage` and `costUsd`, when the upstream says them, are the totals so far: what a break leaves billed. */
  | { type: "token"; text: string; usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; costUsd?: number }
  | {
      type: "done";
      finishReason: "stop" | "length";
      usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      costUsd?: number;
    }
  | { type: "error"; errorType: string; message: string };

/** Server-sent events of a response body, parsed by a maintained parser. */
export function sseMessages(body: ReadableStream<Uint8Array>): ReadableStream<EventSourceMessage> {
  return body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
}

/** Maps each SSE message to zero or more upstream events. */
export function mapMessages(
  messages: ReadableStream<EventSourceMessage>,
  map: (m: EventSourceMessage) => UpstreamStreamEvent[],
): ReadableStream<UpstreamStreamEvent> {
  return messages.pipeThrough(
    new TransformStream<EventSourceMessage, UpstreamStreamEvent>({
      transform(message, controller) {
        for (const e of map(message)) controller.enqueue(e);
      },
    }),
  );
}

/**
 * `mapMessages(sseMessages(body), map)` in one transform: the bytes decoded, parsed into server-sent
 * events by the same maintained parser, and mapped, with no stream between the steps (three
 * streams were three promise hops on every token of every streamed answer).
 */
export function sseEvents(body: ReadableStream<Uint8Array>, map: (m: EventSourceMessage) => UpstreamStreamEvent[]): ReadableStream<UpstreamStreamEvent> {
  const decoder = new TextDecoder();
  let parser: EventSourceParser;
  return body.pipeThrough(
    new TransformStream<Uint8Array, UpstreamStreamEvent>({
      start(controller) {
        parser = createParser({
          onEvent(message) {
            for (const e of map(message)) controller.enqueue(e);
          },
        });
      },
      transform(chunk) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      },
      flush() {
        const rest = decoder.decode();
        if (rest) parser.feed(rest);
      },
    }),
  );
}

/** What a streamed call's span and log line learn from one event: usage and cost, an error, the end. */
export function streamEventNote(e: UpstreamStreamEvent): StreamEventNote | undefined {
  if (e.type === "done") return { final: true, promptTokens: e.usage?.prompt_tokens, completionTokens: e.usage?.completion_tokens, costUsd: e.costUsd };
  if (e.type === "error") return { errorType: e.errorType };
  return undefined;
}
