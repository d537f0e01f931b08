// Continuing a broken stream, in isolation: the pure rules (who may continue, what they are
// asked, for how many tokens) and the walk over the rest of the chain with scripted targets.
import { describe, expect, it } from "vitest";
import type { AttemptResult } from "../src/covenant/attempt";
import type { BreakerBook } from "../src/covenant/breakers";
import { continueStream, ledgerShares, type ContinuationDeps, type StreamContinued } from "../src/covenant/continuation";
import { MidStreamError, type InterruptedPart } from "../src/covenant/stream-reader";
import type { StrikeInput } from "../src/covenant/types";
import {
  continuationDeadline,
  continuationPrompt,
  continuationTargets,
  defaultContract,
  modelCatalogue,
  prefillMessages,
  remainingTokens,
  type Target,
} from "../src/policy";
import { UpstreamError } from "../src/providers/errors";

describe("continuation rules", () => {
  it("asks the targets after the one that broke, in chain order", () => {
    const chain = [{ id: "a" }, { id: "b" }, { id: "local" }];
    expect(continuationTargets(chain, "a").map((t) => t.id)).toEqual(["b", "local"]);
    expect(continuationTargets(chain, "local")).toEqual([]);
    expect(continuationTargets(chain, "elsewhere")).toEqual([]);
  });

  it("gives a continuation what is left of max_tokens, and time to start", () => {
    expect(remainingTokens(40, 6)).toBe(34);
    expect(remainingTokens(40, 40)).toBe(0);
    expect(remainingTokens(40, 45)).toBe(0);
    expect(continuationDeadline(50_000, 10_000)).toBe(50_000);
    expect(continuationDeadline(15_000, 10_000)).toBe(20_000);
  });

  it("renders the answer so far as an open assistant turn, or as a prefill message", () => {
    expect(continuationPrompt("user: Hi", "Hello there, ")).toBe("user: Hi\nassistant: Hello there, ");
    expect(prefillMessages("user: Hi", "Hello")).toEqual([
      { role: "user", content: "user: Hi" },
      { role: "assistant", content: "Hello" },
    ]);
  });
});

const usage = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

function part(poolId: string, text: string, tokens: number, costUsd: number): InterruptedPart {
  return { model: "mistral-7b", poolId, allocationId: `alloc_${poolId}`, type: "stream_cut", text, usage: usage(10, tokens), costUsd };
}

function broke(p: InterruptedPart): MidStreamError {
  const err = new MidStreamError("hostedai", "stream_cut", `cut after ${p.usage.completion_tokens} tokens`, p.usage.completion_tokens);
  err.produced = p;
  return err;
}

function answer(poolId: string, text: string, tokens: number, costUsd: number): AttemptResult {
  return { text, finishReason: "stop", usage: usage(14, tokens), costUsd, poolId, allocationId: `alloc_${poolId}`, leaseReused: false, allocateMs: 0, queueMs: 0, inferMs: 5, releaseMs: 0 };
}

const target = (id: string): Target => (id === "local" ? { kind: "local", id: "local" } : { kind: "pool", id, preemptible: false }) as Target;

/** Scripted targets: each either answers (streaming its text as one token) or throws. */
function scripted(script: Record<string, AttemptResult | Error>) {
  const asked: { target: string; sofar: string; maxTokens: number }[] = [];
  const breakers = { admit: () => ({ allowed: true }), success: () => {}, failure: () => {}, abandonProbe: () => {} } as unknown as BreakerBook;
  const deps: ContinuationDeps = {
    breakers,
    attempt: async (t, input, _deadline, on) => {
      asked.push({ target: t.id, sofar: on.continuing.sofar, maxTokens: input.maxTokens });
      const outcome = script[t.id]!;
      if (outcome instanceof MidStreamError) on.onToken(outcome.produced!.text, "mistral-7b");
      if (outcome instanceof Error) throw outcome;
      on.onPlaced({ model: "mistral-7b", poolId: outcome.poolId, allocationId: outcome.allocationId, leaseReused: false });
      on.onToken(outcome.text, "mistral-7b");
      return outcome;
    },
  };
  return { deps, asked };
}

const input = { strikeId: "str_x", promptText: "user: Tell me", promptTokens: 10, maxTokens: 40 } as StrikeInput;
const contract = (continueStreams = true) => {
  const c = defaultContract("c", modelCatalogue(), new Date(0).toISOString());
  return { ...c, qos: { ...c.qos, continue_streams: continueStreams } };
};

