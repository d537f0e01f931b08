// The self-hosted gateway's workerd configuration (scripts/selfhost-config.mjs), as pure functions:
// which settings become bindings, that no value (a secret above all) is ever written into it, the
// Durable Object storage, and the static assets' manifest. The running process is tested in
// test/node/selfhost.test.ts.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assetManifest, capnpString, moduleType, parseHeadersFile, resolveFileSettings, settingNames, uniqueKeyFor, workerdConfig } from "../../scripts/selfhost-config.mjs";
import { plan, workerdBinary } from "../../scripts/selfhost.mjs";
import { freePort, until } from "./support.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const CLASSES = ["CovenantObject", "TenantDirectory", "McpSession", "MetricsIndex", "McpTickets", "KeyLimiter", "TenantRegistry"];

/** A stand-in for .build/selfhost: a tiny worker that exports every class, and its description. */
function fakeBuild(): string {
  const out = tempDir("homeskillet-selfhost-out-");
  mkdirSync(join(out, "worker"));
  mkdirSync(join(out, "assets", "dashboard"), { recursive: true });
  writeFileSync(
    join(out, "worker", "index.js"),
    `import { DurableObject } from "cloudflare:workers";\n` +
      CLASSES.map((c) => `export class ${c} extends DurableObject {}`).join("\n") +
      `\nexport default { fetch(req, env) { return Response.json({ env: env.HOMESKILLET_ENV, base: env.HOSTEDAI_BASE_URL, keyIsSet: typeof env.HOSTEDAI_API_KEY === "string" }); } };\n`,
  );
  writeFileSync(join(out, "assets", "dashboard", "index.html"), "<!doctype html><title>x</title>");
  writeFileSync(join(out, "assets", "_headers"), "/dashboard/*\n  X-Frame-Options: DENY\n");
  writeFileSync(
    join(out, "worker.json"),
    JSON.stringify({
      compatibilityDate: "2026-04-20",
      compatibilityFlags: ["nodejs_compat"],
      durableObjects: CLASSES.map((c) => ({ binding: c.toUpperCase(), className: c })),
      modules: [{ name: "index.js", type: "ESModule" }],
    }),
  );
  return out;
}

describe("settingNames", () => {
  it("passes the gateway's settings by name, and nothing else of the environment", () => {
    const env = {
      PATH: "/usr/bin",
      HOME: "/root",
      AWS_SECRET_ACCESS_KEY: "x",
      HOSTEDAI_BASE_URL: "https://api.example",
      HOSTEDAI_API_KEY: "k",
      HOMESKILLET_OPERATOR_KEY: "op",
      HOMESKILLET_TENANT_KEYS: "{}",
      HOMESKILLET_DATA_DIR: "/data",
      HOMESKILLET_SELFHOST_BUILD: "0",
      LOCAL_NODE_ACCESS_CLIENT_SECRET: "s",
      OTEL_EXPORTER_OTLP_HEADERS: "a=b",
      "HOMESKILLET_bad-name": "x",
      PORT: "8787",
    };
    expect(settingNames(env)).toEqual([
      "HOMESKILLET_OPERATOR_KEY",
      "HOMESKILLET_TENANT_KEYS",
      "HOSTEDAI_API_KEY",
      "HOSTEDAI_BASE_URL",
      "LOCAL_NODE_ACCESS_CLIENT_SECRET",
      "OTEL_EXPORTER_OTLP_HEADERS",
    ]);
  });
});

