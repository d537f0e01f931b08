/**
 * Finding independent sub-tasks in a prompt: a numbered or bulleted list of questions or
 * instructions, or tasks joined by "Also, …" / "… and also …". Wrongly splitting one task breaks
 * the answer while wrongly keeping several together only costs speed, so every rule here errs on
 * the side of not splitting:
 *  - every item must read as a task on its own: a question, or text whose first or last
 *    sentence opens with a question word or an imperative verb — not a bare phrase (an answer
 *    option such as "- nuclear symbols") and not a constraint ("Make sure to …");
 *  - an item must not lean on another ("the above", "step 2", "the result", "then …", or a
 *    pronoun such as "it" among its first words when it is not the first item);
 *  - a list introduced as steps, a procedure or an order is one task, and so is a list of
 *    requirements, rules or features of one deliverable ("Your task is to:", "Rules:"), a
 *    persona prompt ("Act as …"), and any prompt with a second list (a specification);
 *  - lettered items (a), (B) … are not considered at all: they are usually answer options.
 */
import { hasWordAt, isSpace, isWordChar, skipSpace } from "./chars";

export interface SubTasks {
  kind: "list" | "also";
  /** Text before the list: shared context or instructions, given to every part. */
  preamble: string;
  items: string[];
  /** Text after the list, given to every part as well. */
  postamble: string;
}

const ITEM = /^[ \t]{0,3}(?:(\d{1,2})[.)]|\((\d{1,2})\)|([-*•‣◦])|(?:Q|Question|Task|Part)[ \t]?(\d{1,2})[:.)])[ \t]+(\S.*)$/i;

const TASK_START =
  /^(?:please[ ,]+|can you |could you |would you |kindly )?(?:what|who|whom|whose|why|how|when|where|which|is|are|was|were|can|could|should|would|does|do|did|will|has|have|write|explain|describe|list|name|give|compute|calculate|find|solve|prove|show|translate|summari[sz]e|define|compare|contrast|implement|create|generate|draft|compose|suggest|outline|convert|tell|identify|evaluate|estimate|classify|rewrite|design|recommend|determine|analy[sz]e|discuss|provide|simplify|derive|sort|count|check|debug|fix|refactor|state|make|plan|propose|predict|extract|paraphrase|critique|review)\b/i;

