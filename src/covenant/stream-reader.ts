import { UpstreamError } from "../providers/errors";
import type { UpstreamStreamEvent } from "../providers/stream";

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** What a stream delivered before it broke, and — when the upstream said so — what that was billed. */
export interface StreamPartial {
  text: string;
  tokens: number;
  usage?: Usage;
  costUsd?: number;
}

/** A part of an answer that reached the client before its upstream failed: booked as what it was. */
export interface InterruptedPart {
  model: string;
  poolId: string;
  allocationId: string;
  /** Why it ended (stream_cut, stream_stalled, allocation_preempted, …). */
  type: string;
  text: string;
  usage: Usage;
  /** This strike's share of what the upstream billed for the part. */
  costUsd: number;
}

/**
 * A stream that failed after the client already received tokens: it cannot be retried
 * transparently. It is continued elsewhere from the text already sent when the covenant allows
 * (continuation.ts), and otherwise the client is told explicitly (never a silent clean end).
 */
export class MidStreamError extends Error {
  /** Set by the attempt that failed: where the part was produced and what it was charged. */
  produced?: InterruptedPart;
  /** Every part sent before the failure, oldest first, when continuations were tried. */
  parts: InterruptedPart[] = [];

  constructor(
    readonly provider: string,
    readonly type: "stream_cut" | "stream_stalled" | string,
    message: string,
    readonly tokensSent: number,
    readonly partial: StreamPartial = { text: "", tokens: tokensSent },
  ) {
    super(message);
    this.name = "MidStreamError";
  }
}

export interface StreamRead {
  text: string;
  tokens: number;
  finishReason: "stop" | "length";
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  costUsd?: number;
}

/**
 * Reads an upstream's events, passing tokens on as they come, under a first-token deadline and
 * an idle deadline. Failures before the first token are UpstreamErrors (the chain may fall back
 * transparently); after it, MidStreamErrors. A stream that ends without its `done` event was cut.
 */
export async function readUpstream(
  provider: string,
  events: ReadableStream<UpstreamStreamEvent>,
  opts: { firstTokenMs: number; idleMs: number; onToken: (text: string) => void },
): Promise<StreamRead> {
  const reader = events.getReader();
  let text = "";
  let tokens = 0;
  let usage: Usage | undefined;
  let costUsd: number | undefined;
  const fail = (type: string, message: string, status: number): never => {
    void reader.cancel().catch(() => {});
    if (tokens === 0) throw new UpstreamError(provider, status, type, message);
    throw new MidStreamError(provider, type, `${message} after ${tokens} tokens`, tokens, { text, tokens, usage, costUsd });
  };
  // One watchdog per stream rather than a timer per token: a token only moves the deadline later;
  // the timer, when it fires early, re-arms for what is left (and is re-armed at once when the
  // deadline moves earlier than it, from the first-token deadline to a shorter idle one). A
  // deadline that passes cancels the reader, which ends the pending read.
  let deadline = Date.now() + opts.firstTokenMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let timedOut = false;
  const arm = (ms: number) => {
    if (!Number.isFinite(ms)) return;
    timerAt = Date.now() + Math.max(0, ms);
    timer = setTimeout(check, Math.max(0, ms));
  };
  const check = () => {
    timer = undefined;
    timerAt = Infinity;
    const left = deadline - Date.now();
    if (left > 0) return arm(left);
    timedOut = true;
    void reader.cancel().catch(() => {});
  };
  arm(opts.firstTokenMs);
  try {
    for (;;) {
      const r = await reader.read();
      if (timedOut) {
        fail(tokens === 0 ? "timeout" : "stream_stalled", tokens === 0 ? `no first token within ${opts.firstTokenMs} ms` : `no token for ${opts.idleMs} ms`, 0);
        continue;
      }
      if (r.done) {
        fail("stream_cut", "the upstream ended the stream without finishing it", 0);
        continue;
      }
      const event = r.value;
      if (event.type === "token") {
        text += event.text;
        tokens++;
        if (event.usage) usage = event.usage;
        if (event.costUsd !== undefined) costUsd = event.costUsd;
        deadline = Date.now() + opts.idleMs;
        if (deadline < timerAt) {
          if (timer !== undefined) clearTimeout(timer);
          arm(opts.idleMs);
        }
        opts.onToken(event.text);
      } else if (event.type === "done") {
        void reader.cancel().catch(() => {});
        return { text, tokens, finishReason: event.finishReason, usage: event.usage, costUsd: event.costUsd };
      } else {
        // A preempted allocation is gone: 409 makes the chain drop the lease and try elsewhere.
        fail(event.errorType, event.message, event.errorType === "allocation_preempted" ? 409 : 502);
      }
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
