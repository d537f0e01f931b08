// Request analysis at the edge, before the covenant object is called: the text the upstream
// will see, and the WebAssembly classifier's reading of it.
import type { ChatMessage, Classification } from "../schema";
import { inSpanSync } from "../telemetry/tracing";
import { Classifier, instantiateClassifier } from "./engine";
// Built by wasm/build.mjs (npm start / test / deploy); Workers import .wasm as a compiled module.
import classifierModule from "../../wasm/build/classifier.wasm";

export { CONFIDENCE_THRESHOLD, Classifier, instantiateClassifier } from "./engine";

/** Messages flattened to the one text the upstream completion API and the classifier read. */
export function flattenMessages(messages: readonly ChatMessage[]): string {
  return messages
    .map((m) => {
      const content = typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n");
      return `${m.role}: ${content}`;
    })
    .join("\n");
}

/**
 * What the task label is read from: the user's own words. A system prompt ("You are a helpful
 * assistant…") or an earlier answer says little about what is asked now, and the role names the
 * flattened text carries are not part of any prompt; undefined when there is no user message.
 */
export function taskText(messages: readonly ChatMessage[]): string | undefined {
  const user = messages.filter((m) => m.role === "user");
  if (user.length === 0) return undefined;
  return user.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n"))).join("\n");
}

const utf8 = new TextEncoder();

/** Prompt tokens, estimated the way tokenizer-free gateways do: about four UTF-8 bytes a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(utf8.encode(text).byteLength / 4);
}

// One instance per isolate: instantiating a compiled module is cheap, but not free per request.
let classifier: Classifier | undefined;

function edgeClassifier(): Classifier {
  classifier ??= instantiateClassifier(classifierModule);
  return classifier;
}

/** The classifier's reading of a text: task label with probabilities, complexity, token estimates. */
export function classify(text: string): Classification {
  return edgeClassifier().classify(text);
}

export interface RequestAnalysis {
  promptText: string;
  promptTokens: number;
  classification: Classification;
}

export function analyseRequest(input: { messages?: readonly ChatMessage[]; prompt?: string }): RequestAnalysis {
  return inSpanSync("classify", {}, (span) => {
    const promptText = input.prompt ?? flattenMessages(input.messages ?? []);
    // Sizes and complexity from everything the upstream will read; the task from the user's words.
    let classification = classify(promptText);
    const task = input.prompt === undefined && input.messages ? taskText(input.messages) : undefined;
    if (task !== undefined) {
      const { label, probabilities, confident } = classify(task);
      classification = { ...classification, label, probabilities, confident };
    }
    // The reading, never the text: prompts stay out of traces.
    if (span.isRecording()) {
      span.setAttributes({
        "homeskillet.classify.label": classification.label,
        "homeskillet.classify.complexity": classification.complexity,
        "gen_ai.usage.input_tokens": classification.prompt_tokens,
      });
    }
    return { promptText, promptTokens: classification.prompt_tokens, classification };
  });
}
