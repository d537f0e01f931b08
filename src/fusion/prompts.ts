/**
 * The prompts fusion writes for models. Each says plainly what the model is part of — a map step
 * reads one part of a longer document, a reduce step combines a smaller model's notes, a judge
 * weighs independent answers — because a model that knows it sees a part does not pretend to
 * have read the whole.
 */

export const NOTHING_RELEVANT = "Nothing relevant in this part.";

/** When a long prompt carries no recognisable instruction, the map-reduce task is a summary. */
export const DEFAULT_DOCUMENT_TASK = "Summarise the document.";

export function mapPrompt(task: string, index: number, total: number, chunk: string): string {
  return [
    `This is part ${index} of ${total} of a longer document. The document was split into parts that are read separately by a smaller model; a larger model will combine the notes from every part into the final answer.`,
    `Task for the whole document:\n${task}`,
    `Write concise notes from this part only: everything in it that bears on the task (facts, names, numbers, short quotes). If nothing in it bears on the task, write exactly "${NOTHING_RELEVANT}" Do not answer from outside this part.`,
    `Part ${index} of ${total}:\n${chunk}`,
  ].join("\n\n");
}

export interface PartialResult {
  /** 1-based position among the parts. */
  index: number;
  /** The notes, or null when the part could not be read. */
  text: string | null;
  /** Why it is missing. */
  reason?: string;
}

/** The reduce step: the notes of every part, in order, with missing parts marked as such. */
export function reducePrompt(task: string, parts: readonly PartialResult[]): string {
  const total = parts.length;
  const missing = parts.some((p) => p.text === null);
  const intro =
    `A document was too long to read at once, so it was split into ${total} parts and a smaller model wrote notes on each part, in order. ` +
    "Using only these notes, answer the task for the whole document." +
    (missing ? " Some parts could not be read and are marked MISSING: say in your answer which parts of the document it does not cover." : "");
  const notes = parts.map((p) =>
    p.text === null
      ? `Notes on part ${p.index} of ${total}: MISSING (could not be read${p.reason ? `: ${p.reason}` : ""}).`
      : `Notes on part ${p.index} of ${total}:\n${p.text.trim()}`,
  );
  return [intro, `Task:\n${task}`, ...notes, "Answer:"].join("\n\n");
}

/** Candidates are lettered, not named: a judge that knows which model wrote what is biased by it. */
export function judgePrompt(request: string, answers: readonly string[]): string {
  const letters = answers.map((a, i) => `Answer ${candidateLetter(i)}:\n${a.trim()}`);
  return [
    "Several assistants answered the same request independently. Read the request and their answers, then write the single best answer to the request: keep what is correct, fix what is wrong, and combine points that complement each other. Do not mention the assistants or that there were several answers.",
    `Request:\n${request}`,
    ...letters,
    "Best answer:",
  ].join("\n\n");
}

export function candidateLetter(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `${i + 1}`;
}

/** Tokens the fixed wording of a reduce or judge prompt adds beside the parts' own text. */
export const FUSE_OVERHEAD_TOKENS = 120;
/** Tokens each part's label adds ("Notes on part 3 of 8:" and the blank lines). */
export const PER_PART_OVERHEAD_TOKENS = 12;
