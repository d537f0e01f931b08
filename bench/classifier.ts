// `npm run bench -- classifier`: quality of the request classifier against a naive Bayes
// baseline, on a random held-out split and leave-one-source-out, in one run.
//
// The data is the labelled public data (the shared corpus without WizardLM's evaluation set, plus
// wasm/data/public); models learn only from its commercial sources (the non-commercial ones are
// only ever held out) and, where said, the project's hand-written supplement. Leave-one-source-out:
// for each source repository, train on the others and predict it; the predictions of all folds
// are pooled and scored once. The model is trained with the recipe that ships
// (wasm/lib/pipeline.ts), quantised, and its predictions come from the compiled module itself
// (wasm/lib/evaluate.ts, shared with `npm run eval:classifier`).
import { TASK_LABELS } from "../src/schema/classification";
import { repoOf } from "../wasm/lib/dataset";
import { HOLD_OUT, leaveOneSourceOut, loadEvalData, randomSplit, recipeTrainer, SEED, type EvalData, type Trainer } from "../wasm/lib/evaluate";
import { NaiveBayes, naiveBayesFeatures } from "../wasm/lib/naive-bayes";
import { buildClassifier, loadClassifier } from "../wasm/lib/node";

function progress(msg: string): void {
  process.stderr.write(`classifier bench: ${msg}\n`);
}

function naiveBayesTrainer(d: EvalData, nbFeatures: Uint32Array[]): Trainer {
  return (train, test) => {
    const rows = train.filter((r) => d.trainable.has(r));
    const nb = new NaiveBayes(TASK_LABELS.length).fit(rows.map((r) => nbFeatures[r]!), rows.map((r) => d.targets[r]!));
    return Int32Array.from(test, (r) => nb.predict(nbFeatures[r]!));
  };
}

const f3 = (x: number) => x.toFixed(3);

export async function run(args: string[]): Promise<void> {
  const started = Date.now();
  const quick = args.includes("--quick"); // headline rows only
  await buildClassifier();
  const classifier = await loadClassifier();
  progress("features…");
  const d = loadEvalData(classifier);
  const nbFeatures = d.examples.map((e) => naiveBayesFeatures(e.text));

  const variants: Array<{ name: string; trainer: Trainer }> = [
    { name: "naive Bayes (baseline)", trainer: naiveBayesTrainer(d, nbFeatures) },
    { name: "WASM classifier (shipped recipe)", trainer: recipeTrainer(classifier, d, true) },
  ];
  if (!quick) variants.push({ name: "WASM classifier, no hand-written prompts", trainer: recipeTrainer(classifier, d, false) });
  const results = variants.map((v) => {
    progress(`${v.name}: random split…`);
    const random = randomSplit(d, v.trainer);
    progress(`${v.name}: leave-one-source-out…`);
    const loso = leaveOneSourceOut(d, v.trainer);
    return { ...v, random, loso };
  });

  const repoCount = new Set(d.rows.map((r) => repoOf(d.examples[r]!.source))).size;
  const out: string[] = [
    `Labelled public data: ${d.rows.length} prompts from ${repoCount} repositories (trainable, commercial: ${d.trainable.size}); supplement (training only): ${d.supplementRows.length}.`,
    `Random split: ${Math.round(HOLD_OUT * 100)} % held out, seed ${SEED}. LOSO: one fold per repository, predictions pooled.`,
    "",
    "| model | random acc | random macro-F1 | LOSO acc | LOSO macro-F1 |",
    "|---|---:|---:|---:|---:|",
    ...results.map((r) => `| ${r.name} | ${f3(r.random.accuracy)} | ${f3(r.random.macroF1)} | ${f3(r.loso.pooled.accuracy)} | ${f3(r.loso.pooled.macroF1)} |`),
    "",
    "LOSO accuracy per held-out repository:",
    "",
    `| repository | n | ${results.map((r) => r.name).join(" | ")} |`,
    `|---|---:|${results.map(() => "---:").join("|")}|`,
  ];
  for (const fold of results[0]!.loso.folds) {
    const cells = results.map((r) => f3(r.loso.folds.find((f) => f.repo === fold.repo)!.accuracy));
    out.push(`| ${fold.repo} | ${fold.n} | ${cells.join(" | ")} |`);
  }
  out.push("", "LOSO F1 per label:", "", `| label | ${results.map((r) => r.name).join(" | ")} |`, `|---|${results.map(() => "---:").join("|")}|`);
  TASK_LABELS.forEach((label, c) => out.push(`| ${label} | ${results.map((r) => f3(r.loso.pooled.perLabel[c]!.f1)).join(" | ")} |`));
  const model = results[1]!;
  const nb = results[0]!;
  const bare = results[2];
  out.push(
    "",
    `nb_random_macro_f1=${f3(nb.random.macroF1)} nb_loso_macro_f1=${f3(nb.loso.pooled.macroF1)} ` +
      `model_random_macro_f1=${f3(model.random.macroF1)} model_loso_macro_f1=${f3(model.loso.pooled.macroF1)} ` +
      (bare ? `model_loso_no_supplement_macro_f1=${f3(bare.loso.pooled.macroF1)} ` : "") +
      `model_loso_accuracy=${f3(model.loso.pooled.accuracy)} seconds=${Math.round((Date.now() - started) / 1000)}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}
