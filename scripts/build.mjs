// Builds everything a run needs, so that `npm start`, `npm test`, `npm run bench` and
// `npm run deploy` never depend on a hand-run step:
//   - compiles the WebAssembly request classifier (wasm/build.mjs; skipped when unchanged);
//   - bundles the operator dashboard's page into .build/assets/ (web/build.mjs), the gateway's
//     static assets, which wrangler dev, Miniflare, the test pool and deploy all read;
//   - bundles each auxiliary worker in workers/* into .build/<name>/ (the test pool and the
//     Miniflare-direct bench load bundled scripts, not TypeScript).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildClassifier } from "../wasm/build.mjs";
import { buildDashboard } from "../web/build.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const wrangler = join(root, "node_modules", ".bin", "wrangler");

// Everything stays on this machine: no telemetry, no banner (printing it makes wrangler ask npm
// for updates), and no download of the `Request.cf` sample (a placeholder is used instead).
export const wranglerEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
};

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env: wranglerEnv, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed with status ${r.status}`);
  }
}

// Paths are taken relative to the project root: wrangler itself would resolve a relative
// --outdir against the config file's folder, scattering bundles next to the sources.
export function bundleWorker(configPath, outdir) {
  const abs = (p) => (isAbsolute(p) ? p : join(root, p));
  run(wrangler, ["deploy", "--dry-run", "--config", abs(configPath), "--outdir", abs(outdir)]);
}

export async function buildAll() {
  // First: the gateway imports the compiled classifier, and wrangler bundles it.
  await buildClassifier();
  await buildDashboard();
  const workersDir = join(root, "workers");
  for (const name of readdirSync(workersDir)) {
    const config = join(workersDir, name, "wrangler.toml");
    if (existsSync(config)) bundleWorker(config, join(root, ".build", name));
  }
  for (const extra of ["bench/floor-worker"]) {
    const config = join(root, extra, "wrangler.toml");
    if (existsSync(config)) bundleWorker(config, join(root, ".build", extra.split("/").pop()));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await buildAll();
  console.log(`build: done in ${Date.now() - started} ms`);
}
