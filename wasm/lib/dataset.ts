// Labelled prompts: reading JSON lines, and what is known about where each came from.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TASK_LABELS, type TaskLabel } from "../../src/schema/classification";

export interface Example {
  text: string;
  label: TaskLabel;
  /** `owner/repo:path` for the corpus; anything for other files. */
  source: string;
}

export const CORPUS_PATH = fileURLToPath(new URL("../../../shared/data/prompts/train.jsonl", import.meta.url));
/** Prompts written for this project (one file per label): training only, never a headline evaluation. */
export const SUPPLEMENT_DIR = fileURLToPath(new URL("../data/supplement", import.meta.url));
export const SUPPLEMENT_SOURCE = "homeskillet/supplement";

/** Sources whose licence (CC BY-NC 4.0) rules out commercial use: never in the shipped weights. */
export const NON_COMMERCIAL_REPOS = ["sahil280114/codealpaca", "nlpxucan/WizardLM"];

export function repoOf(source: string): string {
  return source.split(":")[0] ?? source;
}

export function isCommercial(example: Example): boolean {
  return !NON_COMMERCIAL_REPOS.includes(repoOf(example.source));
}

const labelSet = new Set<string>(TASK_LABELS);

/** Reads JSON lines of {text, label[, source]}; a bad line is an error naming its number. */
export function readExamples(path: string): Example[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const examples: Example[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${path}:${i + 1}: not JSON`);
    }
    const { text, label, source } = (row ?? {}) as Record<string, unknown>;
    if (typeof text !== "string") throw new Error(`${path}:${i + 1}: "text" must be a string`);
    if (typeof label !== "string" || !labelSet.has(label)) {
      throw new Error(`${path}:${i + 1}: "label" must be one of ${TASK_LABELS.join(", ")}`);
    }
    examples.push({ text, label: label as TaskLabel, source: typeof source === "string" ? source : path });
  });
  return examples;
}

export function labelIndex(label: TaskLabel): number {
  return TASK_LABELS.indexOf(label);
}

/** The supplement: `<label>.txt`, one prompt a line, `\n` standing for a line break. */
export function readSupplement(dir: string = SUPPLEMENT_DIR): Example[] {
  const examples: Example[] = [];
  for (const name of readdirSync(dir).sort()) {
    const label = name.replace(/\.txt$/, "");
    if (!labelSet.has(label)) continue;
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      examples.push({ text: line.replaceAll("\\n", "\n"), label: label as TaskLabel, source: `${SUPPLEMENT_SOURCE}:${name}` });
    }
  }
  return examples;
}
