import type { StrikeEvent } from "../covenant";
import type { StreamContinued } from "../covenant/continuation";
import type { NdjsonReader } from "./ndjson-reader";
import { openAiType } from "./openai-errors";
import { cutAtStop, StopScanner } from "./stop-sequences";

interface Started {
  strikeId: string;
  receivedAt: number;
  /** The model asked for (`auto` when the covenant chooses), until the strike names its own. */
  model: string;
  first: StrikeEvent;
  /** The lines after `first`, in the chunks they came in: each chunk's events go out as one write. */
  rest: Pick<NdjsonReader, "nextBatch" | "cancel">;
  /** The response's own headers: a limited key's or covenant's `x-ratelimit-*`. */
  headers?: Record<string, string>;
}

const encoder = new TextEncoder();
const sseText = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

/**
 * A content delta's chunk, as `JSON.stringify` would write the chunk object chatStream builds, but
 * from a template: a stream sends one per token, and only the text (rarely the model) changes.
 */
export function contentChunkJson(id: string, created: number, model: string, content: string): string {
  return `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null,"logprobs":null}]}`;
}

/** A progress line that says where a broken stream was continued, rather than how a fused plan goes. */
const continuedAt = (progress: { type: string }): StreamContinued | undefined =>
  progress.type === "continued" ? (progress as unknown as StreamContinued) : undefined;

/** Arguments go out in pieces of this many characters, as a model's would. */
const ARGUMENT_PIECE = 24;

/**
 * Tool calls as OpenAI streams them: per call, a delta with its index, id, type and name (and
 * empty arguments), then its arguments in pieces under the same index.
 */
export function toolCallDeltas(calls: readonly { id: string; type: "function"; function: { name: string; arguments: string } }[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [index, call] of calls.entries()) {
    out.push({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] });
    for (let at = 0; at < call.function.arguments.length; at += ARGUMENT_PIECE) {
      out.push({ tool_calls: [{ index, function: { arguments: call.function.arguments.slice(at, at + ARGUMENT_PIECE) } }] });
    }
  }
  return out;
}

/**
 * A streamed strike as OpenAI chat-completion chunks over server-sent events, each token sent as
 * it arrives, ending with `data: [DONE]` — or, if the stream broke after output began, with a
 * final chunk whose finish_reason is "error" and an explicit `data: {"error": …}` event and no
 * [DONE], so no client mistakes a cut stream for a complete answer.
 *
 * A fused request has no tokens to stream while its fragments run: each fragment's start and end
 * goes out as a chunk with no choices (as OpenAI's own usage chunk is) carrying
 * `homeskillet.fusion_progress`, and the fused answer follows as one content delta.
 *
 * A stream whose upstream broke after output began and that another target continued (see
 * src/covenant/continuation.ts) goes on as one stream: the chunk where the text continues carries
 * `homeskillet: {continued: true, model, pool_id, allocation_id, after_tokens, reason}`.
 *
 * An agent turn (tools, structured output) streams no tokens: its answer is checked whole first,
 * then goes out as content and tool-call deltas (toolCallDeltas) before the final chunk.
 *
 * Stop sequences are applied as text arrives (see stop-sequences.ts). Once one is reached no more
 * content goes out, but the stream still ends with the strike's own final chunk — its cost, usage
 * and placement — when the upstream finishes; a break after the stop no longer matters to the
 * answer, so the stream then ends cleanly.
 */
export function chatStream(started: Started, opts: { includeUsage: boolean; stops: string[] }): Response {
  const { includeUsage, stops } = opts;
  const scanner = new StopScanner(stops);
  const id = `chatcmpl-${started.strikeId.slice(4)}`;
  const created = Math.floor(started.receivedAt / 1000);
  let model = started.first.event === "token" ? started.first.model : started.model;
  let streamedText = false;
  /** Where the stream was continued, until a chunk carries it. */
  let seam: Record<string, unknown> | undefined;
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...extra,
  });

  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      // The events of one chunk of lines are written together: one enqueue, not one per token.
      let out = "";
      const send = (data: unknown) => {
        out += sseText(data);
      };
      const flush = () => {
        if (out) controller.enqueue(encoder.encode(out));
        out = "";
      };
      send(chunk({ role: "assistant", content: "" }, null));
      const emit = (line: StrikeEvent): boolean => {
        if (line.event === "token") {
          model = line.model;
          streamedText = true;
          const text = scanner.push(line.text);
          if (text && seam) {
            send(chunk({ content: text }, null, { homeskillet: seam }));
            seam = undefined;
          } else if (text) {
            send(contentChunkJson(id, created, model, text));
          }
          return true;
        }
        const continued = line.event === "progress" ? continuedAt(line.progress) : undefined;
        if (continued) {
          const { type: _type, ...where } = continued;
          seam = { continued: true, ...where };
          return true;
        }
        // How the answer cache answered is a header (strike-service.ts); the final chunk says it too.
        if (line.event === "progress" && (line.progress as { type: string }).type === "cache") return true;
        if (line.event === "progress") {
          send({ ...chunk({}, null), choices: [], homeskillet: { fusion_progress: line.progress } });
          return true;
        }
        if (line.event === "placed" || line.event === "limits") return true;
        if (line.event === "done") {
          const s = line.strike;
          model = s.model;
          const calls = s.output.tool_calls ?? [];
          // Tool calls are whole calls: stop sequences apply to text only.
          const rest = streamedText ? scanner.flush() : calls.length ? s.output.content : cutAtStop(s.output.content, stops).text;
          const stopped = scanner.stopped || (!streamedText && rest.length < s.output.content.length);
          if (rest) send(chunk({ content: rest }, null));
          for (const delta of toolCallDeltas(calls)) send(chunk(delta, null));
          const extension = {
            homeskillet: {
              strike_id: line.strike_id,
              covenant_id: s.covenant_id,
              pool_id: s.pool_id,
              allocation_id: s.allocation_id,
              cost_usd: s.cost_usd,
              ...(s.fusion ? { fusion: s.fusion } : {}),
              ...(s.cache ? { cache: s.cache } : {}),
              // A continuation whose text a stop sequence held back entirely: its seam is told here.
              ...(seam ? { continued: true, after_tokens: seam.after_tokens } : {}),
            },
          };
          send(chunk({}, stopped ? "stop" : s.finish_reason, extension));
          if (includeUsage) send({ ...chunk({}, null), choices: [], usage: s.usage });
          send("[DONE]");
          return false;
        }
        if (scanner.stopped) {
          send(chunk({}, "stop"));
          send("[DONE]");
          return false;
        }
        send(chunk({}, "error"));
        send({ error: { message: line.error.message, type: openAiType(line.status), param: null, code: line.error.type } });
        return false;
      };
      try {
        let open = emit(started.first);
        flush();
        while (open) {
          const batch = await started.rest.nextBatch();
          if (!batch) break;
          for (const line of batch) if (open) open = emit(line);
          flush();
        }
        if (open) emit({ event: "error", status: 502, error: { type: "stream_interrupted", message: "the stream ended without finishing" } });
      } catch (err) {
        emit({ event: "error", status: 502, error: { type: "stream_interrupted", message: `the stream broke: ${(err as Error).message}` } });
      }
      // The strike's own stream is let go once its answer (or a failure) has gone out.
      started.rest.cancel();
      flush();
      controller.close();
    },
  });
  return new Response(body, {
    headers: { ...started.headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-homeskillet-strike-id": started.strikeId },
  });
}
