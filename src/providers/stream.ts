import { createParser, type EventSourceMessage } from "eventsource-parser";
import { pulledStream, type StreamHooks } from "../streams";
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

/**
 * A response body's server-sent events, mapped to upstream events, as one stream that pulls the
 * body itself: the bytes decoded, parsed by a maintained parser (eventsource-parser) and mapped,
 * with no stream between the steps and no pipe behind it (each stream a token passes through
 * costs promise hops on every token of every streamed answer). `hooks` see each event as it is
 * parsed and hear once how the stream ended: what a relay around it would tell, without the relay
 * (see tracedUpstreamStream).
 */
export function sseEvents(
  body: ReadableStream<Uint8Array>,
  map: (m: EventSourceMessage) => UpstreamStreamEvent[],
  hooks?: StreamHooks<UpstreamStreamEvent>,
): ReadableStream<UpstreamStreamEvent> {
  const decoder = new TextDecoder();
  // The parser calls back while it is fed: its events go to the stream's queue as they come.
  let enqueue: (e: UpstreamStreamEvent) => void = () => {};
  const parser = createParser({
    onEvent(message) {
      for (const e of map(message)) enqueue(e);
    },
  });
  const feed = (text: string, to: (e: UpstreamStreamEvent) => void) => {
    enqueue = to;
    parser.feed(text);
  };
  return pulledStream<Uint8Array, UpstreamStreamEvent>(body, (bytes, to) => feed(decoder.decode(bytes, { stream: true }), to), {
    flush: (to) => {
      const rest = decoder.decode();
      if (rest) feed(rest, to);
    },
    ...(hooks && { hooks }),
  });
}

/** What a streamed call's span and log line learn from one event: usage and cost, an error, the end. */
export function streamEventNote(e: UpstreamStreamEvent): StreamEventNote | undefined {
  if (e.type === "done") return { final: true, promptTokens: e.usage?.prompt_tokens, completionTokens: e.usage?.completion_tokens, costUsd: e.costUsd };
  if (e.type === "error") return { errorType: e.errorType };
  return undefined;
}
