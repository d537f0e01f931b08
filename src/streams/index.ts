/**
 * Stream plumbing shared by the providers and telemetry: a stream pulled through a step, watched
 * by hooks. One pull source in place of a pipe of streams, since every stream a token passes
 * through costs promise hops on every token of every streamed answer.
 */

/** What watches a stream: each item as it passes, and once, how the stream ended. */
export interface StreamHooks<E> {
  onEvent?: (event: E) => void;
  onEnd: (how: "done" | "cancelled" | Error) => void;
}

/**
 * `source` read on demand, each chunk turned into zero or more items by `step` (and what is left
 * at the end by `flush`). A pull reads until it has at least one item to give; `hooks` see each
 * item as it is made and hear once how the stream ended: read to the end, failed, or cancelled by
 * its reader, so a span or log line can last as long as the stream does.
 */
export function pulledStream<I, O>(
  source: ReadableStream<I>,
  step: (chunk: I, enqueue: (item: O) => void) => void,
  opts: { flush?: (enqueue: (item: O) => void) => void; hooks?: StreamHooks<O> } = {},
): ReadableStream<O> {
  const { flush, hooks } = opts;
  const reader = source.getReader();
  let ended = false;
  const end = (how: "done" | "cancelled" | Error) => {
    if (ended) return;
    ended = true;
    hooks?.onEnd(how);
  };
  let made = 0;
  let enqueue: (item: O) => void;
  return new ReadableStream<O>(
    {
      start(controller) {
        enqueue = (item: O) => {
          hooks?.onEvent?.(item);
          controller.enqueue(item);
          made++;
        };
      },
      async pull(controller) {
        try {
          for (const before = made; made === before; ) {
            const { done, value } = await reader.read();
            if (done) {
              flush?.(enqueue);
              end("done");
              controller.close();
              return;
            }
            step(value, enqueue);
          }
        } catch (err) {
          end(err instanceof Error ? err : new Error(String(err)));
          controller.error(err);
        }
      },
      cancel(reason) {
        end("cancelled");
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
