// Continuing a broken stream: who may continue it, what they are asked, and for how long. Pure.
import type { CovenantContract } from "../schema";

/**
 * A continuation gets at least this long from the break to its first token, even past the
 * strike's own deadline: the client is mid-answer, and a continuation that may not even start is
 * worth less than the wait.
 */
export const CONTINUATION_WINDOW_MS = 10_000;

/** Whether the covenant lets a stream that broke after output began be continued elsewhere. */
export function mayContinueStreams(contract: CovenantContract): boolean {
  return contract.qos.continue_streams !== false;
}

/**
 * The targets that may continue a stream broken on `failedId`: those after it in the chain the
 * strike walked, in order. The target that broke is not asked again — it just failed, mid-answer
 * — and those before it already failed this strike before its first token.
 */
export function continuationTargets<T extends { id: string }>(chain: readonly T[], failedId: string): T[] {
  const at = chain.findIndex((t) => t.id === failedId);
  return at < 0 ? [] : chain.slice(at + 1);
}

/** What is left of the strike's max_tokens once `sent` tokens went out: all the continuation may write. */
export function remainingTokens(maxTokens: number, sent: number): number {
  return Math.max(0, maxTokens - sent);
}

/** The continuation's deadline: the strike's, or CONTINUATION_WINDOW_MS after the break if later. */
export function continuationDeadline(strikeDeadline: number, now: number): number {
  return Math.max(strikeDeadline, now + CONTINUATION_WINDOW_MS);
}

/**
 * For an upstream that takes a prompt and has no prefill (Hosted.AI's inference API): the
 * prompt with the answer so far as an open assistant turn, in the same role-prefixed transcript
 * the prompt itself is (`user: …` lines), so the model continues that answer instead of
 * starting one. `sofar` goes in exactly as sent: its trailing space, or its lack of one, tells
 * the model where the next word starts.
 */
export function continuationPrompt(promptText: string, sofar: string): string {
  return `${promptText}\nassistant: ${sofar}`;
}

/**
 * For an OpenAI-compatible chat upstream (the local node): the prompt as the user's turn and the
 * answer so far as a trailing assistant message to be continued — prefill. vLLM continues it when
 * asked with `continue_final_message` (and no generation prompt), llama.cpp's server unasked.
 */
export function prefillMessages(promptText: string, sofar: string): { role: "user" | "assistant"; content: string }[] {
  return [
    { role: "user", content: promptText },
    { role: "assistant", content: sofar },
  ];
}

/** The tokens a continuation's prompt holds beyond the strike's own: the answer so far, estimated as the edge does. */
export function continuationPromptTokens(promptTokens: number, sofar: string): number {
  return promptTokens + Math.ceil(new TextEncoder().encode(sofar).byteLength / 4) + 3;
}
