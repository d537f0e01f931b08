// What the node answers a chat request that offers tools or asks for JSON, by the shared policy
// (workers/shared/tool-policy.ts): OpenAI tool calls, JSON that fits the response format's schema
// (as constrained decoding gives it), or a final answer that quotes the tool results. A structured
// answer also comes in its two malformed forms, for when the fault ledger asks for one. Pure and
// deterministic: the same node seed and request always give the same answer.
import { pyJson, tokenPieces } from "../../shared/json-text";
import { type JsonValue, cutShort, instanceOf, unparsableJson, violationOf } from "../../shared/schema-instance";
import { type Conversation, type OfferedTool, decideAnswer, quoteResults, schemaOf } from "../../shared/tool-policy";
import type { MalformedKind } from "./faults";
import { fnv1a32, type GeneratedText, generateText, type GenerationInput, mulberry32 } from "./text";

export interface CallAnswer {
  id: string;
  name: string;
  /** The arguments' JSON text in token-sized pieces: joined, `function.arguments`. */
  argumentPieces: string[];
}

export type ChatAnswer =
  | ({ kind: "text" } & GeneratedText)
  | { kind: "tool_calls"; calls: CallAnswer[]; finishReason: "tool_calls" | "length" };

export interface PlannedChatAnswer {
  answer: ChatAnswer;
  /** For a structured answer (tool calls or JSON): the same answer gone wrong each way. */
  malformed?: { [K in MalformedKind]?: ChatAnswer } & { unparsable: ChatAnswer };
}

/** Completion tokens: a text's pieces; per call, one for its header (id, name) and one per piece of arguments. */
export function answerTokens(answer: ChatAnswer): number {
  return answer.kind === "text" ? answer.tokens.length : answer.calls.reduce((n, c) => n + 1 + c.argumentPieces.length, 0);
}

/** Text as an answer of at most `maxTokens` pieces, cut off there ("length") if longer. */
function textAnswer(text: string, maxTokens: number): ChatAnswer {
  const pieces = tokenPieces(text);
  const cut = pieces.length > maxTokens;
  return { kind: "text", tokens: cut ? pieces.slice(0, maxTokens) : pieces, finishReason: cut ? "length" : "stop" };
}

/** Calls within `maxTokens`: past it the arguments stop where they are and later calls are dropped. */
function callsAnswer(calls: readonly { id: string; name: string; arguments: string }[], maxTokens: number): ChatAnswer {
  let left = maxTokens;
  const out: CallAnswer[] = [];
  for (const call of calls) {
    if (left <= 0) return { kind: "tool_calls", calls: out, finishReason: "length" };
    left -= 1;
    const pieces = tokenPieces(call.arguments);
    if (pieces.length > left) {
      out.push({ id: call.id, name: call.name, argumentPieces: pieces.slice(0, left) });
      return { kind: "tool_calls", calls: out, finishReason: "length" };
    }
    left -= pieces.length;
    out.push({ id: call.id, name: call.name, argumentPieces: pieces });
  }
  return { kind: "tool_calls", calls: out, finishReason: "tool_calls" };
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `call_` and 24 alphanumerics, as OpenAI's call ids look. */
function callId(random: () => number): string {
  return `call_${Array.from({ length: 24 }, () => ALPHANUMERIC[Math.floor(random() * ALPHANUMERIC.length)]).join("")}`;
}

function argumentsFor(tool: OfferedTool, random: () => number): JsonValue {
  return tool.parameters === undefined ? {} : instanceOf(tool.parameters, random);
}

export interface ChatAnswerInput {
  conversation: Conversation;
  /** What the plain text generator would write for this request (same seed, model, messages). */
  generation: GenerationInput;
}

export function planChatAnswer({ conversation, generation }: ChatAnswerInput): PlannedChatAnswer {
  const decision = decideAnswer(conversation);
  const key = [generation.seed, generation.model, generation.prompt, generation.temperature, "answer"].join("\u0000");
  const random = mulberry32(fnv1a32(key));
  const { maxTokens } = generation;

  switch (decision.kind) {
    case "text":
      return { answer: { kind: "text", ...generateText(generation) } };

    case "final": {
      if (decision.results.length === 0) return { answer: { kind: "text", ...generateText(generation) } };
      const quote = tokenPieces(quoteResults(decision.results));
      if (quote.length >= maxTokens) return { answer: { kind: "text", tokens: quote.slice(0, maxTokens), finishReason: "length" } };
      const words = generateText({ ...generation, maxTokens: maxTokens - quote.length });
      const tokens = [...quote, ...words.tokens.map((t, i) => (i === 0 && !t.startsWith(" ") ? ` ${t}` : t))];
      return { answer: { kind: "text", tokens, finishReason: words.finishReason } };
    }

    case "json": {
      const schema = schemaOf(decision.directive);
      const text = pyJson(instanceOf(schema, random));
      const violation = violationOf(schema, random);
      return {
        answer: textAnswer(text, maxTokens),
        malformed: {
          ...(violation ? { violates_schema: textAnswer(pyJson(violation.value), maxTokens) } : {}),
          unparsable: textAnswer(unparsableJson(text, random), maxTokens),
        },
      };
    }

    case "calls": {
      const calls = decision.tools.map((tool) => ({ id: callId(random), name: tool.name, arguments: pyJson(argumentsFor(tool, random)) }));
      let violating: typeof calls | undefined;
      for (const [i, tool] of decision.tools.entries()) {
        const violation = tool.parameters === undefined ? undefined : violationOf(tool.parameters, random);
        if (violation) {
          violating = calls.map((c, j) => (j === i ? { ...c, arguments: pyJson(violation.value) } : c));
          break;
        }
      }
      // Arguments that do not parse: the first call's JSON text stops part-way.
      const unparsable = calls.map((c, j) => (j === 0 ? { ...c, arguments: cutShort(c.arguments, random) } : c));
      return {
        answer: callsAnswer(calls, maxTokens),
        malformed: {
          ...(violating ? { violates_schema: callsAnswer(violating, maxTokens) } : {}),
          unparsable: callsAnswer(unparsable, maxTokens),
        },
      };
    }
  }
}
