// `npm run eval:classifier -- FILE.jsonl [--file-only]`: the request classifier's figures from one
// command.
//
// 1. FILE (JSON lines {"text", "label"}), read by the compiled module the edge runs
//    (wasm/build/classifier.wasm): per-label precision / recall / F1, the confusion matrix, how
//    often the reading is confident and how accurate it is then, and stability: agreement of the
//    label over a perturbed copy of FILE (trailing punctuation, case, white space, a greeting,
//    "please"; wasm/lib/stability.ts).
// 2. Unless --file-only, the shipped recipe measured on the labelled public data (the shared
//    corpus and wasm/data/public): a random split, and leave-one-source-out with and without the
//    hand-written supplement (per-label F1 and confusion matrix for each), about a minute; and
//    the previous model's figures beside them.
// The last line is always FILE's summary: accuracy=<0..1> macro_f1=<0..1> n=<count>
import { TASK_LABELS } from "../src/schema/classification";
import { CONFIDENCE_THRESHOLD } from "../src/classify/engine";
import { CORPUS_PATH, readExamples } from "../wasm/lib/dataset";
import { existsSync } from "node:fs";
import { loadEvalData, leaveOneSourceOut, randomSplit, recipeTrainer } from "../wasm/lib/evaluate";
import { formatScores, score, summaryLine, type Scores } from "../wasm/lib/metrics";
import { buildClassifier, loadClassifier } from "../wasm/lib/node";
import { stability } from "../wasm/lib/stability";

/** The classifier before the data and stability work (bench/RESULTS.md, "Classifier", previous model). */
const PREVIOUS = {
  id: "cls-124ea1ee",
  randomMacroF1: 0.991,
  losoMacroF1: 0.81,
  losoNoSupplementMacroF1: 0.508,
  note: "measured on the corpus with WizardLM's evaluation set and the non-commercial sources in training",
};

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("-"));
const fileOnly = args.includes("--file-only");
if (!file) {
  process.stderr.write('usage: npm run eval:classifier -- FILE.jsonl [--file-only]   (lines of {"text": ..., "label": ...})\n');
  process.exit(2);
}

const f3 = (x: number) => x.toFixed(3);
const out = (s = "") => process.stdout.write(`${s}\n`);

function perLabelF1(s: Scores): string {
  return s.perLabel.map((p) => `${p.label} ${f3(p.f1)}`).join(", ");
}

try {
  const examples = readExamples(file);
  await buildClassifier();
  const classifier = await loadClassifier();
  const readings = examples.map((e) => classifier.classify(e.text));
  const actual = examples.map((e) => TASK_LABELS.indexOf(e.label));
  const predicted = readings.map((r) => TASK_LABELS.indexOf(r.label));
  const scores = score(actual, predicted);
  const confident = readings.map((r) => r.confident === true);
  const sure = actual.filter((_, i) => confident[i]);
  const sureRight = actual.filter((a, i) => confident[i] && predicted[i] === a).length;
  const unsureRight = actual.filter((a, i) => !confident[i] && predicted[i] === a).length;
  const stable = stability(classifier, examples.map((e) => e.text));

  out(`classifier ${classifier.version} on ${file}`);
  out();
  out(formatScores(scores));
  out();
  out(
    `confident (top probability >= ${CONFIDENCE_THRESHOLD}): ${sure.length} of ${examples.length}; accuracy when confident ` +
      `${sure.length ? f3(sureRight / sure.length) : "-"}, when not ${examples.length - sure.length ? f3(unsureRight / (examples.length - sure.length)) : "-"}`,
  );
  out(`stability: ${f3(stable.agreement)} label agreement over ${stable.pairs} perturbed copies (${stable.perPerturbation.map((p) => `${p.name} ${f3(p.agreement)}`).join("; ")})`);

  if (!fileOnly && !existsSync(CORPUS_PATH)) {
    out();
    out(`recipe figures skipped: they need the labelled corpus at ${CORPUS_PATH}`);
  } else if (!fileOnly) {
    process.stderr.write("eval:classifier: training the recipe for the random split and leave-one-source-out (about a minute)…\n");
    const d = loadEvalData(classifier);
    const repos = new Set(d.rows.map((r) => d.examples[r]!.source.split(":")[0])).size;
    const rows = [
      { name: "random split (20 % held out), with supplement", s: randomSplit(d, recipeTrainer(classifier, d, true)) },
      { name: "leave-one-source-out, with supplement", s: leaveOneSourceOut(d, recipeTrainer(classifier, d, true)).pooled },
      { name: "leave-one-source-out, no hand-written prompts", s: leaveOneSourceOut(d, recipeTrainer(classifier, d, false)).pooled },
    ];
    out();
    out(`the shipped recipe on the labelled public data (${d.rows.length} prompts, ${repos} repositories; non-commercial sources only ever held out):`);
    for (const { name, s } of rows) {
      out();
      out(`${name}: accuracy ${f3(s.accuracy)}, macro-F1 ${f3(s.macroF1)}; F1 ${perLabelF1(s)}`);
      if (name.startsWith("leave")) out(formatScores(s).split("\n").slice(TASK_LABELS.length + 2).join("\n"));
    }
    out();
    out(
      `previous model ${PREVIOUS.id}: random split macro-F1 ${PREVIOUS.randomMacroF1}, leave-one-source-out ${PREVIOUS.losoMacroF1} ` +
        `with supplement, ${PREVIOUS.losoNoSupplementMacroF1} without (${PREVIOUS.note})`,
    );
  }
  out();
  out(summaryLine(scores));
} catch (err) {
  process.stderr.write(`eval:classifier: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
