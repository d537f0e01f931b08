// The self-hosted gateway's workerd configuration, as pure functions of what was built and of the
// *names* of the settings in the environment (never their values: workerd reads each one itself
// with a `fromEnvironment` binding, so no secret is ever written into the generated file).
// Used by scripts/selfhost.mjs; unit-tested in test/node/selfhost-config.test.ts.
//
// The process serves two workers:
//   - "assets", a small router (scripts/selfhost-router.js) in front: it answers requests for the
//     built static files (.build/assets, the dashboard's page) as Workers Static Assets does on
//     Cloudflare, and hands everything else to the gateway over a service binding;
//   - "gateway", the same bundle `wrangler deploy` uploads, with every Durable Object namespace
//     stored in SQLite files under the data directory (`durableObjectStorage = (localDisk = …)`).

/** Names read from the environment and passed to the gateway: its settings, secrets included. */
export const SETTING_PREFIXES = ["HOMESKILLET_", "HOSTEDAI_", "LOCAL_NODE_", "OTEL_"];
/** Settings of the self-hosting script itself, not of the gateway. */
export const SCRIPT_SETTINGS = new Set(["HOMESKILLET_DATA_DIR", "HOMESKILLET_ASSETS_DIR", "HOMESKILLET_SELFHOST_BUILD"]);

const isSetting = (name) => SETTING_PREFIXES.some((p) => name.startsWith(p)) && !SCRIPT_SETTINGS.has(name) && /^[A-Z][A-Z0-9_]*$/.test(name);

/** Which environment variables become the gateway's bindings (names only, sorted). */
export function settingNames(env) {
  return Object.keys(env)
    .filter((name) => isSetting(name) && !name.endsWith("_FILE") && env[name] !== undefined)
    .sort();
}

/**
 * Docker's and Kubernetes' convention for secrets mounted as files: `HOSTEDAI_API_KEY_FILE=/run/
 * secrets/hostedai_api_key` sets HOSTEDAI_API_KEY to the file's content (one trailing newline
 * dropped). Naming a setting both ways is an error, not a silent choice.
 * @param {Record<string, string | undefined>} env
 * @param {(path: string) => string} readFile
 * @returns {{ env: Record<string, string | undefined>, errors: string[] }}
 */
export function resolveFileSettings(env, readFile) {
  const out = { ...env };
  const errors = [];
  for (const [name, path] of Object.entries(env)) {
    if (!name.endsWith("_FILE") || !isSetting(name) || !path) continue;
    const target = name.slice(0, -"_FILE".length);
    delete out[name];
    if (env[target] !== undefined) {
      errors.push(`${target} and ${name} are both set: keep one`);
      continue;
    }
    try {
      out[target] = readFile(path).replace(/\r?\n$/, "");
    } catch (err) {
      errors.push(`${name}: cannot read ${path} (${err.code ?? err.message})`);
    }
  }
  return { env: out, errors };
}

/**
 * The storage key of a Durable Object class: workerd derives object ids from it and names the
 * class's folder under the data directory after it. Changing it orphans every stored object.
 */
export function uniqueKeyFor(className) {
  return `homeskillet-${className}`;
}

/** A Cap'n Proto text literal. */
export function capnpString(s) {
  let out = '"';
  for (const ch of String(s)) {
    const code = ch.codePointAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

const MODULE_KINDS = { ESModule: "esModule", CommonJS: "commonJsModule", CompiledWasm: "wasm", Data: "data", Text: "text" };

/** The module type wrangler's default rules give a file of the bundle, by extension. */
export function moduleType(file) {
  const ext = /\.[^./]+$/.exec(file)?.[0] ?? "";
  return { ".js": "ESModule", ".mjs": "ESModule", ".cjs": "CommonJS", ".wasm": "CompiledWasm", ".bin": "Data", ".txt": "Text", ".html": "Text", ".sql": "Text" }[ext];
}

/**
 * Workers Static Assets' `_headers` file: a line with no leading space is a URL pattern (`*`
 * matches anything), the indented `Name: value` lines under it are headers for what it matches.
 */
export function parseHeadersFile(text) {
  const rules = [];
  let current;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (!line.trim() || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      current = { pattern: line.trim(), headers: [] };
      rules.push(current);
      continue;
    }
    const at = line.indexOf(":");
    if (!current || at < 0) throw new Error(`_headers: cannot read ${JSON.stringify(line)}`);
    current.headers.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  }
  return rules;
}

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".woff2": "font/woff2",
};

