// `npm run bench -- classifier`: quality of the request classifier against a naive Bayes
// baseline, on a random held-out split and leave-one-source-out, in one run.
//
// Leave-one-source-out: for each source repository (`owner/repo` of `source`), train on all the
// others and predict it; the predictions of all folds are pooled and scored once. The model is
// trained with the recipe that ships (wasm/lib/pipeline.ts), quantised, and its predictions come
// from the compiled module itself. The project's own supplement prompts are training data only;
// every figure is measured on ../shared/data/prompts/train.jsonl.
import { TASK_LABELS } from "../src/schema/classification";
import { CORPUS_PATH, isCommercial, labelIndex, readExamples, readSupplement, repoOf, type Example } from "../wasm/lib/dataset";
import { extractFeatures, type FeatureMatrix } from "../wasm/lib/features";
import { score, type Scores } from "../wasm/lib/metrics";
import { NaiveBayes, naiveBayesFeatures } from "../wasm/lib/naive-bayes";
import { buildClassifier, loadClassifier } from "../wasm/lib/node";
import { SEED, predictWithModule, quantise, trainRecipe } from "../wasm/lib/pipeline";
import { rng, shuffleInPlace } from "../wasm/lib/random";
import type { Classifier } from "../src/classify/engine";

const HOLD_OUT = 0.2;

interface Data {
  examples: Example[];
  /** Rows of the corpus (evaluated); the supplement's rows follow them. */
  corpusRows: number[];
  supplementRows: number[];
  features: FeatureMatrix;
  nbFeatures: Uint32Array[];
  targets: Int32Array;
}

type Trainer = (train: number[], test: number[]) => Int32Array;

function progress(msg: string): void {
  process.stderr.write(`classifier bench: ${msg}\n`);
}

function modelTrainer(classifier: Classifier, d: Data, withSupplement: boolean): Trainer {
  return (train, test) => {
    const rows = withSupplement ? [...train, ...d.supplementRows] : train;
    const image = quantise(trainRecipe(classifier, d.features, d.examples, rows));
    return predictWithModule(classifier, image, test.map((r) => d.examples[r]!.text));
  };
}

function naiveBayesTrainer(d: Data, withSupplement: boolean): Trainer {
  return (train, test) => {
    const rows = withSupplement ? [...train, ...d.supplementRows] : train;
    const nb = new NaiveBayes(TASK_LABELS.length).fit(rows.map((r) => d.nbFeatures[r]!), rows.map((r) => d.targets[r]!));
    return Int32Array.from(test, (r) => nb.predict(d.nbFeatures[r]!));
  };
}

function randomSplit(d: Data, rows: number[], trainer: Trainer): Scores {
  const order = shuffleInPlace([...rows], rng(SEED));
  const cut = Math.floor(order.length * (1 - HOLD_OUT));
  const test = order.slice(cut);
  const predicted = trainer(order.slice(0, cut), test);
  return score(test.map((r) => d.targets[r]!), predicted);
}

interface LosoResult {
  pooled: Scores;
  folds: Array<{ repo: string; n: number; accuracy: number }>;
}

function leaveOneSourceOut(d: Data, rows: number[], trainer: Trainer): LosoResult {
  const repos = [...new Set(rows.map((r) => repoOf(d.examples[r]!.source)))];
  const actual: number[] = [];
  const predicted: number[] = [];
  const folds: LosoResult["folds"] = [];
  for (const repo of repos) {
    const test = rows.filter((r) => repoOf(d.examples[r]!.source) === repo);
    const train = rows.filter((r) => repoOf(d.examples[r]!.source) !== repo);
    const p = trainer(train, test);
    let correct = 0;
    test.forEach((r, i) => {
      actual.push(d.targets[r]!);
      predicted.push(p[i]!);
      if (p[i] === d.targets[r]) correct++;
    });
    folds.push({ repo, n: test.length, accuracy: correct / test.length });
  }
  return { pooled: score(actual, predicted), folds };
}

const f3 = (x: number) => x.toFixed(3);

export async function run(args: string[]): Promise<void> {
  const started = Date.now();
  const quick = args.includes("--quick"); // headline rows only
  await buildClassifier();
  const classifier = await loadClassifier();
  const corpus = readExamples(CORPUS_PATH);
  const supplement = readSupplement();
  const examples = [...corpus, ...supplement];
  progress(`features for ${examples.length} prompts…`);
  const d: Data = {
    examples,
    corpusRows: corpus.map((_, i) => i),
    supplementRows: supplement.map((_, i) => corpus.length + i),
    features: extractFeatures(classifier, examples.map((e) => e.text)),
    nbFeatures: examples.map((e) => naiveBayesFeatures(e.text)),
    targets: Int32Array.from(examples, (e) => labelIndex(e.label)),
  };
  const commercialRows = d.corpusRows.filter((r) => isCommercial(examples[r]!));

  const variants: Array<{ name: string; trainer: Trainer; rows: number[] }> = [
    { name: "naive Bayes (baseline)", trainer: naiveBayesTrainer(d, false), rows: d.corpusRows },
    { name: "WASM classifier (shipped recipe)", trainer: modelTrainer(classifier, d, true), rows: d.corpusRows },
  ];
  if (!quick) {
    variants.push(
      { name: "naive Bayes + supplement", trainer: naiveBayesTrainer(d, true), rows: d.corpusRows },
      { name: "WASM classifier, no supplement", trainer: modelTrainer(classifier, d, false), rows: d.corpusRows },
      { name: "WASM classifier, commercial sources only", trainer: modelTrainer(classifier, d, true), rows: commercialRows },
    );
  }
  const results = variants.map((v) => {
    progress(`${v.name}: random split…`);
    const random = randomSplit(d, v.rows, v.trainer);
    progress(`${v.name}: leave-one-source-out…`);
    const loso = leaveOneSourceOut(d, v.rows, v.trainer);
    return { ...v, random, loso };
  });

  const out: string[] = [
    `Corpus: ${corpus.length} prompts from ${new Set(corpus.map((e) => repoOf(e.source))).size} repositories; supplement (training only): ${supplement.length}.`,
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
  const repos = results[0]!.loso.folds.map((f) => f.repo);
  for (const repo of repos) {
    const cells = results.map((r) => {
      const fold = r.loso.folds.find((f) => f.repo === repo);
      return fold ? f3(fold.accuracy) : "–";
    });
    out.push(`| ${repo} | ${results[0]!.loso.folds.find((f) => f.repo === repo)!.n} | ${cells.join(" | ")} |`);
  }
  const model = results[1]!;
  out.push("", `LOSO per label, ${model.name}:`, "", "| label | precision | recall | F1 |", "|---|---:|---:|---:|");
  for (const p of model.loso.pooled.perLabel) out.push(`| ${p.label} | ${f3(p.precision)} | ${f3(p.recall)} | ${f3(p.f1)} |`);
  const nb = results[0]!;
  out.push(
    "",
    `nb_random_macro_f1=${f3(nb.random.macroF1)} nb_loso_macro_f1=${f3(nb.loso.pooled.macroF1)} ` +
      `model_random_macro_f1=${f3(model.random.macroF1)} model_loso_macro_f1=${f3(model.loso.pooled.macroF1)} ` +
      `model_loso_accuracy=${f3(model.loso.pooled.accuracy)} goal_met=${model.loso.pooled.macroF1 >= 0.75 && model.random.macroF1 >= 0.9} ` +
      `seconds=${Math.round((Date.now() - started) / 1000)}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}
