// The deployed Cloudflare environments, checked offline before anyone deploys them: for each
// `[env.<name>]` of wrangler.toml, wrangler resolves it exactly as `npm run deploy -- --env <name>`
// would, and `wrangler deploy --dry-run` builds the bundle it would upload.
//   - no loopback address (127.0.0.0/8, localhost, ::1) in a deployed environment's vars: those are
//     the local development config's, and a deployed gateway pointed at them fails every strike;
//   - HOMESKILLET_ENV names the environment, never `development` (which lets the dev key act as the
//     operator key);
//   - every Durable Object binding of the top level is there (bindings are not inherited), the
//     migrations are the top level's (they are), and the secrets a deployment needs are required;
//   - the bundle fits the Workers size limit. Since 2026-09-04 that is 64 MiB uncompressed on every
//     plan (the compressed limits, 3 MiB gzipped on Free and 10 MiB on Paid, were removed); the
//     check asserts both the current limit and the former 3 MiB gzipped one, which keeps the
//     bundle deployable on any plan under either rule and its startup quick.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { readWranglerConfig } from "../../scripts/wrangler-config.mjs";

const root = join(import.meta.dirname, "..", "..");
const CONFIG = join(root, "wrangler.toml");
const ENVIRONMENTS = ["staging", "production"] as const;
const MIB = 1024 * 1024;
/** The Workers size limit in force (uncompressed, every plan). */
const MAX_UNCOMPRESSED = 64 * MIB;
/** The former Free-plan limit (gzipped), kept as this project's budget. */
const MAX_GZIPPED = 3 * MIB;

