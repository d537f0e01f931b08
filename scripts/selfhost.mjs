#!/usr/bin/env node
// `npm run selfhost`: the gateway on one machine, without Cloudflare. The bundle `wrangler deploy`
// would upload (with the WebAssembly classifier) and the dashboard's static assets run in workerd,
// the open-source Workers runtime, from the npm package `workerd`; every Durable Object keeps its
// SQLite under HOMESKILLET_DATA_DIR. Settings and secrets are read from the environment by workerd
// itself: the generated configuration names them and never holds a value.
//
//   node scripts/selfhost.mjs               build when this is a checkout (sources and wrangler are
//                                           here), then serve; what the container runs too, where
//                                           the image was built ahead and there is nothing to build
//   node scripts/selfhost.mjs --build-only  build .build/selfhost/ and stop (the image's build step)
//   node scripts/selfhost.mjs --no-build    serve what was built last
//
// Environment (README, "Self-hosting"):
//   PORT (8787), HOST (127.0.0.1; 0.0.0.0 in the container), HOMESKILLET_DATA_DIR (.data)
//   HOSTEDAI_BASE_URL, HOSTEDAI_API_KEY (required), HOMESKILLET_OPERATOR_KEY, HOMESKILLET_TENANT_KEYS,
//   HOMESKILLET_ENV (selfhost), LOCAL_NODE_*, OTEL_*, and every other HOMESKILLET_* setting.
//   HOMESKILLET_SELFHOST_BUILD: auto (default), 1 (always build) or 0 (never).
//
// SIGTERM and SIGINT are passed to workerd, and this process exits when workerd does, with its
// status, so a supervisor (Docker, Kubernetes, systemd) sees workerd's fate.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { assetManifest, moduleType, resolveFileSettings, settingNames, workerdConfig } from "./selfhost-config.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Everything the self-hosted gateway runs from: the bundle, its description and the assets. */
export const OUT = join(root, ".build", "selfhost");
const ROUTER = fileURLToPath(new URL("./selfhost-router.js", import.meta.url));
const log = (line) => process.stderr.write(`selfhost: ${line}\n`);

