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

/**
 * One stop sequence as a Knuth–Morris–Pratt automaton: `state` is the length of the longest tail of
 * the text read so far that is a start of the sequence, kept up to date a character at a time in
 * amortised constant time. (Re-checking every tail of the held text against every start of the
 * sequence, as this once did, was quadratic in the sequence's length on each delta.)
 */
class StopMatcher {
  state = 0;
  private readonly border: Int32Array;

  constructor(readonly stop: string) {
    // border[i]: length of the longest proper prefix of stop[0..i] that is also its suffix.
    this.border = new Int32Array(stop.length);
    for (let i = 1, k = 0; i < stop.length; i++) {
      while (k > 0 && stop.charCodeAt(i) !== stop.charCodeAt(k)) k = this.border[k - 1]!;
      if (stop.charCodeAt(i) === stop.charCodeAt(k)) k++;
      this.border[i] = k;
    }
  }

  /** Reads one UTF-16 unit; true when the whole sequence has just been read. */
  read(c: number): boolean {
    let k = this.state;
    while (k > 0 && this.stop.charCodeAt(k) !== c) k = this.border[k - 1]!;
    if (this.stop.charCodeAt(k) === c) k++;
    if (k === this.stop.length) {
      this.state = this.border[k - 1]!;
      return true;
    }
    this.state = k;
    return false;
  }
}

/**
 * Stop sequences over a stream of text deltas, which may split a sequence anywhere. What goes out
 * is what cutting the text so far at its earliest stop sequence would give; the held characters —
 * the longest tail that could still turn into a stop sequence — are kept as the deltas they came
 * in and never read again, so a stream costs time linear in its length whatever the sequences.
 */
export class StopScanner {
  private readonly matchers: StopMatcher[];
  private readonly longest: number;
  /** Held deltas: `held[head]` from `offset` on, then the rest whole. */
  private held: string[] = [];
  private head = 0;
  private offset = 0;
  private heldLength = 0;
  private done = false;

  constructor(stops: readonly string[]) {
    this.matchers = stops.filter((s) => s.length > 0).map((s) => new StopMatcher(s));
    this.longest = Math.max(0, ...this.matchers.map((m) => m.stop.length));
  }

  get stopped(): boolean {
    return this.done;
  }

  /** What of `delta` may go out now, and whether a stop sequence was reached (nothing more goes out then). */
  push(delta: string): string {
    if (this.done) return "";
    if (this.matchers.length === 0) return delta;
    // Positions count from the first held character. A sequence cannot lie within the held text
    // (it would have stopped the stream already), so any occurrence ends in this delta; among
    // those the one that starts first wins, as it does when a whole answer is cut.
    let earliest = Infinity;
    const found = new Set<StopMatcher>();
    for (let j = 0; j < delta.length; j++) {
      const end = this.heldLength + j + 1;
      if (end - this.longest >= earliest) break;
      const c = delta.charCodeAt(j);
      for (const m of this.matchers) {
        if (found.has(m) || !m.read(c)) continue;
        found.add(m);
        earliest = Math.min(earliest, end - m.stop.length);
      }
    }
    this.held.push(delta);
    this.heldLength += delta.length;
    if (earliest !== Infinity) {
      this.done = true;
      const out = this.release(earliest);
      this.clear();
      return out;
    }
    const hold = Math.max(...this.matchers.map((m) => m.state));
    return this.release(this.heldLength - hold);
  }

  /** At the end of the stream: what was held back, since no stop sequence completed it. */
  flush(): string {
    const rest = this.done ? "" : this.release(this.heldLength);
    this.clear();
    return rest;
  }

  /** The first `n` held characters, no longer held. */
  private release(n: number): string {
    const out: string[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.held[this.head]!;
      const take = Math.min(left, chunk.length - this.offset);
      out.push(chunk.slice(this.offset, this.offset + take));
      left -= take;
      this.offset += take;
      if (this.offset === chunk.length) {
        this.head++;
        this.offset = 0;
      }
    }
    this.heldLength -= n;
    // Drop released deltas now and then, so the array does not grow with the stream.
    if (this.head > 64 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
    return out.join("");
  }

  private clear(): void {
    this.held = [];
    this.head = 0;
    this.offset = 0;
    this.heldLength = 0;
  }
}