const LEANS_ON_ANOTHER =
  /\b(?:the above|above (?:question|answer|text|list|code|example|passage|task)s?|the below|previous|preceding|earlier (?:question|answer|part|task)s?|aforementioned|step\s*\d+|(?:question|part|item|task|point)\s*#?\d+|the results? (?:of|from) (?:the|that|this|part|step|question)|the answers? (?:to|from|of) (?:the|that|this|part|step|question))\b|^(?:then|next|afterwards|after that|finally|lastly|now,|and)\b/i;

const PRONOUNS = ["it", "its", "this", "that", "these", "those", "them", "they", "your", "such", "same"];

/**
 * Whether one of the first four words is a pronoun that points elsewhere ("Then explain it",
 * "Why is that so"): a word that starts with one of PRONOUNS followed by a word boundary, as
 * /^(?:\S+\s+){0,3}?(?:it|its|…|same)\b/i matched — scanned by hand, since that expression
 * cannot be proved linear.
 */
function pronounStart(s: string): boolean {
  let at = 0;
  for (let word = 0; ; word++) {
    if (PRONOUNS.some((p) => hasWordAt(s, at, p) && !(at + p.length < s.length && isWordChar(s.charCodeAt(at + p.length))))) return true;
    if (word === 3 || at >= s.length || isSpace(s.charCodeAt(at))) return false;
    let end = at;
    while (end < s.length && !isSpace(s.charCodeAt(end))) end++;
    if (end === s.length) return false;
    at = skipSpace(s, end);
  }
}

/** Openings of a constraint on the answer ("Make sure to …", "Use …"), not a task of its own. */
const CONSTRAINT_START = /^(?:make sure|be sure|ensure|remember|note|do not|don't|avoid|keep|use|include|wrap|format|your (?:answer|response|entire)|the (?:answer|response))\b/i;

/** A preamble that asks for something: an instruction, a question, or a lead-in ending in ":". */
const ASKING_PREAMBLE = /[:?]\s*$|\b(?:answer|questions?|tasks?|respond|reply)\b/i;

const ONE_TASK_PREAMBLE =
  /\b(?:steps?|step[- ]by[- ]step|in order|in sequence|sequence of|procedure|algorithm|in turn|one by one|workflow|your task is|you will|you are (?:tasked|responsible|required)|requirements?|rules?|constraints?|guidelines?|features?|criteria|principles|must (?:include|contain|have|cover)|make sure)\b|^\s*(?:act as|i want you to (?:act|be)|pretend|imagine you are|you are an?)\b/i;

const ALSO_WORDS = ["and also", "also", "additionally", "in addition", "separately", "as well"];

/**
 * `text.split(/(?:(?<=[.?!])\s+|\n+)(?:and also|also|additionally|in addition|separately|as well),?\s+|,?\s+and also\s+/i)`
 * — a sentence or line that opens with "also" (or the like), or ", and also" inside a sentence —
 * scanned by hand: tried at each position of a run of spaces, that expression read the rest of
 * the run every time. Here every run's end is known in advance, so each position costs O(1).
 */
function splitAtAlso(text: string): string[] {
  const n = text.length;
  // spaceEnd[i] / lfEnd[i]: where the run of \s / of LF that starts at i ends (i itself if none does).
  const spaceEnd = new Int32Array(n + 1).fill(n);
  const lfEnd = new Int32Array(n + 1).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    spaceEnd[i] = isSpace(c) ? spaceEnd[i + 1]! : i;
    lfEnd[i] = c === 0x0a ? lfEnd[i + 1]! : i;
  }
  const spaceAt = (i: number) => i < n && isSpace(text.charCodeAt(i));
  // `,?\s+` from t: its end, or -1.
  const commaSpaces = (t: number) => (t < n && text.charCodeAt(t) === 0x2c ? (spaceAt(t + 1) ? spaceEnd[t + 1]! : -1) : spaceAt(t) ? spaceEnd[t]! : -1);
  // `(?:and also|also|…|as well),?\s+` from r: its end, or -1.
  const opening = (r: number) => {
    for (const w of ALSO_WORDS) {
      if (!hasWordAt(text, r, w)) continue;
      const end = commaSpaces(r + w.length);
      if (end >= 0) return end;
    }
    return -1;
  };
  const matchAt = (q: number): number => {
    const c = text.charCodeAt(q);
    if (q > 0 && ".?!".includes(text.charAt(q - 1)) && isSpace(c)) {
      const end = opening(spaceEnd[q]!);
      if (end >= 0) return end;
    }
    if (c === 0x0a) {
      const end = opening(lfEnd[q]!);
      if (end >= 0) return end;
    }
    // `,?\s+and also\s+`
    const r = c === 0x2c ? (spaceAt(q + 1) ? spaceEnd[q + 1]! : -1) : isSpace(c) ? spaceEnd[q]! : -1;
    return r >= 0 && hasWordAt(text, r, "and also") && spaceAt(r + 8) ? spaceEnd[r + 8]! : -1;
  };
  // String.prototype.split's own algorithm, for a separator that never matches empty.
  const parts: string[] = [];
  let p = 0;
  for (let q = 0; q < n; ) {
    const end = matchAt(q);
    if (end < 0) {
      q++;
      continue;
    }
    parts.push(text.slice(p, q));
    p = q = end;
  }
  parts.push(text.slice(p));
  return parts;
}

const quick = /(?:^|\n)[ \t]{0,3}(?:\d{1,2}[.)]|\(\d{1,2}\)|[-*•‣◦]|(?:Q|Question|Task|Part)[ \t]?\d{1,2}[:.)])[ \t]|\b(?:also|additionally|in addition|separately)\b/i;

/** A cheap test that rules out most prompts before any parsing: no list marker, no "also". */
export function mightHaveSubTasks(text: string): boolean {
  return quick.test(text);
}

const ALSO_MAX_CHARS = 1_000;

/** What `s.trim().split(/(?<=[.!?])\s+/).pop()` gave: the text after the last whitespace that follows ".", "!" or "?". */
function lastSentence(text: string): string {
  const s = text.trim();
  for (let i = s.length - 1; i > 0; i--) {
    if (isSpace(s.charCodeAt(i)) && ".!?".includes(s.charAt(i - 1))) return s.slice(skipSpace(s, i));
  }
  return s;
}

