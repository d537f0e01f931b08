// `npm run bench -- classifier-speed`: how fast the classifier is where it runs.
//
// Inside workerd (Miniflare running bench/classifier-worker.ts, bundled by wrangler exactly as
// a deployment is): Workers clocks tick in whole milliseconds, so each sample is the mean call
// time of one batch sized to last tens of milliseconds; p50/p99 are over batches. The same
// module is also timed call by call in Node (same V8, same WebAssembly), where a clock fine
// enough for single calls exists. Plus module size and instantiation time.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { CORPUS_PATH, readExamples } from "../wasm/lib/dataset";
import { WASM_PATH, buildClassifier, compile, loadClassifier } from "../wasm/lib/node";

const root = fileURLToPath(new URL("..", import.meta.url));
const SIZES = [
  { name: "100 B", bytes: 100 },
  { name: "2 KB", bytes: 2 * 1024 },
  { name: "32 KB", bytes: 32 * 1024 },
];
/** Each workerd sample should last about this long, so a 1 ms tick is a small error. */
const BATCH_TARGET_MS = 25;

export interface SpeedRow {
  size: string;
  workerdP50Us: number;
  workerdP99Us: number;
  nodeP50Us: number;
  nodeP99Us: number;
}

const utf8 = new TextEncoder();
const byteLength = (s: string) => utf8.encode(s).byteLength;

/** Real prompts of about `bytes` each (joined from several when none is that long). */
export function promptsOfSize(texts: readonly string[], bytes: number, count = 16): string[] {
  const near = texts.filter((t) => Math.abs(byteLength(t) - bytes) <= bytes * 0.1);
  if (near.length >= count) return near.slice(0, count);
  const out: string[] = [];
  let at = 0;
  while (out.length < count) {
    let joined = "";
    while (byteLength(joined) < bytes) joined += `${texts[at++ % texts.length]}\n\n`;
    out.push(joined.slice(0, bytes));
  }
  return out;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function bundleWorker(outdir: string): string {
  const configDir = mkdtempSync(join(tmpdir(), "classifier-bench-"));
  const config = join(configDir, "wrangler.toml");
  writeFileSync(config, `name = "classifier-bench"\nmain = ${JSON.stringify(join(root, "bench/classifier-worker.ts"))}\ncompatibility_date = "2026-04-20"\n`);
  const r = spawnSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--config", config, "--outdir", outdir], {
    cwd: configDir,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
    encoding: "utf8",
  });
  rmSync(configDir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`bundling the bench worker failed:\n${r.stdout}${r.stderr}`);
  return join(outdir, "classifier-worker.js");
}

async function workerdTimes(mf: Miniflare, texts: string[], batches: number): Promise<number[]> {
  // Calibrate the batch size on one short batch, then measure.
  const probe = (await (await mf.dispatchFetch("http://bench/", { method: "POST", body: JSON.stringify({ texts, callsPerBatch: 200, batches: 1 }) })).json()) as { batchMs: number[] };
  const perCallMs = Math.max(0.001, probe.batchMs[0]! / 200);
  const callsPerBatch = Math.max(10, Math.round(BATCH_TARGET_MS / perCallMs));
  const res = await mf.dispatchFetch("http://bench/", { method: "POST", body: JSON.stringify({ texts, callsPerBatch, batches }) });
  const { batchMs } = (await res.json()) as { batchMs: number[] };
  return batchMs.map((ms) => (ms * 1000) / callsPerBatch).sort((a, b) => a - b);
}

async function nodeTimes(texts: string[], calls: number): Promise<number[]> {
  const classifier = await loadClassifier();
  for (let i = 0; i < 200; i++) classifier.classify(texts[i % texts.length]!);
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = process.hrtime.bigint();
    classifier.classify(texts[i % texts.length]!);
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return times.sort((a, b) => a - b);
}

export async function runSpeed(opts: { batches: number; calls: number }) {
  await buildClassifier();
  const moduleBytes = statSync(WASM_PATH).size;
  const corpus = readExamples(CORPUS_PATH).map((e) => e.text);
  const outdir = mkdtempSync(join(tmpdir(), "classifier-bench-out-"));
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundleWorker(outdir),
    modulesRoot: outdir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
  });
  try {
    const rows: SpeedRow[] = [];
    for (const size of SIZES) {
      const texts = promptsOfSize(corpus, size.bytes);
      const w = await workerdTimes(mf, texts, opts.batches);
      const n = await nodeTimes(texts, opts.calls);
      rows.push({ size: size.name, workerdP50Us: percentile(w, 0.5), workerdP99Us: percentile(w, 0.99), nodeP50Us: percentile(n, 0.5), nodeP99Us: percentile(n, 0.99) });
    }
    const inst = (await (await mf.dispatchFetch("http://bench/instantiate?count=200")).json()) as { totalMs: number; count: number };
    const compileStarted = process.hrtime.bigint();
    await compile(readFileSync(WASM_PATH));
    const compileMs = Number(process.hrtime.bigint() - compileStarted) / 1e6;
    return { rows, moduleBytes, instantiateUs: (inst.totalMs * 1000) / inst.count, compileMs };
  } finally {
    await mf.dispose();
    rmSync(outdir, { recursive: true, force: true });
  }
}

const us = (x: number) => x.toFixed(1);

export async function run(args: string[]): Promise<void> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const r = await runSpeed({ batches: flag("--batches", 100), calls: flag("--calls", 5000) });
  const lines = [
    "| prompt | workerd p50 µs | workerd p99 µs | Node p50 µs | Node p99 µs |",
    "|---|---:|---:|---:|---:|",
    ...r.rows.map((row) => `| ${row.size} | ${us(row.workerdP50Us)} | ${us(row.workerdP99Us)} | ${us(row.nodeP50Us)} | ${us(row.nodeP99Us)} |`),
    "",
    `module: ${r.moduleBytes} bytes; instantiate in workerd: ${us(r.instantiateUs)} µs (mean of 200); compile in Node: ${r.compileMs.toFixed(1)} ms`,
  ];
  const two = r.rows[1]!;
  process.stdout.write(`${lines.join("\n")}\n\n`);
  process.stdout.write(
    `module_bytes=${r.moduleBytes} instantiate_us=${us(r.instantiateUs)} ` +
      r.rows.map((row) => `p50_us_${row.size.replace(" ", "").toLowerCase()}=${us(row.workerdP50Us)} p99_us_${row.size.replace(" ", "").toLowerCase()}=${us(row.workerdP99Us)}`).join(" ") +
      ` goal_p99_2kb_under_100us=${two.workerdP99Us < 100 && two.nodeP99Us < 100}\n`,
  );
}
