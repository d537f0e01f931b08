// One agent turn against one target: ask, check the answer, and when it does not hold up ask once
// more with the reason shown to the model. The target is behind `TurnBackend`, so the same loop
// runs on a Hosted.AI slice (a rendered prompt) and on the local node (the OpenAI API).
import { correction } from "../families/instructions";
import type { ParsedOutput, TemplateMessage } from "../families/types";
import { interpret, type Verdict } from "./interpret";
import type { AgentTurn, TurnAnswer } from "./types";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One inference for a turn, read back. `raw` is the answer as the model wrote it. */
export interface BackendReply {
  output: ParsedOutput;
  raw: string;
  finishReason: "stop" | "length";
  usage: Usage;
  costUsd: number;
}

export interface TurnBackend {
  ask(turn: AgentTurn): Promise<BackendReply>;
}

export interface TurnResult {
  answer: TurnAnswer;
  /** Both inferences' when the answer needed a retry. */
  usage: Usage;
  costUsd: number;
  retried: boolean;
}

/** The answer did not hold up, twice (or was cut off): what was spent on it, and why. */
export class TurnFailed extends Error {
  constructor(
    readonly kind: Extract<Verdict, { ok: false }>["kind"],
    readonly reason: string,
    readonly usage: Usage,
    readonly costUsd: number,
    /** Cut off at max_tokens: the request's to fix, not the model's. */
    readonly truncated = false,
  ) {
    super(reason);
  }
}

const add = (a: Usage, b: Usage): Usage => ({
  prompt_tokens: a.prompt_tokens + b.prompt_tokens,
  completion_tokens: a.completion_tokens + b.completion_tokens,
  total_tokens: a.total_tokens + b.total_tokens,
});

/** The turn once more, with the model's bad answer and why it was refused. */
export function withCorrection(turn: AgentTurn, raw: string, error: string): AgentTurn {
  const retry: TemplateMessage[] = [
    { role: "assistant", content: raw },
    { role: "user", content: correction(error) },
  ];
  return { ...turn, messages: [...turn.messages, ...retry] };
}

export async function answerTurn(turn: AgentTurn, backend: TurnBackend, callIdPrefix: string): Promise<TurnResult> {
  const first = await backend.ask(turn);
  const verdict = interpret(first.output, turn, first.finishReason, callIdPrefix);
  if (verdict.ok) return { answer: verdict.answer, usage: first.usage, costUsd: first.costUsd, retried: false };
  if (verdict.truncated) {
    throw new TurnFailed(verdict.kind, `${verdict.error}; the answer was cut off at max_tokens, so raise max_tokens`, first.usage, first.costUsd, true);
  }
  const second = await backend.ask(withCorrection(turn, first.raw, verdict.error));
  const usage = add(first.usage, second.usage);
  const costUsd = first.costUsd + second.costUsd;
  const again = interpret(second.output, turn, second.finishReason, callIdPrefix);
  if (again.ok) return { answer: again.answer, usage, costUsd, retried: true };
  throw new TurnFailed(again.kind, `the model's answer was not valid, also after a retry: ${again.error}`, usage, costUsd);
}