const words = (s: string) => s.split(/\s+/).filter((w) => w.length > 0).length;

/**
 * A task states what it wants at its start ("Explain …") or its end (a word problem: facts, then
 * "Calculate …" or a question); a question mark anywhere makes it a question.
 */
function isTask(item: string, first: boolean): boolean {
  const s = item.trim();
  if (words(s) < 2) return false;
  if (!s.includes("?") && !TASK_START.test(s) && !TASK_START.test(lastSentence(s))) return false;
  return independent(s, first);
}

/** "Also"-joined tasks must open as tasks: "also" is common inside passages, list markers are not. */
function isAlsoTask(segment: string, first: boolean): boolean {
  const s = segment.trim();
  if (words(s) < 2 || !(TASK_START.test(s) || /^[^.!?]*\?$/.test(s))) return false;
  return independent(s, first);
}

function independent(s: string, first: boolean): boolean {
  if (CONSTRAINT_START.test(s)) return false;
  if (LEANS_ON_ANOTHER.test(s)) return false;
  return first || !pronounStart(s.replace(/^(?:please[ ,]+|can you |could you )/i, ""));
}

function markerKind(m: RegExpMatchArray): "number" | "bullet" | "label" {
  if (m[1] !== undefined || m[2] !== undefined) return "number";
  return m[3] !== undefined ? "bullet" : "label";
}

/** The first run of list items of one marker kind; continuation lines belong to their item. */
function findList(text: string): SubTasks | null {
  const lines = text.split("\n");
  let start = -1;
  let kind: string | null = null;
  const items: string[] = [];
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const m = line.match(ITEM);
    if (m && (kind === null || markerKind(m) === kind)) {
      if (start < 0) start = i;
      kind = markerKind(m);
      items.push(m[5] ?? "");
      continue;
    }
    if (start < 0) continue;
    const blank = line.trim() === "";
    const next = lines[i + 1] ?? "";
    // A blank line ends the list unless another item follows it; an indented line continues an item.
    if (blank && !ITEM.test(next)) {
      end = i;
      break;
    }
    if (!blank && /^\s/.test(line) && items.length > 0) items[items.length - 1] += `\n${line.trim()}`;
    else if (!blank) {
      end = i;
      break;
    }
  }
  if (start < 0 || items.length < 2) return null;
  return {
    kind: "list",
    preamble: lines.slice(0, start).join("\n").trim(),
    items: items.map((s) => s.trim()),
    postamble: lines.slice(end).join("\n").trim(),
  };
}

function findAlso(text: string): SubTasks | null {
  const parts = splitAtAlso(text)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => s.charAt(0).toUpperCase() + s.slice(1));
  return parts.length >= 2 ? { kind: "also", preamble: "", items: parts, postamble: "" } : null;
}

/** Independent sub-tasks of the prompt, or null when it should stay whole. */
export function findSubTasks(text: string, maxItems = 24): SubTasks | null {
  if (!mightHaveSubTasks(text)) return null;
  const list = findList(text);
  if (list) {
    if (ONE_TASK_PREAMBLE.test(list.preamble)) return null;
    // After a passage that asks nothing, a list is part of the content (notes, comments), not the tasks.
    if (list.preamble !== "" && !ASKING_PREAMBLE.test(list.preamble) && !TASK_START.test(lastSentence(list.preamble))) return null;
    // A second list after the first: a specification with sections, not a set of questions.
    if (list.postamble.split("\n").some((line) => ITEM.test(line))) return null;
    if (list.items.length > maxItems) return null;
    return list.items.every((item, i) => isTask(item, i === 0)) ? list : null;
  }
  // Tasks joined by "also" are a short request; in anything longer "also" is part of the prose.
  if (text.length > ALSO_MAX_CHARS || /\n\s*\n/.test(text) || ONE_TASK_PREAMBLE.test(text)) return null;
  const also = findAlso(text);
  if (also && also.items.length <= maxItems && also.items.every((item, i) => isAlsoTask(item, i === 0))) return also;
  return null;
}
