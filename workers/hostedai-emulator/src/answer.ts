// What the model answers a prompt: the prompt is read as the model's family would read it
// (families/), the shared policy decides between calling tools, JSON, a final answer after tool
// use and ordinary text, and the answer is written in the family's own format. A structured answer
// (calls or JSON) also comes in its two malformed forms, for when the fault desk asks for one.
// Pure and deterministic: the same (seed, model, prompt, temperature) always gives the same answer.
import { pyJson, tokenPieces } from "../../shared/json-text";
import { type JsonValue, cutShort, instanceOf, unparsableJson, violationOf } from "../../shared/schema-instance";
import { type Conversation, type OfferedTool, decideAnswer, quoteResults, readDirectives, schemaOf } from "../../shared/tool-policy";
import { type CallToWrite, familyOf } from "./families";
import type { MalformedKind } from "./faults";
import { randomFor } from "./random";
import { type Completion, type CompletionInput, generateCompletion } from "./textgen";

export interface PlannedAnswer {
  /** The answer as the model gives it. */
  completion: Completion;
  /** For a structured answer (tool calls or JSON): the same answer gone wrong each way. */
  malformed?: { [K in MalformedKind]?: Completion } & { unparsable: Completion };
}

/** A text as a completion of at most `maxTokens` pieces: cut off there ("length") if longer. */
export function completionOf(text: string, maxTokens: number): Completion {
  const pieces = tokenPieces(text);
  const cut = pieces.length > maxTokens;
  const tokens = cut ? pieces.slice(0, maxTokens) : pieces;
  return { text: tokens.join(""), tokens, completionTokens: tokens.length, finishReason: cut ? "length" : "stop" };
}

/** A prompt in no family's format still carries the instructions in its text. */
function plainConversation(prompt: string): Conversation {
  return { tools: [], directives: readDirectives([prompt]), turns: [{ role: "user", text: prompt }] };
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A call id as Mistral's template requires them: nine alphanumerics. */
function mistralCallId(random: () => number): string {
  return Array.from({ length: 9 }, () => ALPHANUMERIC[Math.floor(random() * ALPHANUMERIC.length)]).join("");
}

function argumentsFor(tool: OfferedTool, random: () => number): JsonValue {
  return tool.parameters === undefined ? {} : instanceOf(tool.parameters, random);
}

export function planAnswer(input: CompletionInput): PlannedAnswer {
  const family = familyOf(input.model);
  const conversation = family?.read(input.prompt) ?? plainConversation(input.prompt);
  const decision = decideAnswer(conversation);
  const random = randomFor(input.seed, input.model, input.prompt, input.temperature, "answer");

  switch (decision.kind) {
    case "text":
      return { completion: generateCompletion(input) };

    case "final": {
      if (decision.results.length === 0) return { completion: generateCompletion(input) };
      const quote = quoteResults(decision.results);
      const quoted = tokenPieces(quote).length;
      if (quoted >= input.maxTokens) return { completion: completionOf(quote, input.maxTokens) };
      const words = generateCompletion({ ...input, maxTokens: input.maxTokens - quoted });
      const tokens = [...tokenPieces(quote), ...words.tokens.map((t, i) => (i === 0 && !t.startsWith(" ") ? ` ${t}` : t))];
      return { completion: { text: tokens.join(""), tokens, completionTokens: tokens.length, finishReason: words.finishReason } };
    }

    case "json": {
      const schema = schemaOf(decision.directive);
      const text = pyJson(instanceOf(schema, random));
      const violation = violationOf(schema, random);
      return {
        completion: completionOf(text, input.maxTokens),
        malformed: {
          ...(violation ? { violates_schema: completionOf(pyJson(violation.value), input.maxTokens) } : {}),
          unparsable: completionOf(unparsableJson(text, random), input.maxTokens),
        },
      };
    }

    case "calls": {
      // A prompt can only ask for calls in a family's format, so there is a family here.
      const format = family!;
      const calls: CallToWrite[] = decision.tools.map((tool) => ({ name: tool.name, arguments: argumentsFor(tool, random), id: mistralCallId(random) }));
      const written = format.writeCalls(calls);
      // Broken arguments: the first call whose parameters can be broken gets a value they reject.
      let violating: string | undefined;
      for (const [i, tool] of decision.tools.entries()) {
        const violation = tool.parameters === undefined ? undefined : violationOf(tool.parameters, random);
        if (violation) {
          violating = format.writeCalls(calls.map((c, j) => (j === i ? { ...c, arguments: violation.value } : c))).text;
          break;
        }
      }
      // Unparsable: the output stops inside the first call's arguments.
      const [start, end] = written.argumentSpans[0]!;
      const unparsable = cutShort(written.text, random, start, end);
      return {
        completion: completionOf(written.text, input.maxTokens),
        malformed: {
          ...(violating === undefined ? {} : { violates_schema: completionOf(violating, input.maxTokens) }),
          unparsable: completionOf(unparsable, input.maxTokens),
        },
      };
    }
  }
}
