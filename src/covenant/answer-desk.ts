// The answer cache as a strike meets it: look the answer up, join an identical strike already
// running, or run and leave the answer for the next one. The strike runner asks once, before any
// cost is admitted; everything about flights of identical requests stays here.
import type { CovenantContract } from "../schema";
import { tenantKey } from "../fusion";
import { answerIdentity, cacheVerdict, hitReport, type AnswerCache, type AnswerIdentity, type CachedAnswer, type CacheHit } from "./answer-cache";
import type { StrikeInput, StrikeSuccess } from "./types";

/** Resolves with `work`'s value, or with undefined as soon as `signal` fires. */
const untilStopped = <T>(work: Promise<T>, signal?: AbortSignal): Promise<T | undefined> =>
  !signal
    ? work
    : signal.aborted
      ? Promise.resolve(undefined)
      : new Promise((resolve) => {
          const stop = () => resolve(undefined);
          signal.addEventListener("abort", stop, { once: true });
          void work.then((v) => (signal.removeEventListener("abort", stop), resolve(v)));
        });

/** A strike the cache could not answer: whether it may keep its answer, and how to end its turn. */
export interface CacheTicket {
  /** Present when the answer may be kept (a cacheable strike). */
  keeps?: { id: AnswerIdentity; settings: CovenantContract["cache"] };
  /** Leaves the answer for later strikes, and for identical ones waiting on this one. */
  keep(answer: CachedAnswer): void;
  /** Ends this strike's turn (answered or not): strikes waiting on it hear what it kept, if anything. */
  close(): void;
}

export type Consulted = { kind: "hit"; hit: CacheHit } | { kind: "run"; ticket: CacheTicket };

const UNCACHED: CacheTicket = { keep: () => {}, close: () => {} };

export class AnswerDesk {
  /** Cacheable strikes running now, by tenant and exact key: an identical one arriving meanwhile waits for their answer. */
  private readonly answering = new Map<string, Promise<CachedAnswer | undefined>>();

  constructor(private readonly cache: AnswerCache | undefined) {}

  /** Drops every cached answer (the covenant is being deleted). */
  forget(): void {
    this.cache?.forget();
  }

  /**
   * A cached answer for the strike, or the ticket it runs with. A fragment of a fused plan (its
   * budget held by the plan) is fusion's to cache. When an identical strike is running, this one
   * waits for its answer (a hit) — or, if it fails or `signal` fires first, runs after all.
   */
  async consult(contract: CovenantContract, input: StrikeInput, model: string, fragment: boolean, signal?: AbortSignal): Promise<Consulted> {
    const verdict = this.cache ? cacheVerdict(contract, input, fragment) : undefined;
    if (!verdict?.use) return { kind: "run", ticket: UNCACHED };
    const cache = this.cache!;
    const id = await answerIdentity(input, model);
    const hit = cache.lookup(input.tenant, id, verdict.settings);
    if (hit) return { kind: "hit", hit };
    const key = tenantKey(input.tenant, id.hash);
    const running = this.answering.get(key);
    const keeps = { id, settings: verdict.settings };
    if (running) {
      const shared = await untilStopped(running, signal);
      if (shared) return { kind: "hit", hit: { status: "hit", similarity: 1, answer: shared } };
      return { kind: "run", ticket: { keeps, keep: (a) => cache.store(input.tenant, id, a, verdict.settings), close: () => {} } };
    }
    let done!: (a: CachedAnswer | undefined) => void;
    this.answering.set(key, new Promise((resolve) => (done = resolve)));
    let kept: CachedAnswer | undefined;
    return {
      kind: "run",
      ticket: {
        keeps,
        keep: (a) => {
          cache.store(input.tenant, id, a, verdict.settings);
          kept = a;
        },
        close: () => {
          this.answering.delete(key);
          done(kept);
        },
      },
    };
  }
}

/**
 * A strike answered from the cache, as the runner returns it: nothing ran upstream, so no tokens
 * and no cost; the `cache` field says where the answer came from and what it saved.
 */
export function cachedStrike(hit: CacheHit, input: StrikeInput, model: string, reason: string, now: number): StrikeSuccess["strike"] {
  const { answer } = hit;
  return {
    covenant_id: input.covenantId,
    model,
    pool_id: "cache",
    allocation_id: "cache",
    model_reason: reason,
    lease_reused: false,
    output: { role: "assistant", content: answer.text },
    finish_reason: answer.finishReason,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    cost_usd: 0,
    timings: { queue_ms: 0, allocate_ms: 0, infer_ms: 0, release_ms: 0 },
    cache: hitReport(hit, now),
  };
}
