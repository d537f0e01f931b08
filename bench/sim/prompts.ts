/**
 * What a live replay sends for a trace request, shared with the simulator so both see the same
 * work: a prompt the gateway and the emulator both count as exactly the trace's context tokens
 * (they estimate four UTF-8 bytes a token), and the completion length the emulator will produce
 * for it (its generator is deterministic in seed, model, prompt, max_tokens and temperature).
 */
import { generateCompletion } from "../../workers/hostedai-emulator/src/textgen";
import type { TraceRequest } from "./trace";

export const REPLAY_TEMPERATURE = 0.7;

const FILLER = "def handler(request):\n    return render(request, context)\n";

export function replayPrompt(r: TraceRequest): string {
  const bytes = 4 * Math.max(1, r.promptTokens);
  const head = `# request ${r.index}\n`;
  return (head + FILLER.repeat(Math.ceil(bytes / FILLER.length) + 1)).slice(0, bytes);
}

/** The request as the gateway will count it (a prompt is never empty). */
export function asSent(r: TraceRequest): TraceRequest {
  return { ...r, promptTokens: Math.max(1, r.promptTokens) };
}

export function emulatedCompletionTokens(r: TraceRequest, model: string, emulatorSeed: string): number {
  return generateCompletion({ seed: emulatorSeed, model, prompt: replayPrompt(r), maxTokens: r.completionTokens, temperature: REPLAY_TEMPERATURE }).completionTokens;
}
