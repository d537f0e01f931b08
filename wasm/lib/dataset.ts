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
/**
 * Labelled prompts copied from public repositories into this one (`data/public/*.jsonl`, see
 * the README there and wasm/README.md): part of the training and evaluation data, like the corpus.
 */
export const PUBLIC_DIR = fileURLToPath(new URL("../data/public", import.meta.url));

/**
 * Corpus files never read at all: WizardLM_testset.jsonl is the WizardLM paper's evaluation set
 * of chat-assistant questions. Held-out sets of that kind are how the classifier is measured, so
 * it must not learn from one.
 */
export const EXCLUDED_SOURCES = ["nlpxucan/WizardLM:WizardLM/data/WizardLM_testset.jsonl"];

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

/** Sources carry a `[label]` suffix where one file gave several labels. */
export function isExcluded(source: string): boolean {
  return EXCLUDED_SOURCES.some((x) => source === x || source.startsWith(`${x}[`));
}

/** The shared corpus without its excluded files, plus the public prompts committed here. */
export function readLabelled(corpusPath: string = CORPUS_PATH, publicDir: string = PUBLIC_DIR): Example[] {
  const corpus = readExamples(corpusPath).filter((e) => !isExcluded(e.source));
  const extra = readdirSync(publicDir)
    .filter((name) => name.endsWith(".jsonl"))
    .sort()
    .flatMap((name) => readExamples(join(publicDir, name)));
  return [...corpus, ...extra];
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
