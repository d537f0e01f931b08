// Starts and stops the whole local system: the gateway, the Hosted.AI emulator, the local-node
// emulator and (for benches) the floor worker. One entry point for `npm start`, the benches and
// Node-side tests, in two modes:
//   - "wrangler": one `wrangler dev` per worker, what a developer runs;
//   - "miniflare": the bundled workers in one Miniflare instance, each on its own loopback
//     socket, wired with service bindings; no dev proxy in the request path.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorker, wranglerEnv } from "./build.mjs";
import { failedOnTakenPort, freePort, tryPort } from "./ports.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const wranglerBin = join(root, "node_modules", ".bin", "wrangler");
const HOST = "127.0.0.1";
const ANSI = /\x1b\[[0-9;]*m/g;

// The workers of the local system. `bindsTo` names the components reachable through a service
// binding in Miniflare mode (wrangler dev reaches them over HTTP through the *_URL vars).
export const COMPONENTS = {
  hostedai: { config: "workers/hostedai-emulator/wrangler.toml", port: 8788 },
  localNode: { config: "workers/local-node-emulator/wrangler.toml", port: 8789 },
  gateway: {
    config: "wrangler.toml",
    outdir: ".build/homeskillet",
    port: Number(process.env.PORT) || 8787,
    bindsTo: { HOSTEDAI: "hostedai", LOCAL_NODE: "localNode" },
  },
  floor: { config: "bench/floor-worker/wrangler.toml", port: 0, bindsTo: { HOSTEDAI: "hostedai", LOCAL_NODE: "localNode" } },
};

// A fixed order for logs and Miniflare's worker list; startup itself does not depend on it,
// since every port (and so every URL a worker is given) is chosen before anything starts.
const ORDER = ["hostedai", "localNode", "gateway", "floor"];

/**
 * @param {object} [opts]
 * @param {"wrangler"|"miniflare"} [opts.mode]
 * @param {string[]} [opts.workers] components to start (default hostedai, localNode, gateway)
 * @param {{gateway?: number, hostedai?: number, localNode?: number, floor?: number}} [opts.ports] 0 = any free port
 * @param {string} [opts.devKey]
 * @param {Record<string,string>} [opts.emulatorVars] extra vars for both emulators
 * @param {Record<string,string>} [opts.gatewayVars] extra vars for the gateway
 * @param {string|false} [opts.persist] state root for wrangler mode; false = a fresh temporary one
 * @param {Record<string,string>} [opts.configs] replace a component's wrangler.toml (tests)
 * @param {boolean} [opts.quiet]
 * @param {number} [opts.timeoutMs] how long each worker may take to answer
 * @param {number} [opts.inspectorPort] miniflare mode: open workerd's inspector on this port
 */
export async function startSystem(opts = {}) {
  const mode = opts.mode ?? "wrangler";
  if (mode !== "wrangler" && mode !== "miniflare") throw new Error(`unknown mode ${mode}`);
  const names = ORDER.filter((n) => (opts.workers ?? ["hostedai", "localNode", "gateway"]).includes(n));
  const devKey = opts.devKey ?? process.env.HOMESKILLET_DEV_KEY ?? `hsk_dev_${randomBytes(12).toString("hex")}`;
  const log = opts.quiet ? () => {} : (line) => process.stdout.write(line + "\n");

  const auto = (name) => [0, "auto"].includes(opts.ports?.[name] ?? COMPONENTS[name].port);
  const ports = {};
  for (const name of names) {
    if (!auto(name)) ports[name] = await fixedPort(opts.ports?.[name] ?? COMPONENTS[name].port, name);
  }
  const url = (name) => (ports[name] === undefined ? undefined : `http://${HOST}:${ports[name]}`);

  const configPaths = names.map((name) => {
    const configPath = resolve(root, opts.configs?.[name] ?? COMPONENTS[name].config);
    if (!existsSync(configPath)) throw new Error(`${name}: ${configPath} does not exist`);
    return configPath;
  });
  const configs = readConfigs(configPaths);

  // A port chosen here can be taken by another process before the worker binds it. When that
  // happens to a port this function chose, it chooses again; a port the caller named is an error.
  let system;
  for (let attempt = 1; ; attempt++) {
    for (const name of names) if (auto(name)) ports[name] = await freePort(HOST);
    const specs = names.map((name, i) => ({
      name,
      configPath: configPaths[i],
      config: configs[i],
      port: ports[name],
      vars: varsFor(name, { url, devKey, opts }),
    }));
    try {
      system = mode === "wrangler" ? await startWrangler(specs, opts, log) : await startMiniflare(specs, opts, log);
      break;
    } catch (err) {
      const chosen = names.filter(auto).map((name) => ports[name]);
      if (attempt === 3 || chosen.length === 0 || !(await failedOnTakenPort(err, chosen, HOST))) throw err;
      log(`[system] a port was taken before its worker bound it; choosing again (${attempt}/3)`);
    }
  }
  return {
    mode,
    gateway: url("gateway"),
    hostedai: url("hostedai"),
    localNode: url("localNode"),
    floor: url("floor"),
    devKey,
    miniflare: system.miniflare,
    stop: system.stop,
  };
}

// Vars are the same in both modes; in Miniflare mode they become plain bindings.
function varsFor(name, { url, devKey, opts }) {
  switch (name) {
    case "gateway":
      return {
        ...(url("hostedai") && { HOSTEDAI_BASE_URL: url("hostedai") }),
        ...(url("localNode") && { LOCAL_NODE_URL: url("localNode") }),
        HOSTEDAI_API_KEY: "dev-hostedai-key",
        HOMESKILLET_DEV_KEY: devKey,
        ...opts.gatewayVars,
      };
    case "hostedai":
    case "localNode":
      return { ...opts.emulatorVars };
    case "floor":
      return {
        ...(url("hostedai") && { UPSTREAM_URL: url("hostedai") }),
        ...(url("localNode") && { LOCAL_UPSTREAM_URL: url("localNode") }),
      };
    default:
      return {};
  }
}

// Each config's name and the Miniflare options wrangler derives from it (bindings of every kind,
// Durable Objects, module rules). Read in a child process: loading wrangler installs a SIGINT
// handler that exits at once, which would skip stopping what this module started.
function readConfigs(configPaths) {
  const marker = "@@homeskillet-configs@@";
  const script = `
    const wrangler = require("wrangler");
    const out = process.argv.slice(1).map((config) => ({
      name: wrangler.unstable_readConfig({ config }, { hideWarnings: true }).name,
      workerOptions: wrangler.unstable_getMiniflareWorkerOptions(config).workerOptions,
    }));
    process.stdout.write(${JSON.stringify(marker)} + JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["-e", script, ...configPaths], {
    cwd: root,
    env: wranglerEnv,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const at = r.stdout?.lastIndexOf(marker) ?? -1;
  if (r.status !== 0 || at < 0) {
    throw new Error(`reading ${configPaths.join(", ")} failed (status ${r.status}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return JSON.parse(r.stdout.slice(at + marker.length));
}

// ---------------------------------------------------------------------------------------------
// mode "wrangler"

async function startWrangler(specs, opts, log) {
  const stateRoot = opts.persist === false ? mkdtempSync(join(tmpdir(), "homeskillet-state-")) : resolve(root, opts.persist ?? ".wrangler/state");
  const children = [];
  const removeState = () => opts.persist === false && rmSync(stateRoot, { recursive: true, force: true });
  // If this process exits without stop() (an uncaught error, process.exit in a signal handler),
  // leave no wrangler, workerd or temporary state behind. Only synchronous work is possible here.
  const onExit = () => {
    for (const c of children) c.kill();
    removeState();
  };
  process.on("exit", onExit);
  const stop = once(async () => {
    await Promise.all(children.map((c) => c.stop()));
    process.off("exit", onExit);
    removeState();
  });
  try {
    // All ports are known up front, so the workers start side by side.
    await Promise.all(specs.map(async (spec) => {
      const persistTo = join(stateRoot, spec.config.name);
      mkdirSync(persistTo, { recursive: true });
      const args = [
        "dev",
        "--config", spec.configPath,
        "--ip", HOST,
        "--port", String(spec.port),
        // An explicit free port: the default (9229, probed) races when several start at once.
        "--inspector-port", String(await freePort(HOST)),
        "--persist-to", persistTo,
        "--show-interactive-dev-session=false",
        ...Object.entries(spec.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ];
      const child = spawnLogged(spec.name, wranglerBin, args, log);
      children.push(child);
      await waitForHttp(`http://${HOST}:${spec.port}/`, { name: spec.name, child, timeoutMs: opts.timeoutMs });
      log(`[system] ${spec.name} ready on http://${HOST}:${spec.port} (wrangler dev)`);
    }));
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

// A child in its own process group (wrangler dev runs workerd under it), with its recent output
// kept for error messages.
function spawnLogged(name, cmd, args, log) {
  const proc = spawn(cmd, args, {
    cwd: root,
    env: { ...wranglerEnv, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const tail = [];
  let exited = null;
  let failed = null;
  const exitedPromise = new Promise((resolve) => {
    proc.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    proc.on("error", (err) => {
      exited = { code: null, signal: null, error: err };
      resolve();
    });
  });
  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        const plain = line.replace(ANSI, "");
        tail.push(plain);
        if (tail.length > 40) tail.shift();
        // wrangler dev stays up after a failed build, waiting for an edit: that is fatal here.
        if (!failed && /Build failed/.test(plain)) failed = plain.trim();
        log(`[${name}] ${line}`);
      }
    });
  }
  return {
    name,
    tail,
    get exited() {
      return exited;
    },
    get failed() {
      return failed;
    },
    kill: () => killGroup(proc.pid, "SIGKILL"),
    stop: once(async () => {
      if (!exited) {
        killGroup(proc.pid, "SIGTERM");
        const killed = await Promise.race([exitedPromise.then(() => true), sleep(5000).then(() => false)]);
        if (!killed) {
          killGroup(proc.pid, "SIGKILL");
          await exitedPromise;
        }
      }
      // wrangler may exit before its workerd does; the job is done when the group is empty.
      for (let i = 0; groupAlive(proc.pid); i++) {
        if (i === 20) killGroup(proc.pid, "SIGKILL");
        await sleep(100);
      }
    }),
  };
}

// True while a live (not zombie) process remains in the group. Zombies count as gone: where
// PID 1 does not reap orphans (containers) they would otherwise keep the group "alive" forever.
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (!existsSync("/proc/self/stat")) return true;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the parenthesised command: state ppid pgrp ...
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// mode "miniflare"

async function startMiniflare(specs, opts, log) {
  const { Miniflare, Log, LogLevel } = await import("miniflare");
  const byName = Object.fromEntries(specs.map((s) => [s.name, s]));
  const workers = specs.map((spec) => {
    // The gateway is always rebundled (it changes most); the others are built by `npm run build`.
    // A replaced config is bundled beside itself so it never overwrites the project's bundles.
    const custom = Boolean(opts.configs?.[spec.name]);
    const outdir = custom
      ? join(dirname(spec.configPath), ".build", spec.config.name)
      : join(root, COMPONENTS[spec.name].outdir ?? join(".build", spec.config.name));
    if (custom || spec.name === "gateway" || !existsSync(join(outdir, "index.js"))) bundleWorker(spec.configPath, outdir);
    const base = spec.config.workerOptions;
    const serviceBindings = { ...base.serviceBindings };
    for (const [binding, target] of Object.entries(COMPONENTS[spec.name].bindsTo ?? {})) {
      if (byName[target]) serviceBindings[binding] = byName[target].config.name;
    }
    const durableObjects = Object.fromEntries(
      Object.entries(base.durableObjects ?? {}).map(([binding, d]) => [
        binding,
        typeof d === "string" ? { className: d, useSQLite: true } : { ...d, useSQLite: true },
      ]),
    );
    return {
      ...base,
      name: spec.config.name,
      modulesRoot: outdir,
      modules: bundleModules(outdir),
      bindings: { ...base.bindings, ...spec.vars },
      durableObjects,
      serviceBindings,
      unsafeDirectSockets: [{ host: HOST, port: spec.port }],
    };
  });

  const tail = [];
  const miniflare = new Miniflare({
    workers,
    host: HOST,
    port: 0, // the entry socket is unused; keep it off every well-known port
    cf: false, // a placeholder Request.cf rather than a download
    // workerd's own DevTools inspector (ws://127.0.0.1:<port>/core:user:<worker>), for CPU profiles.
    ...(opts.inspectorPort !== undefined && { inspectorPort: opts.inspectorPort }),
    log: opts.quiet ? new Log(LogLevel.ERROR) : new Log(LogLevel.INFO),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => {
          for (const line of chunk.split("\n")) {
            if (!line.trim()) continue;
            tail.push(line);
            if (tail.length > 40) tail.shift();
            log(`[workerd] ${line}`);
          }
        });
      }
    },
  });
  const stop = once(() => miniflare.dispose());
  try {
    await miniflare.ready;
    for (const spec of specs) {
      const direct = await miniflare.unsafeGetDirectURL(spec.config.name);
      if (Number(direct.port) !== spec.port) throw new Error(`${spec.name}: direct socket on ${direct.port}, expected ${spec.port}`);
      await waitForHttp(`http://${HOST}:${spec.port}/`, { name: spec.name, child: { tail, exited: null, failed: null }, timeoutMs: opts.timeoutMs });
      log(`[system] ${spec.name} ready on http://${HOST}:${spec.port} (miniflare)`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop, miniflare };
}

// Every module wrangler wrote for a worker, the entry first, typed by extension as wrangler's
// default module rules do (the classifier's .wasm must arrive as a compiled module).
function bundleModules(outdir) {
  const types = { ".js": "ESModule", ".mjs": "ESModule", ".cjs": "CommonJS", ".wasm": "CompiledWasm", ".bin": "Data", ".txt": "Text", ".html": "Text", ".sql": "Text" };
  const files = listFiles(outdir).filter((f) => types[extname(f)] && !f.endsWith(".map"));
  files.sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  if (files[0] !== "index.js") throw new Error(`${outdir}/index.js missing; run npm run build`);
  return files.map((f) => ({ type: types[extname(f)], path: join(outdir, f) }));
}

function listFiles(dir, prefix = "") {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

// ---------------------------------------------------------------------------------------------
// helpers

async function fixedPort(port, name) {
  if ((await tryPort(port, HOST)) === undefined) {
    throw new Error(`${name}: port ${port} on ${HOST} is in use (another \`npm start\`?); pass another port or 0`);
  }
  return port;
}

// Any HTTP answer, whatever its status, means the worker is up. wrangler dev holds requests
// until its runtime is ready, so each attempt gets a few seconds.
async function waitForHttp(target, { name, child, timeoutMs = 90_000 }) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (child.exited || child.failed) {
      const why = child.failed ?? `exited (${JSON.stringify(child.exited)})`;
      throw new Error(`${name}: ${why} before answering on ${target}; last output:\n${child.tail.join("\n")}`);
    }
    try {
      const res = await fetch(target, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastError = err;
      await sleep(250);
    }
  }
  throw new Error(
    `${name} did not answer on ${target} within ${timeoutMs} ms (${lastError?.cause?.code ?? lastError?.message}); last output:\n${child.tail.join("\n")}`,
  );
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function once(fn) {
  let p;
  return () => (p ??= Promise.resolve().then(fn));
}
