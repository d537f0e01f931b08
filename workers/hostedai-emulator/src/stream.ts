// Streamed inference as server-sent events: `token` events paced by the token schedule, then one
// `done` event — or an `error` event if the allocation is preempted mid-stream. An injected
// stream cut ends the body after n tokens with neither, as a dropped upstream would. Every token
// event carries the usage and cost so far, so a caller whose stream breaks knows what it was
// billed; the bill is what was delivered, however the stream ended.
import type { HostedAiCluster } from "./cluster";
import { errorBody } from "./errors";
import { allocationPreempted } from "./faults";
import { costUsd } from "./billing";
import { tokenSchedule } from "./throughput";
import type { InferenceBill, InferenceOutcome, InferenceReceipt } from "./views";
import { PreemptionWatch, sleepWatching } from "./watch";

/** The `done` event's data: the non-streaming answer without its text. */
export interface DoneEvent {
  allocation_id: string;
  model: string;
  finish_reason: "stop" | "length";
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  latency_ms: number;
  cost_usd: number;
}

export interface StreamRun {
  stub: DurableObjectStub<HostedAiCluster>;
  allocationId: string;
  receipt: InferenceReceipt;
  /** Epoch ms the token schedule counts from. */
  startedAt: number;
  /** The text of each token; joined they give exactly the non-streaming `text`. */
  tokens: readonly string[];
  done: DoneEvent;
  /** The bill for an ending: what was delivered (tokens, their text) and what that cost. */
  bill: (outcome: InferenceOutcome, delivered: number, text: string, costUsd: number) => InferenceBill;
}

/** What the answer cost up to the end of token `index`: its emulated time on the slice. */
export function costThrough(receipt: InferenceReceipt, atMs: number): number {
  return costUsd((atMs * receipt.time_scale) / 1000, receipt.price_per_hour);
}

export function sseEvent(event: "token" | "done" | "error", data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function inferenceStream(run: StreamRun): Response {
  return new Response(eventBody(events(run)), {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  });
}

async function* events(run: StreamRun): AsyncGenerator<string, void, undefined> {
  const { stub, receipt, allocationId } = run;
  const watch = receipt.preemptible ? new PreemptionWatch(() => stub.isPreempted(allocationId)) : undefined;
  const cutAfter = receipt.stream_cut_after_tokens;
  const preemptedEvent = () => sseEvent("error", errorBody(allocationPreempted(allocationId)));
  const prompt = run.done.usage.prompt_tokens;
  let finished = false;
  let sent = 0;
  let cost = 0;
  const finish = (outcome: InferenceOutcome, how: { streamCut?: boolean } = {}) => {
    finished = true;
    const bill = run.bill(outcome, sent, run.tokens.slice(0, sent).join(""), outcome === "done" ? run.done.cost_usd : cost);
    return stub.finishInference(receipt.inference_id, allocationId, { ...how, bill });
  };
  try {
    for (const { index, atMs } of tokenSchedule(receipt.schedule)) {
      if (cutAfter !== null && index >= cutAfter) break;
      if (await sleepWatching(run.startedAt + atMs, watch)) {
        await finish("preempted");
        yield preemptedEvent();
        return;
      }
      sent = index + 1;
      cost = costThrough(receipt, atMs);
      const usage = { prompt_tokens: prompt, completion_tokens: sent, total_tokens: prompt + sent };
      yield sseEvent("token", { text: run.tokens[index], index, usage, cost_usd: cost });
    }
    if (cutAfter !== null) {
      await finish("cut", { streamCut: true });
      return;
    }
    const outcome = await finish("done");
    yield outcome.preempted ? preemptedEvent() : sseEvent("done", run.done);
  } finally {
    // The reader went away mid-stream: the inference still leaves the in-flight set.
    if (!finished) await finish("abandoned");
  }
}

/** Pulls one event at a time, so nothing is produced ahead of the reader and a hang-up stops the generator. */
function eventBody(source: AsyncGenerator<string, void, undefined>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await source.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