/**
 * What the router needs to know of the assets: each servable file's URL path and content type,
 * and the `_headers` rules. Files whose name starts with `_` or `.` are configuration, not content.
 * @param {string[]} files paths relative to the assets directory, with `/` separators
 * @param {string} [headersText] the `_headers` file, if any
 */
export function assetManifest(files, headersText = "") {
  const out = {};
  for (const f of [...files].sort()) {
    if (f.split("/").some((part) => part.startsWith("_") || part.startsWith("."))) continue;
    const ext = /\.[^./]+$/.exec(f)?.[0]?.toLowerCase() ?? "";
    out[`/${f}`] = CONTENT_TYPES[ext] ?? "application/octet-stream";
  }
  return { files: out, headers: parseHeadersFile(headersText) };
}

/**
 * The workerd configuration (Cap'n Proto text).
 * @param {object} o
 * @param {string} o.compatibilityDate
 * @param {string[]} o.compatibilityFlags
 * @param {Array<{ name: string, type: string, path: string }>} o.modules the gateway bundle, entry first; `path` as `embed` reads it (relative to the config file)
 * @param {Array<{ binding: string, className: string }>} o.durableObjects
 * @param {string[]} o.settings names of environment variables to bind (see settingNames)
 * @param {string} o.dataDir absolute path of the Durable Objects' storage
 * @param {string} o.assetsDir absolute path of the built static assets
 * @param {{ files: Record<string, string>, headers: unknown[] }} o.manifest see assetManifest
 * @param {string} o.routerPath the router module, as `embed` reads it
 * @param {string} o.listen address of the HTTP socket, e.g. "127.0.0.1:8787" or "*:8787"
 */
export function workerdConfig(o) {
  if (!o.modules.length || o.modules[0].type !== "ESModule") throw new Error("the gateway's entry module must come first and be an ES module");
  const s = capnpString;
  const modules = o.modules.map((m) => {
    const kind = MODULE_KINDS[m.type];
    if (!kind) throw new Error(`module ${m.name}: unsupported type ${m.type}`);
    return `(name = ${s(m.name)}, ${kind} = embed ${s(m.path)})`;
  });
  const bindings = [
    ...o.durableObjects.map((d) => `(name = ${s(d.binding)}, durableObjectNamespace = (className = ${s(d.className)}))`),
    ...o.settings.map((name) => `(name = ${s(name)}, fromEnvironment = ${s(name)})`),
  ];
  const namespaces = o.durableObjects.map((d) => `(className = ${s(d.className)}, uniqueKey = ${s(uniqueKeyFor(d.className))}, enableSql = true)`);
  const list = (items, indent) => (items.length ? `[\n${items.map((i) => `${indent}  ${i},`).join("\n")}\n${indent}]` : "[]");
  return `# Generated by scripts/selfhost.mjs: the self-hosted Homeskillet gateway. Do not edit; regenerated on every start.
# Settings and secrets are read by workerd from the environment (fromEnvironment): none is in this file.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "assets", worker = .router),
    (name = "gateway", worker = .gateway),
    (name = "static", disk = (path = ${s(o.assetsDir)}, writable = false)),
    (name = "data", disk = (path = ${s(o.dataDir)}, writable = true)),
    # The gateway's outbound fetches: Hosted.AI, the local node, the trace collector. Self-hosted
    # upstreams are often on the same network, so private and local addresses are allowed too.
    (name = "internet", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [
    (name = "http", address = ${s(o.listen)}, http = (), service = "assets"),
  ],
);

const router :Workerd.Worker = (
  modules = [(name = "router.js", esModule = embed ${s(o.routerPath)})],
  compatibilityDate = ${s(o.compatibilityDate)},
  bindings = [
    (name = "GATEWAY", service = "gateway"),
    (name = "STATIC", service = "static"),
    (name = "MANIFEST", json = ${s(JSON.stringify(o.manifest))}),
  ],
);

const gateway :Workerd.Worker = (
  modules = ${list(modules, "  ")},
  compatibilityDate = ${s(o.compatibilityDate)},
  compatibilityFlags = ${list(o.compatibilityFlags.map(s), "  ")},
  bindings = ${list(bindings, "  ")},
  durableObjectNamespaces = ${list(namespaces, "  ")},
  durableObjectStorage = (localDisk = "data"),
);
`;
}
