// Classification quality: confusion matrix, per-label precision / recall / F1, macro-F1.
import { TASK_LABELS } from "../../src/schema/classification";

export interface Scores {
  n: number;
  accuracy: number;
  macroF1: number;
  /** confusion[actual][predicted] */
  confusion: number[][];
  perLabel: Array<{ label: string; precision: number; recall: number; f1: number; support: number }>;
}

export function score(actual: ArrayLike<number>, predicted: ArrayLike<number>, labels: readonly string[] = TASK_LABELS): Scores {
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < actual.length; i++) {
    confusion[actual[i]!]![predicted[i]!]!++;
    if (actual[i] === predicted[i]) correct++;
  }
  const perLabel = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedAs > 0 ? tp / predictedAs : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support, predictedAs };
  });
  // Macro-F1 over the labels that occur in the data or the predictions (scikit-learn's rule),
  // so a file without some label is not penalised for it unless the model predicts it.
  const present = perLabel.filter((p) => p.support > 0 || p.predictedAs > 0);
  const macroF1 = present.length > 0 ? present.reduce((a, p) => a + p.f1, 0) / present.length : 0;
  return { n: actual.length, accuracy: actual.length > 0 ? correct / actual.length : 0, macroF1, confusion, perLabel };
}

const fmt = (x: number) => x.toFixed(3);

export function formatScores(s: Scores, labels: readonly string[] = TASK_LABELS): string {
  const width = Math.max(...labels.map((l) => l.length), 10);
  const lines = [`${"label".padEnd(width)}  precision  recall     f1  support`];
  for (const p of s.perLabel) {
    lines.push(`${p.label.padEnd(width)}  ${fmt(p.precision).padStart(9)}  ${fmt(p.recall).padStart(6)}  ${fmt(p.f1).padStart(5)}  ${String(p.support).padStart(7)}`);
  }
  lines.push("", "confusion (rows: actual, columns: predicted)");
  const short = labels.map((l) => l.slice(0, 6));
  lines.push(`${"".padEnd(width)}  ${short.map((l) => l.padStart(6)).join(" ")}`);
  s.confusion.forEach((row, i) => lines.push(`${labels[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(6)).join(" ")}`));
  return lines.join("\n");
}

export function summaryLine(s: Scores): string {
  return `accuracy=${s.accuracy.toFixed(4)} macro_f1=${s.macroF1.toFixed(4)} n=${s.n}`;
}
