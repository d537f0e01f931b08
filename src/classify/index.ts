// Request analysis at the edge, before the covenant object is called.
import type { ChatMessage } from "../schema";

/** Messages flattened to the one text the upstream completion API and the classifier read. */
export function flattenMessages(messages: readonly ChatMessage[]): string {
  return messages
    .map((m) => {
      const content = typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n");
      return `${m.role}: ${content}`;
    })
    .join("\n");
}

const utf8 = new TextEncoder();

/** Prompt tokens, estimated the way tokenizer-free gateways do: about four UTF-8 bytes a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(utf8.encode(text).byteLength / 4);
}

export interface RequestAnalysis {
  promptText: string;
  promptTokens: number;
}

export function analyseRequest(input: { messages?: readonly ChatMessage[]; prompt?: string }): RequestAnalysis {
  const promptText = input.prompt ?? flattenMessages(input.messages ?? []);
  return { promptText, promptTokens: estimateTokens(promptText) };
}