/** Builds .build/selfhost/: worker/ (the deploy bundle), worker.json (how to run it) and assets/. */
export async function build() {
  const started = Date.now();
  // Imported here: the image that only serves has none of the build tools.
  const { bundleWorker } = await import("./build.mjs");
  const { buildClassifier } = await import("../wasm/build.mjs");
  const { buildDashboard, ASSETS_DIR } = await import("../web/build.mjs");
  const { readWranglerConfig } = await import("./wrangler-config.mjs");
  await buildClassifier(); // skipped when its sources are unchanged
  // Rebuilt only when web/ changed since: a rebuild empties .build/assets first, under whatever
  // else (npm start, the tests' system) serves it at that moment.
  if (newestMtime(join(root, "web")) > oldestMtime(ASSETS_DIR)) await buildDashboard();
  const stage = `${OUT}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  bundleWorker("wrangler.toml", join(stage, "worker"));
  rmSync(join(stage, "worker", "README.md"), { force: true });
  cpSync(ASSETS_DIR, join(stage, "assets"), { recursive: true });

  const config = readWranglerConfig(join(root, "wrangler.toml"), undefined);
  const files = listFiles(join(stage, "worker")).filter((f) => !f.endsWith(".map"));
  files.sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  const modules = files.map((name) => {
    const type = moduleType(name);
    if (!type) throw new Error(`the bundle holds ${name}, of a type workerd is not given here`);
    return { name, type };
  });
  const worker = {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    durableObjects: config.durable_objects.bindings.map((b) => ({ binding: b.name, className: b.class_name })),
    modules,
  };
  writeFileSync(join(stage, "worker.json"), JSON.stringify(worker, null, 2) + "\n");
  // The same build again (another start, a concurrent one) leaves the output untouched, so a
  // workerd starting from it is never disturbed; a different one is swapped in by renames.
  if (sameTree(stage, OUT)) {
    rmSync(stage, { recursive: true, force: true });
    log(`${relative(root, OUT)} is up to date (${Date.now() - started} ms)`);
    return;
  }
  const old = `${OUT}.old-${process.pid}`;
  if (existsSync(OUT)) renameSync(OUT, old);
  renameSync(stage, OUT);
  rmSync(old, { recursive: true, force: true });
  log(`built ${relative(root, OUT)} in ${Date.now() - started} ms`);
}

/** True when both folders hold the same files with the same bytes (source maps aside). */
function sameTree(a, b) {
  if (!existsSync(b)) return false;
  const files = (dir) => listFiles(dir).filter((f) => !f.endsWith(".map") && f !== "workerd").sort();
  const fa = files(a);
  const fb = files(b);
  return fa.length === fb.length && fa.every((f, i) => f === fb[i] && readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
}

/**
 * Everything a start needs, from the build and the environment, with no side effect but reading
 * the build (and the files `*_FILE` settings name): the configuration text and the environment
 * workerd gets.
 */
export function plan(given = process.env, out = OUT) {
  const resolved = resolveFileSettings(given, (path) => readFileSync(path, "utf8"));
  const env = resolved.env;
  const errors = [...resolved.errors];
  if (!existsSync(join(out, "worker.json"))) errors.push(`${out}/worker.json is missing: build first (node scripts/selfhost.mjs --build-only)`);
  if (!env.HOSTEDAI_BASE_URL) errors.push("HOSTEDAI_BASE_URL is not set: where the Hosted.AI API lives");
  if (!env.HOSTEDAI_API_KEY) errors.push("HOSTEDAI_API_KEY is not set: the credential exchanged for a Hosted.AI token");
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push(`PORT must be a port number, not ${JSON.stringify(env.PORT)}`);
  if (errors.length) return { errors };

  const worker = JSON.parse(readFileSync(join(out, "worker.json"), "utf8"));
  const dataDir = resolve(env.HOMESKILLET_DATA_DIR || ".data");
  const assetsDir = resolve(env.HOMESKILLET_ASSETS_DIR || join(out, "assets"));
  const assetFiles = existsSync(assetsDir) ? listFiles(assetsDir) : [];
  const headersFile = join(assetsDir, "_headers");
  const manifest = assetManifest(assetFiles, existsSync(headersFile) ? readFileSync(headersFile, "utf8") : "");
  // Only `development` lets the dev key act as the operator key; a self-hosted gateway is a deployment.
  const childEnv = { ...env, HOMESKILLET_ENV: env.HOMESKILLET_ENV || "selfhost" };
  const host = env.HOST || "127.0.0.1";
  return {
    errors: [],
    port,
    host,
    dataDir,
    childEnv,
    settings: settingNames(childEnv),
    /** The text, given where it will be written (embed paths are relative to the file). */
    configText: (configDir) =>
      workerdConfig({
        compatibilityDate: worker.compatibilityDate,
        compatibilityFlags: worker.compatibilityFlags,
        modules: worker.modules.map((m) => ({ ...m, path: embedPath(configDir, join(out, "worker", m.name)) })),
        durableObjects: worker.durableObjects,
        settings: settingNames(childEnv),
        dataDir,
        assetsDir,
        manifest,
        routerPath: embedPath(configDir, ROUTER),
        listen: `${host.includes(":") ? `[${host}]` : host}:${port}`,
      }),
  };
}

/** The newest modification time of any file under `dir` (0 when there is none). */
function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  return Math.max(0, ...listFiles(dir).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** The oldest modification time of any file under `dir` (0 when there is none: a build is due). */
function oldestMtime(dir) {
  if (!existsSync(dir)) return 0;
  const times = listFiles(dir).map((f) => statSync(join(dir, f)).mtimeMs);
  return times.length ? Math.min(...times) : 0;
}

function embedPath(fromDir, file) {
  return relative(fromDir, file).split(sep).join("/");
}

function listFiles(dir, prefix = "") {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name).split(sep).join("/")],
  );
}

/**
 * The workerd binary: the one the container image copies beside the build, or else the npm
 * package `workerd`'s (wrangler's own runtime, so a checkout already has it).
 */
export function workerdBinary(out = OUT) {
  const beside = join(out, "workerd");
  if (existsSync(beside)) return beside;
  return createRequire(import.meta.url)("workerd").default;
}

function shouldBuild(argv, env) {
  if (argv.includes("--no-build")) return false;
  const setting = env.HOMESKILLET_SELFHOST_BUILD ?? "auto";
  if (setting === "1") return true;
  if (setting === "0") return false;
  // A checkout builds; an image built ahead (no sources, no wrangler) serves what it holds.
  return existsSync(join(root, "src", "index.ts")) && existsSync(join(root, "node_modules", "wrangler"));
}

async function main(argv) {
  for (const arg of argv) if (!["--build-only", "--no-build"].includes(arg)) throw new Error(`unknown argument ${arg}`);
  if (argv.includes("--build-only")) return build();
  if (shouldBuild(argv, process.env)) await build();

  const p = plan(process.env);
  if (p.errors.length) {
    for (const e of p.errors) log(e);
    process.exit(2);
  }
  const existed = existsSync(p.dataDir);
  mkdirSync(p.dataDir, { recursive: true });
  if (!statSync(p.dataDir).isDirectory()) throw new Error(`${p.dataDir} is not a directory`);
  // A data directory made here inside the checkout (the default .data/) keeps out of git.
  const inside = relative(root, p.dataDir);
  if (!existed && inside && !inside.startsWith("..")) writeFileSync(join(p.dataDir, ".gitignore"), "*\n");
  // The configuration names the settings and the data directory, nothing secret; it is written
  // afresh for each start (its embed paths lead to the build) and removed on the way out.
  const configDir = mkdtempSync(join(tmpdir(), "homeskillet-selfhost-"));
  const configPath = join(configDir, "workerd.capnp");
  writeFileSync(configPath, p.configText(configDir), { mode: 0o600 });
  const cleanup = () => rmSync(configDir, { recursive: true, force: true });

  if (!p.childEnv.HOMESKILLET_OPERATOR_KEY) log("HOMESKILLET_OPERATOR_KEY is not set: /metrics and the dashboard stay off");
  // workerd must not outlive this script: a second start on the same data directory would run a
  // second copy of every Durable Object. On Linux, setpriv (util-linux, in every Debian image)
  // asks the kernel to send workerd SIGTERM when this process dies, even by SIGKILL.
  const workerd = [workerdBinary(), "serve", configPath];
  const setpriv = process.platform === "linux" && existsSync("/usr/bin/setpriv") ? "/usr/bin/setpriv" : undefined;
  const [cmd, ...args] = setpriv ? [setpriv, "--pdeathsig", "SIGTERM", "--", ...workerd] : workerd;
  const child = spawn(cmd, args, { env: p.childEnv, stdio: ["ignore", "inherit", "inherit"] });
  log(`workerd (pid ${child.pid}) serving http://${p.host}:${p.port}, data in ${p.dataDir}, settings from the environment: ${p.settings.join(", ")}`);
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  process.on("exit", cleanup);
  child.on("error", (err) => {
    log(`could not start workerd: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    log(`workerd exited (${signal ?? `status ${code}`})`);
    cleanup();
    // A workerd stopped by our own forwarded signal ends cleanly; any other end is a failure.
    process.exit(code ?? (signal === "SIGTERM" || signal === "SIGINT" ? 0 : 1));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    log(err.stack ?? String(err));
    process.exit(1);
  });
}

