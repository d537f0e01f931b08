import {
  continuationDeadline,
  continuationPromptTokens,
  countsAgainstBreaker,
  mayContinueStreams,
  remainingTokens,
  type Target,
} from "../policy";
import { UpstreamError } from "../providers/errors";
import type { CovenantContract } from "../schema";
import type { AttemptResult } from "./attempt";
import type { BreakerBook } from "./breakers";
import { MidStreamError, type InterruptedPart } from "./stream-reader";
import type { StrikeInput } from "./types";

/**
 * Where a continued stream changed hands, as the edge hears of it before the continuation's
 * first token: the model and pool that carry on, and after how many tokens. It travels on the
 * strike's progress line (`{"event": "progress", "progress": {"type": "continued", …}}`), which
 * every watcher already relays, and reaches OpenAI clients as the `homeskillet` field of the
 * chunk where the text continues.
 */
export interface StreamContinued {
  type: "continued";
  model: string;
  pool_id: string;
  allocation_id: string;
  /** Tokens the client had received before the continuation's first one. */
  after_tokens: number;
  /** Why the stream broke (stream_cut, stream_stalled, allocation_preempted, …). */
  reason: string;
}

type OnToken = (text: string, model: string) => void;
type Placed = { model: string; poolId: string; allocationId: string; leaseReused: boolean };

export interface ContinuationDeps {
  breakers: BreakerBook;
  attemptFailed?: (e: { target: string; type: string }) => void;
  /** One try on `target`: `input` is the continuation's (what is left of max_tokens), `continuing` the answer so far. */
  attempt: (target: Target, input: StrikeInput, deadline: number, on: { continuing: { sofar: string }; onToken: OnToken; onPlaced: (p: Placed) => void }) => Promise<AttemptResult>;
}

export interface ContinuationRun {
  contract: CovenantContract;
  input: StrikeInput;
  /** The strike's deadline; a continuation always gets CONTINUATION_WINDOW_MS from the break. */
  deadline: number;
  onToken: OnToken;
  onPlaced?: (p: Placed) => void;
  announce?: (seam: StreamContinued) => void;
  signal?: AbortSignal;
}

/**
 * A stream broke after output began: when the covenant allows it, the targets after the one that
 * broke (`rest`, in chain order) are asked in turn to continue from the text already sent —
 * prefill on the local node, a continuation prompt on Hosted.AI — for what is left of
 * max_tokens. One try each: the client is waiting mid-answer. A continuation that itself breaks
 * after producing is continued in turn; one that fails before producing passes to the next
 * target. Returns the whole answer (its usage and cost the sum of every part, each part listed
 * in `interrupted` so it is booked where it ran), or throws the last break, carrying every part
 * sent, when no target could continue.
 */