describe("resolveFileSettings", () => {
  const files: Record<string, string> = { "/run/secrets/hostedai": "hk-123\n", "/run/secrets/op": "op-456" };
  const read = (path: string) => {
    if (!(path in files)) throw Object.assign(new Error("missing"), { code: "ENOENT" });
    return files[path]!;
  };

  it("reads a setting from the file its _FILE variable names, as Docker and Kubernetes secrets are mounted", () => {
    const r = resolveFileSettings({ HOSTEDAI_API_KEY_FILE: "/run/secrets/hostedai", HOMESKILLET_OPERATOR_KEY_FILE: "/run/secrets/op", PATH_FILE: "/etc/x", PORT: "1" }, read);
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({ HOSTEDAI_API_KEY: "hk-123", HOMESKILLET_OPERATOR_KEY: "op-456", PATH_FILE: "/etc/x", PORT: "1" });
    expect(settingNames(r.env)).toEqual(["HOMESKILLET_OPERATOR_KEY", "HOSTEDAI_API_KEY"]);
  });

  it("refuses a setting given both ways, and a file it cannot read", () => {
    const r = resolveFileSettings({ HOSTEDAI_API_KEY: "a", HOSTEDAI_API_KEY_FILE: "/run/secrets/hostedai", HOMESKILLET_OPERATOR_KEY_FILE: "/nope" }, read);
    expect(r.errors).toEqual(["HOSTEDAI_API_KEY and HOSTEDAI_API_KEY_FILE are both set: keep one", "HOMESKILLET_OPERATOR_KEY_FILE: cannot read /nope (ENOENT)"]);
  });
});

describe("capnpString", () => {
  it("escapes what would end or bend a Cap'n Proto string", () => {
    expect(capnpString(`a"b\\c\nd\te\u0001`)).toBe(`"a\\"b\\\\c\\nd\\te\\x01"`);
    expect(capnpString("/data/homeskillet")).toBe('"/data/homeskillet"');
  });
});

describe("assets", () => {
  it("reads _headers rules", () => {
    expect(parseHeadersFile("/dashboard/*\n  X-Frame-Options: DENY\n  Content-Security-Policy: default-src 'none'; img-src 'self' data:\n\n# note\n/a\n  B: c\n")).toEqual([
      { pattern: "/dashboard/*", headers: [["X-Frame-Options", "DENY"], ["Content-Security-Policy", "default-src 'none'; img-src 'self' data:"]] },
      { pattern: "/a", headers: [["B", "c"]] },
    ]);
    expect(() => parseHeadersFile("  orphan: header")).toThrow(/_headers/);
  });

  it("lists servable files with their content types, never configuration or dotfiles", () => {
    const m = assetManifest(["dashboard/index.html", "dashboard/app.js", "dashboard/app.css", "dashboard/icon.svg", "_headers", ".hidden", "dashboard/.x", "blob.bin"], "");
    expect(m.files).toEqual({
      "/blob.bin": "application/octet-stream",
      "/dashboard/app.css": "text/css; charset=utf-8",
      "/dashboard/app.js": "text/javascript; charset=utf-8",
      "/dashboard/icon.svg": "image/svg+xml",
      "/dashboard/index.html": "text/html; charset=utf-8",
    });
  });

  it("types the bundle's modules as wrangler's default rules do", () => {
    expect(moduleType("index.js")).toBe("ESModule");
    expect(moduleType("abc-classifier.wasm")).toBe("CompiledWasm");
    expect(moduleType("index.js.map")).toBeUndefined();
  });
});

describe("workerdConfig", () => {
  const base = {
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["nodejs_compat"],
    modules: [
      { name: "index.js", type: "ESModule", path: "../out/worker/index.js" },
      { name: "x-classifier.wasm", type: "CompiledWasm", path: "../out/worker/x-classifier.wasm" },
    ],
    durableObjects: CLASSES.map((c) => ({ binding: c.toUpperCase(), className: c })),
    settings: ["HOSTEDAI_API_KEY", "HOSTEDAI_BASE_URL"],
    dataDir: "/var/lib/homeskillet",
    assetsDir: "/app/.build/selfhost/assets",
    manifest: assetManifest(["dashboard/index.html"]),
    routerPath: "../scripts/selfhost-router.js",
    listen: "*:8787",
  };

  it("binds settings from the environment, stores every Durable Object on the data directory, and keeps their keys stable", () => {
    const text = workerdConfig(base);
    expect(text).toContain('(name = "HOSTEDAI_API_KEY", fromEnvironment = "HOSTEDAI_API_KEY")');
    expect(text).toContain('(name = "HOSTEDAI_BASE_URL", fromEnvironment = "HOSTEDAI_BASE_URL")');
    expect(text).toContain('(name = "data", disk = (path = "/var/lib/homeskillet", writable = true))');
    expect(text).toContain('durableObjectStorage = (localDisk = "data")');
    expect(text).toContain('(name = "x-classifier.wasm", wasm = embed "../out/worker/x-classifier.wasm")');
    expect(text).toContain('address = "*:8787"');
    for (const c of CLASSES) {
      // Object ids derive from the key and the class's folder is named after it: it must never change.
      expect(uniqueKeyFor(c)).toBe(`homeskillet-${c}`);
      expect(text).toContain(`(className = "${c}", uniqueKey = "homeskillet-${c}", enableSql = true)`);
      expect(text).toContain(`durableObjectNamespace = (className = "${c}")`);
    }
  });

  it("refuses a bundle whose entry is not an ES module, and module types it cannot give workerd", () => {
    expect(() => workerdConfig({ ...base, modules: [] })).toThrow(/entry module/);
    expect(() => workerdConfig({ ...base, modules: [base.modules[0]!, { name: "a.py", type: "PythonModule", path: "a.py" }] })).toThrow(/unsupported/);
  });
});