async function run(deps: ContinuationDeps, first: InterruptedPart, rest: string[], continueStreams = true) {
  const tokens: string[] = [];
  const seams: StreamContinued[] = [];
  const result = await continueStream(deps, broke(first), rest.map(target), {
    contract: contract(continueStreams),
    input,
    deadline: Date.now() + 60_000,
    onToken: (text) => tokens.push(text),
    announce: (s) => seams.push(s),
  }).catch((err: unknown) => err);
  return { result, tokens, seams };
}

describe("continueStream", () => {
  it("continues on the next target from the text sent, for what is left, and sums the parts", async () => {
    const { deps, asked } = scripted({ b: answer("b", "and then it rained.", 4, 0.002) });
    const { result, tokens, seams } = await run(deps, part("a", "Once upon a time ", 4, 0.001), ["b"]);
    expect(asked).toEqual([{ target: "b", sofar: "Once upon a time ", maxTokens: 36 }]);
    expect(seams).toEqual([{ type: "continued", model: "mistral-7b", pool_id: "b", allocation_id: "alloc_b", after_tokens: 4, reason: "stream_cut" }]);
    expect(tokens).toEqual(["and then it rained."]);
    const r = result as AttemptResult;
    expect(r.text).toBe("Once upon a time and then it rained.");
    expect(r.usage).toEqual(usage(24, 8));
    expect(r.costUsd).toBeCloseTo(0.003, 12);
    expect(r.poolId).toBe("b");
    const shares = ledgerShares("str_x", r, "mistral-7b");
    expect(shares.map((s) => [s.strikeId, s.poolId, s.promptTokens, s.completionTokens])).toEqual([
      ["str_x.part1", "a", 10, 4],
      ["str_x", "b", 14, 4],
    ]);
    expect(shares[1]!.costUsd).toBeCloseTo(0.002, 12);
  });

  it("passes over a target that fails before producing, and continues a continuation that breaks in turn", async () => {
    const { deps, asked } = scripted({
      b: new UpstreamError("hostedai", 503, "pool_unavailable", "down"),
      c: broke(part("c", "and then ", 2, 0.0005)),
      local: answer("local", "it rained.", 2, 0),
    });
    const { result, seams } = await run(deps, part("a", "Once upon a time ", 4, 0.001), ["b", "c", "local"]);
    expect(asked.map((a) => [a.target, a.sofar, a.maxTokens])).toEqual([
      ["b", "Once upon a time ", 36],
      ["c", "Once upon a time ", 36],
      ["local", "Once upon a time and then ", 34],
    ]);
    expect(seams.map((s) => [s.pool_id, s.after_tokens])).toEqual([
      ["c", 4],
      ["local", 6],
    ]);
    const r = result as AttemptResult;
    expect(r.text).toBe("Once upon a time and then it rained.");
    expect(r.interrupted!.map((p) => p.poolId)).toEqual(["a", "c"]);
    expect(ledgerShares("str_x", r, "mistral-7b").map((s) => s.strikeId)).toEqual(["str_x.part1", "str_x.part2", "str_x"]);
  });

  it("gives up with every part sent when no target can continue", async () => {
    const { deps } = scripted({ b: new UpstreamError("hostedai", 500, "injected_fault", "boom") });
    const failed = (await run(deps, part("a", "Once ", 1, 0.001), ["b"])).result as MidStreamError;
    expect(failed).toBeInstanceOf(MidStreamError);
    expect(failed.message).toMatch(/no target could continue it \(tried b\)/);
    expect(failed.parts.map((p) => p.poolId)).toEqual(["a"]);
    const none = (await run(scripted({}).deps, part("a", "Once ", 1, 0.001), [])).result as MidStreamError;
    expect(none.message).toMatch(/no target was left to continue it/);
  });

  it("does not continue when the covenant says continue_streams: false", async () => {
    const { deps, asked } = scripted({ b: answer("b", "rest", 1, 0) });
    const failed = (await run(deps, part("a", "Once ", 1, 0.001), ["b"], false)).result as MidStreamError;
    expect(failed).toBeInstanceOf(MidStreamError);
    expect(asked).toEqual([]);
    expect(failed.parts).toHaveLength(1);
  });

  it("finishes with length when the part sent already holds all max_tokens", async () => {
    const { deps, asked } = scripted({ b: answer("b", "more", 1, 0) });
    const r = (await run(deps, part("a", "forty words", 40, 0.004), ["b"])).result as AttemptResult;
    expect(asked).toEqual([]);
    expect(r).toMatchObject({ text: "forty words", finishReason: "length", poolId: "a", costUsd: 0.004 });
    expect(ledgerShares("str_x", r, "mistral-7b")).toHaveLength(1);
  });
});
