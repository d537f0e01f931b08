/**
 * Fusers that need no model: the concatenation of split answers under headings, the majority
 * vote of an ensemble, and the notes that name a missing part. A gap is always written into the
 * answer itself, so a client that reads only the text still learns what it lacks.
 */

export interface PartAnswer {
  title: string;
  /** null: the part failed. */
  text: string | null;
  reason?: string;
}

/** Split answers in the order of the request's parts, each under a numbered heading. */
export function concatWithHeadings(parts: readonly PartAnswer[]): string {
  return parts
    .map((p, i) => {
      const body = p.text === null ? `_Missing: this part could not be answered${p.reason ? ` (${p.reason})` : ""}._` : p.text.trim();
      return `## ${i + 1}. ${p.title}\n\n${body}`;
    })
    .join("\n\n");
}

/** A heading from a part's text: its first line, cut at a word near 80 characters. */
export function titleOf(text: string): string {
  const line = (text.trim().split("\n")[0] ?? "").trim();
  if (line.length <= 80) return line;
  const cut = line.slice(0, 80);
  const space = cut.lastIndexOf(" ");
  return `${(space > 40 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

const listOf = (xs: readonly string[]) => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);

/** The sentence a map-reduce answer ends with when parts of the document went unread. */
export function missingPartsNote(missing: readonly { index: number; start: number; end: number }[], total: number): string {
  const which = listOf(missing.map((m) => String(m.index)));
  const where = listOf(missing.map((m) => `${m.start}–${m.end}`));
  const noun = missing.length === 1 ? "part" : "parts";
  return `_Note: ${noun} ${which} of ${total} of the document (characters ${where}) could not be read; this answer does not cover ${missing.length === 1 ? "it" : "them"}._`;
}

/**
 * The comparable core of a short answer: an explicit "answer is/:" clause when there is one,
 * then a lone option letter, or a number in canonical form, or the text lower-cased without
 * punctuation or surrounding markup.
 */
export function normaliseAnswer(text: string): string {
  let s = text.trim();
  const explicit = s.match(/(?:final answer|answer)\s*(?:is|:)\s*([^\n]+)/i);
  if (explicit?.[1]) s = explicit[1];
  s = s.replace(/[*_`#>]+/g, " ").trim();
  const option = s.match(/^\(?([A-Ea-e])\)?(?:[.):]|\s|$)/);
  if (option?.[1] && (s.length <= 3 || /^\(?[A-Ea-e]\)/.test(s) || /^[A-Ea-e][.:]\s/.test(s))) return `option:${option[1].toLowerCase()}`;
  // Spaces around a "%" are one run, read once: `\s*%?\s*` split a long run of them every possible way.
  const number = s.replace(/,(?=\d{3}\b)/g, "").match(/^[$€£]?\s*(-?\d+(?:\.\d+)?)\s*(?:%\s*)?[.!]?$/);
  if (number?.[1]) return `number:${Number(number[1])}`;
  return s.toLowerCase().replace(/[^\p{L}\p{N}\s]+/gu, " ").replace(/\s+/g, " ").trim();
}

export interface Ballot {
  id: string;
  text: string;
}

export interface VoteResult {
  /** The ballot whose answer won: the first, in `order`, of the largest group. */
  winner: Ballot;
  /** "2/3": the winning group's size over the ballots counted. */
  agreement: string;
  unanimous: boolean;
}

/**
 * Majority vote over normalised answers. Ties go to the group holding the ballot earliest in
 * `order` (the plan lists members strongest first), so the result is deterministic.
 */
export function majorityVote(ballots: readonly Ballot[], order: readonly string[]): VoteResult | null {
  if (ballots.length === 0) return null;
  const rank = (id: string) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  const sorted = [...ballots].sort((a, b) => rank(a.id) - rank(b.id));
  const groups = new Map<string, Ballot[]>();
  for (const b of sorted) {
    const key = normaliseAnswer(b.text);
    const group = groups.get(key);
    if (group) group.push(b);
    else groups.set(key, [b]);
  }
  let best: Ballot[] | undefined;
  // Map iteration follows insertion, i.e. rank of each group's first ballot: a strict > keeps ties early.
  for (const group of groups.values()) if (!best || group.length > best.length) best = group;
  const winner = best![0]!;
  return { winner, agreement: `${best!.length}/${ballots.length}`, unanimous: groups.size === 1 };
}