describe("plan", () => {
  const secrets = {
    HOSTEDAI_API_KEY: "hostedai-secret-5a1c",
    HOMESKILLET_OPERATOR_KEY: "operator-secret-77e2",
    HOMESKILLET_TENANT_KEYS: '{"acme":"tenant-secret-0b9d"}',
    OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=otel-secret-31f0",
    LOCAL_NODE_ACCESS_CLIENT_SECRET: "access-secret-c4d8",
  };

  it("says what is missing instead of starting", () => {
    const out = fakeBuild();
    const p = plan({ PORT: "x" }, out);
    expect(p.errors.join("\n")).toMatch(/HOSTEDAI_BASE_URL/);
    expect(p.errors.join("\n")).toMatch(/HOSTEDAI_API_KEY/);
    expect(p.errors.join("\n")).toMatch(/PORT/);
    expect(plan({ ...secrets, HOSTEDAI_BASE_URL: "https://x" }, join(out, "nowhere")).errors.join("\n")).toMatch(/build first/);
  });

  it("writes no secret into the configuration, defaults to a deployment (not development), and workerd serves it", async () => {
    const out = fakeBuild();
    const data = tempDir("homeskillet-selfhost-data-");
    const port = await freePort();
    const env = { PATH: process.env.PATH, ...secrets, HOSTEDAI_BASE_URL: "https://hostedai.example", HOMESKILLET_DATA_DIR: data, PORT: String(port) };
    const p = plan(env, out);
    expect(p.errors).toEqual([]);
    if (!("configText" in p)) throw new Error("no plan");
    expect(p.childEnv.HOMESKILLET_ENV).toBe("selfhost");
    expect(p.host).toBe("127.0.0.1");
    const configDir = tempDir("homeskillet-selfhost-config-");
    const text = p.configText(configDir);
    for (const [name, value] of Object.entries(secrets)) {
      expect(text).toContain(`fromEnvironment = "${name}"`);
      expect(text, name).not.toContain(value);
    }
    expect(text).toContain('fromEnvironment = "HOMESKILLET_ENV"');

    // The generated text is a configuration workerd accepts, reading the values itself.
    writeFileSync(join(configDir, "workerd.capnp"), text);
    const child = spawn(workerdBinary(), ["serve", join(configDir, "workerd.capnp")], { env: p.childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const s of [child.stdout!, child.stderr!]) s.on("data", (c: Buffer) => void (output += c.toString()));
    try {
      const body = await until("the self-hosted gateway to answer", async () => {
        if (child.exitCode !== null) throw new Error(`workerd exited ${child.exitCode}: ${output}`);
        const res = await fetch(`http://127.0.0.1:${port}/anything`).catch(() => undefined);
        return res ? res.json() : undefined;
      });
      expect(body).toEqual({ env: "selfhost", base: "https://hostedai.example", keyIsSet: true });
      const page = await fetch(`http://127.0.0.1:${port}/dashboard/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("x-frame-options")).toBe("DENY");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

