// `npm run eval:classifier -- FILE.jsonl`: runs the compiled classifier (wasm/build/
// classifier.wasm, the module the edge runs) over JSON lines {"text", "label"} and prints
// per-label precision and recall, the confusion matrix and, last, one summary line:
//   accuracy=<0..1> macro_f1=<0..1> n=<count>
import { TASK_LABELS } from "../src/schema/classification";
import { readExamples } from "../wasm/lib/dataset";
import { formatScores, score, summaryLine } from "../wasm/lib/metrics";
import { buildClassifier, loadClassifier } from "../wasm/lib/node";

const file = process.argv.slice(2).find((a) => !a.startsWith("-"));
if (!file) {
  process.stderr.write("usage: npm run eval:classifier -- FILE.jsonl   (lines of {\"text\": ..., \"label\": ...})\n");
  process.exit(2);
}

try {
  const examples = readExamples(file);
  await buildClassifier();
  const classifier = await loadClassifier();
  const actual = examples.map((e) => TASK_LABELS.indexOf(e.label));
  const predicted = examples.map((e) => TASK_LABELS.indexOf(classifier.classify(e.text).label));
  const scores = score(actual, predicted);
  process.stdout.write(`classifier ${classifier.version} on ${file}\n\n${formatScores(scores)}\n\n${summaryLine(scores)}\n`);
} catch (err) {
  process.stderr.write(`eval:classifier: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