/** Loopback (or unspecified) addresses named in a var's value, whatever their spelling. */
function loopbackIn(value: unknown): string[] {
  if (typeof value !== "string") return [];
  const found = new Set<string>();
  const isLoopbackHost = (host: string) => {
    const h = host.toLowerCase().replace(/^\[|\]$/g, "");
    return (
      h === "localhost" ||
      h.endsWith(".localhost") ||
      /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
      h === "::1" ||
      h === "0:0:0:0:0:0:0:1" ||
      h === "0.0.0.0" ||
      h === "::" ||
      /^::ffff:(127\.|7f)/.test(h)
    );
  };
  // URLs, parsed the way fetch will parse them (so 0x7f000001 or 2130706433 read as 127.0.0.1).
  for (const token of value.split(/[\s,;"'<>]+/)) {
    if (!token.includes("://")) continue;
    try {
      const host = new URL(token).hostname;
      if (isLoopbackHost(host)) found.add(token);
    } catch {
      // not a URL
    }
  }
  // Bare hosts too (a host:port var, or a list).
  for (const m of value.matchAll(/(?:^|[^\w.])(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[?::1\]?)(?![\w.])/gi)) found.add(m[1]!);
  return [...found];
}

interface DryRun {
  status: number | null;
  output: string;
  modules: string[];
  size: number;
  gzipSize: number;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dryRun(env: string): DryRun {
  const outdir = mkdtempSync(join(tmpdir(), `homeskillet-deploy-${env}-`));
  dirs.push(outdir);
  const r = spawnSync(join(root, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir, "--env", env], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", FORCE_COLOR: "0", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    encoding: "utf8",
  });
  // What would be uploaded: every module, not the source map or wrangler's README.
  const modules = readdirSync(outdir).filter((f) => !f.endsWith(".map") && f !== "README.md" && statSync(join(outdir, f)).isFile());
  const contents = modules.map((f) => readFileSync(join(outdir, f)));
  const all = Buffer.concat(contents);
  // As wrangler measures it: the modules concatenated, gzipped.
  return { status: r.status, output: `${r.stdout}${r.stderr}`, modules, size: all.byteLength, gzipSize: gzipSync(all).byteLength };
}

describe("loopbackIn", () => {
  it("finds loopback addresses however they are written, and nothing else", () => {
    for (const v of ["http://127.0.0.1:8788", "http://localhost:8789/v1", "http://[::1]:8787", "https://api.localhost", "http://0x7f000001/", "http://2130706433", "127.1.2.3:80", "a,localhost", "http://0.0.0.0:1"]) {
      expect(loopbackIn(v), v).not.toEqual([]);
    }
    for (const v of ["https://api.hosted.ai", "https://local-node.example.com", "", "staging", "http://10.0.0.1:8788", "https://localhostel.example"]) {
      expect(loopbackIn(v), v).toEqual([]);
    }
  });
});

describe("wrangler.toml", () => {
  const top = readWranglerConfig(CONFIG, undefined);

  it("keeps development at the top level only", () => {
    expect(top.vars.HOMESKILLET_ENV).toBe("development");
    expect(top.migrations.length).toBeGreaterThan(0);
  });

  it("deploys with `npm run deploy -- --env <name>`: the script ends in wrangler deploy, so the flags reach it", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.deploy).toMatch(/&& wrangler deploy$/);
  });

  describe.each(ENVIRONMENTS)("[env.%s]", (env) => {
    const config = readWranglerConfig(CONFIG, env);

    it("names itself, and is never development", () => {
      expect(config.name).toBe(`${top.name}-${env}`);
      expect(config.vars.HOMESKILLET_ENV).toBe(env);
    });

    it("names no loopback address in its vars", () => {
      const found = Object.entries(config.vars).flatMap(([k, v]) => loopbackIn(v).map((a) => `${k}=${a}`));
      expect(found, `loopback addresses in [env.${env}.vars]`).toEqual([]);
    });

    it("binds every Durable Object of the top level, with the top level's migrations", () => {
      const bindings = (c: typeof config) => c.durable_objects.bindings.map((b) => `${b.name}:${b.class_name}:${b.script_name ?? ""}`).sort();
      expect(bindings(config)).toEqual(bindings(top));
      expect(config.migrations).toEqual(top.migrations);
      const sqlite = config.migrations.flatMap((m) => m.new_sqlite_classes ?? []);
      for (const b of config.durable_objects.bindings) expect(sqlite, b.class_name).toContain(b.class_name);
      expect(config.assets?.directory).toBe(top.assets?.directory);
    });

    it("requires the secrets a deployment cannot run without, and carries none in vars", () => {
      expect(config.secrets?.required ?? []).toEqual(expect.arrayContaining(["HOSTEDAI_BASE_URL", "HOSTEDAI_API_KEY", "HOMESKILLET_OPERATOR_KEY"]));
      for (const secret of ["HOSTEDAI_API_KEY", "HOMESKILLET_OPERATOR_KEY", "HOMESKILLET_TENANT_KEYS", "HOMESKILLET_DEV_KEY", "LOCAL_NODE_ACCESS_CLIENT_SECRET", "OTEL_EXPORTER_OTLP_HEADERS"]) {
        expect(config.vars, secret).not.toHaveProperty(secret);
      }
    });

    it("builds a bundle within the Workers size limit", () => {
      const run = dryRun(env);
      expect(run.status, run.output).toBe(0);
      expect(run.output).toContain(`env.HOMESKILLET_ENV ("${env}")`);
      expect(run.modules).toContain("index.js");
      expect(run.modules.some((m) => m.endsWith(".wasm")), "the classifier's WebAssembly module").toBe(true);
      // wrangler's own report of the same upload, to the KiB.
      const reported = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(run.output);
      expect(reported, run.output).not.toBeNull();
      expect(Math.abs(Number(reported![1]) - run.size / 1024)).toBeLessThan(1);
      expect(Math.abs(Number(reported![2]) - run.gzipSize / 1024)).toBeLessThan(2);
      console.log(`[env.${env}] bundle ${(run.size / MIB).toFixed(2)} MiB, gzipped ${(run.gzipSize / MIB).toFixed(2)} MiB (${(run.gzipSize / 1024).toFixed(0)} KiB)`);
      expect(run.size).toBeLessThanOrEqual(MAX_UNCOMPRESSED);
      expect(run.gzipSize).toBeLessThanOrEqual(MAX_GZIPPED);
    });
  });
});