export async function continueStream(deps: ContinuationDeps, broken: MidStreamError, rest: readonly Target[], run: ContinuationRun): Promise<AttemptResult> {
  const parts = broken.produced ? [broken.produced] : [];
  let last = broken;
  const tried: string[] = [];
  const giveUp = (why: string): never => {
    last.parts = parts;
    if (why) last.message = `${last.message}; ${why}`;
    throw last;
  };
  if (!mayContinueStreams(run.contract) || parts.length === 0) giveUp("");
  const sentSoFar = () => parts.reduce((n, p) => n + p.usage.completion_tokens, 0);
  for (const target of rest) {
    // Everything max_tokens allowed was already sent: the answer is whole.
    if (remainingTokens(run.input.maxTokens, sentSoFar()) === 0) break;
    if (run.signal?.aborted) break;
    const sofar = parts.map((p) => p.text).join("");
    const sent = sentSoFar();
    const left = remainingTokens(run.input.maxTokens, sent);
    if (!deps.breakers.admit(target.id, Date.now()).allowed) continue;
    tried.push(target.id);
    const input = { ...run.input, maxTokens: left, promptTokens: continuationPromptTokens(run.input.promptTokens, sofar) };
    let placed: Placed | undefined;
    let first = true;
    const on = {
      continuing: { sofar },
      onPlaced: (p: Placed) => {
        placed = p;
        run.onPlaced?.(p);
      },
      onToken: (text: string, model: string) => {
        if (first) {
          first = false;
          const at = placed ?? { model, poolId: target.id, allocationId: target.id };
          run.announce?.({ type: "continued", model: at.model, pool_id: at.poolId, allocation_id: at.allocationId, after_tokens: sent, reason: last.type });
        }
        run.onToken(text, model);
      },
    };
    try {
      const r = await deps.attempt(target, input, continuationDeadline(run.deadline, Date.now()), on);
      deps.breakers.success(target.id, Date.now());
      return combine(parts, r);
    } catch (err) {
      if (err instanceof MidStreamError) {
        deps.breakers.failure(target.id, Date.now(), `${err.type}: ${err.message}`);
        deps.attemptFailed?.({ target: target.id, type: err.type });
        if (err.produced) parts.push(err.produced);
        last = err;
        continue;
      }
      if (!(err instanceof UpstreamError)) {
        deps.breakers.abandonProbe(target.id, Date.now());
        throw err;
      }
      deps.attemptFailed?.({ target: target.id, type: err.type });
      if (countsAgainstBreaker(err.status, err.type)) deps.breakers.failure(target.id, Date.now(), `${err.type}: ${err.message}`);
      else deps.breakers.abandonProbe(target.id, Date.now());
    }
  }
  if (remainingTokens(run.input.maxTokens, sentSoFar()) === 0) return whole(parts);
  return giveUp(tried.length === 0 ? "no target was left to continue it" : `no target could continue it (tried ${tried.join(", ")})`);
}

/** The continuation's answer with the parts before it: text, usage and cost are the whole's. */
function combine(parts: InterruptedPart[], r: AttemptResult): AttemptResult {
  const sum = (f: (p: InterruptedPart) => number) => parts.reduce((n, p) => n + f(p), 0);
  const prompt = r.usage.prompt_tokens + sum((p) => p.usage.prompt_tokens);
  const completion = r.usage.completion_tokens + sum((p) => p.usage.completion_tokens);
  return {
    ...r,
    text: parts.map((p) => p.text).join("") + r.text,
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    costUsd: r.costUsd + sum((p) => p.costUsd),
    interrupted: [...parts, ...(r.interrupted ?? [])],
  };
}

/** Parts that already hold all max_tokens allowed: the last one stands as the answer's end. */
function whole(parts: InterruptedPart[]): AttemptResult {
  const end = parts.at(-1)!;
  const alone: AttemptResult = {
    text: end.text,
    finishReason: "length",
    usage: end.usage,
    costUsd: end.costUsd,
    poolId: end.poolId,
    allocationId: end.allocationId,
    leaseReused: false,
    allocateMs: 0,
    queueMs: 0,
    inferMs: 0,
    releaseMs: 0,
  };
  return combine(parts.slice(0, -1), alone);
}

/**
 * The ledger rows of a strike's answer: each interrupted part where it ran (`<strike id>.part1`,
 * …), and the rest under the strike's own id — so every pool's usage, and every lease's share,
 * holds exactly what its upstream billed there, and the rows add up to the answer's usage and
 * cost.
 */
export function ledgerShares(strikeId: string, r: AttemptResult, model: string): { strikeId: string; model: string; poolId: string; allocationId: string; promptTokens: number; completionTokens: number; costUsd: number }[] {
  const parts = r.interrupted ?? [];
  const sum = (f: (p: InterruptedPart) => number) => parts.reduce((n, p) => n + f(p), 0);
  return [
    ...parts.map((p, i) => ({
      strikeId: `${strikeId}.part${i + 1}`,
      model: p.model,
      poolId: p.poolId,
      allocationId: p.allocationId,
      promptTokens: p.usage.prompt_tokens,
      completionTokens: p.usage.completion_tokens,
      costUsd: p.costUsd,
    })),
    {
      strikeId,
      model,
      poolId: r.poolId,
      allocationId: r.allocationId,
      promptTokens: r.usage.prompt_tokens - sum((p) => p.usage.prompt_tokens),
      completionTokens: r.usage.completion_tokens - sum((p) => p.usage.completion_tokens),
      costUsd: r.costUsd - sum((p) => p.costUsd),
    },
  ];
}
