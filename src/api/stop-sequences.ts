/**
 * OpenAI's `stop`: the completion ends just before the first stop sequence, which is not sent,
 * and finish_reason is "stop". Hosted.AI's inference API takes no stop sequences, so the edge
 * applies them to whatever the upstream returns — to a whole answer at once, or to a stream as it
 * arrives, holding back only the few characters that could still turn into a stop sequence.
 */

/** The sequences to stop at: OpenAI takes one string or up to four; empty ones never match. */
export function stopSequences(stop: string | readonly string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return (typeof stop === "string" ? [stop] : [...stop]).filter((s) => s.length > 0);
}

/** Where the earliest stop sequence starts in `text`, or -1. */
function firstStop(text: string, stops: readonly string[]): number {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i !== -1 && (at === -1 || i < at)) at = i;
  }
  return at;
}

export function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  const at = firstStop(text, stops);
  return at === -1 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/** Length of the longest tail of `text` that is the start of some stop sequence (but not all of it). */
function pendingTail(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(s.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

/** Stop sequences over a stream of text deltas, which may split a sequence anywhere. */
export class StopScanner {
  private held = "";
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** What of `delta` may go out now, and whether a stop sequence was reached (nothing more goes out then). */
  push(delta: string): string {
    if (this.done) return "";
    if (this.stops.length === 0) return delta;
    const text = this.held + delta;
    const cut = cutAtStop(text, this.stops);
    if (cut.stopped) {
      this.done = true;
      this.held = "";
      return cut.text;
    }
    const hold = pendingTail(text, this.stops);
    this.held = text.slice(text.length - hold);
    return text.slice(0, text.length - hold);
  }

  /** At the end of the stream: what was held back, since no stop sequence completed it. */
  flush(): string {
    const rest = this.done ? "" : this.held;
    this.held = "";
    return rest;
  }
}
