// Stability: a request's label should not change under edits that leave its task alone. Each
// text gets a fixed set of such edits; stability is the share of (text, edit) pairs whose label
// equals the unedited text's label, all read by the compiled module.
import type { Classifier } from "../../src/classify/engine";

export interface Perturbation {
  name: string;
  apply(text: string): string;
}

const lowerFirst = (t: string) => t.charAt(0).toLowerCase() + t.slice(1);
const upperFirst = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);
/** Closing sentence punctuation removed, so another can be put in its place. */
const bare = (t: string) => t.replace(/[\s.!?]+$/u, "");

export const PERTURBATIONS: readonly Perturbation[] = [
  { name: "trailing full stop", apply: (t) => `${bare(t)}.` },
  { name: "trailing question mark", apply: (t) => `${bare(t)}?` },
  { name: "no closing punctuation", apply: (t) => bare(t) },
  { name: "lower case", apply: (t) => t.toLowerCase() },
  { name: "first letter swapped case", apply: (t) => (t.charAt(0) === t.charAt(0).toUpperCase() ? lowerFirst(t) : upperFirst(t)) },
  { name: "surrounding white space", apply: (t) => `  ${t}\n\n` },
  { name: "greeting", apply: (t) => `Hi! ${t}` },
  { name: "greeting and please", apply: (t) => `Hello, please ${lowerFirst(t)}` },
  { name: "please", apply: (t) => `Please ${lowerFirst(t)}` },
  { name: "trailing please", apply: (t) => `${bare(t)}, please.` },
  { name: "thanks", apply: (t) => `${t}\nThanks!` },
];

export interface StabilityResult {
  /** Share of (text, edit) pairs that kept the label, 0..1. */
  agreement: number;
  pairs: number;
  perPerturbation: Array<{ name: string; agreement: number }>;
  /** A few texts whose label changed, for the report. */
  examples: Array<{ perturbation: string; text: string; from: string; to: string }>;
}

export function stability(classifier: Classifier, texts: readonly string[], perturbations: readonly Perturbation[] = PERTURBATIONS): StabilityResult {
  const kept = new Array<number>(perturbations.length).fill(0);
  const examples: StabilityResult["examples"] = [];
  for (const text of texts) {
    const base = classifier.classify(text).label;
    perturbations.forEach((p, k) => {
      const label = classifier.classify(p.apply(text)).label;
      if (label === base) kept[k]!++;
      else if (examples.length < 8) examples.push({ perturbation: p.name, text: text.slice(0, 80), from: base, to: label });
    });
  }
  const pairs = texts.length * perturbations.length;
  const total = kept.reduce((a, b) => a + b, 0);
  return {
    agreement: pairs > 0 ? total / pairs : 1,
    pairs,
    perPerturbation: perturbations.map((p, k) => ({ name: p.name, agreement: texts.length > 0 ? kept[k]! / texts.length : 1 })),
    examples,
  };
}
