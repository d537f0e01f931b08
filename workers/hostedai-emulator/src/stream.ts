// Streamed inference as server-sent events: `token` events paced by the token schedule, then one
// `done` event — or an `error` event if the allocation is preempted mid-stream. An injected
// stream cut ends the body after n tokens with neither, as a dropped upstream would.
import type { HostedAiCluster } from "./cluster";
import { errorBody } from "./errors";
import { allocationPreempted } from "./faults";
import { tokenSchedule } from "./throughput";
import type { InferenceReceipt } from "./views";
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
  /** One word per token; streamed texts joined give exactly the non-streaming `text`. */
  words: readonly string[];
  done: DoneEvent;
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
  let finished = false;
  const finish = (how: { streamCut?: boolean } = {}) => {
    finished = true;
    return stub.finishInference(receipt.inference_id, allocationId, how);
  };
  try {
    for (const { index, atMs } of tokenSchedule(receipt.schedule)) {
      if (cutAfter !== null && index >= cutAfter) break;
      if (await sleepWatching(run.startedAt + atMs, watch)) {
        await finish();
        yield preemptedEvent();
        return;
      }
      const last = index === run.words.length - 1;
      yield sseEvent("token", { text: last ? run.words[index] : `${run.words[index]} `, index });
    }
    if (cutAfter !== null) {
      await finish({ streamCut: true });
      return;
    }
    const outcome = await finish();
    yield outcome.preempted ? preemptedEvent() : sseEvent("done", run.done);
  } finally {
    // The reader went away mid-stream: the inference still leaves the in-flight set.
    if (!finished) await finish();
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
