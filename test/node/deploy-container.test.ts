// The container: no engine runs on this machine, so the image cannot be built here. What is
// tested instead is what the image would run, outside a container:
//   - the Dockerfile's runtime stage is read and reproduced in a temporary directory: exactly the
//     files it copies from the build stage (built here by the same `--build-only` command, with
//     workerd's binary beside them as its RUN step puts it), its ENV, then its CMD, which must be
//     `npm run selfhost`'s command. The gateway must come up there without sources or build
//     tools, serve a strike against the emulator with its secrets read from files (as compose
//     mounts them), pass the image's own HEALTHCHECK command, and stop cleanly on its STOPSIGNAL;
//   - deploy/compose.yaml is parsed and its references checked: services, mounted files, secrets,
//     volumes, and the Prometheus configuration's rule files and key file.
// (Compose's own validator is not used: there is no `docker compose` plugin here and Debian's
// docker-compose is the deprecated 1.x; the npm package with the compose schema dates from 2021.)
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";
import { workerdBinary } from "../../scripts/selfhost.mjs";
import { freePort } from "./support.ts";

const root = join(import.meta.dirname, "..", "..");

interface Stage {
  from: string;
  name?: string;
  lines: Array<{ instruction: string; args: string }>;
}

/** The Dockerfile's stages and instructions (continuation lines joined, comments dropped). */
function readDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    if (/^\s*#/.test(raw) && !current) continue;
    const line = raw.replace(/\s+$/, "");
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = "";
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^([A-Z]+)\s+(.*)$/s.exec(l);
    if (!m) continue;
    const [, instruction, args] = m;
    if (instruction === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      stages.push({ from: f[1]!, ...(f[2] && { name: f[2] }), lines: [] });
    } else stages.at(-1)?.lines.push({ instruction: instruction!, args: args! });
  }
  return stages;
}

/** `KEY=value KEY2=value2` (ENV) into an object. */
function envPairs(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")]));
}

const dockerfile = readDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const build = dockerfile.find((s) => s.name === "build")!;
const runtime = dockerfile.at(-1)!;
const of = (stage: Stage, instruction: string) => stage.lines.filter((l) => l.instruction === instruction);

describe("Dockerfile", () => {
  it("builds in one stage and runs, unprivileged, from a small glibc Node base in another", () => {
    expect(dockerfile).toHaveLength(2);
    expect(build.from).toMatch(/^node:20-bookworm-slim$/);
    expect(runtime.from).toMatch(/^node:20-bookworm-slim$/);
    expect(of(runtime, "USER").map((l) => l.args)).toEqual(["node"]);
    const env = Object.assign({}, ...of(runtime, "ENV").map((l) => envPairs(l.args)));
    expect(of(runtime, "VOLUME").map((l) => JSON.parse(l.args))).toEqual([[env.HOMESKILLET_DATA_DIR]]);
    expect(of(runtime, "EXPOSE").map((l) => l.args)).toEqual([env.PORT]);
    expect(of(build, "RUN").map((l) => l.args).join("\n")).toContain("node scripts/selfhost.mjs --build-only");
  });

  it("runs `npm run selfhost`'s command", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const cmd = JSON.parse(of(runtime, "CMD")[0]!.args) as string[];
    expect(cmd.join(" ")).toBe(pkg.scripts.selfhost);
    expect(of(runtime, "STOPSIGNAL").map((l) => l.args)).toEqual(["SIGTERM"]);
  });

  it("leaves out of the build context what must never be in an image", () => {
    const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const path of [".dev.vars", "node_modules", ".build", ".data", "deploy/secrets", ".git"]) expect(ignored, path).toContain(path);
  });
});

describe("the image's command, run outside a container", () => {
  let emulator: LocalSystem;
  let image = "";
  let data = "";
  let secrets = "";
  let port = 0;
  let proc: ReturnType<typeof spawn> | undefined;
  let output = "";
  const env: Record<string, string> = {};

  beforeAll(async () => {
    // The build stage: the same command, and the workerd binary copied beside its output.
    const built = spawnSync(process.execPath, [join(root, "scripts", "selfhost.mjs"), "--build-only"], { cwd: root, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);

    // The runtime stage: only what it copies from the build stage, where it copies it.
    image = mkdtempSync(join(tmpdir(), "homeskillet-image-"));
    for (const { args } of of(runtime, "COPY")) {
      const m = /^--from=build\s+\/app\/(\S+)\s+(\S+)$/.exec(args);
      expect(m, `COPY ${args}`).not.toBeNull();
      const [, from, to] = m!;
      const target = posix.isAbsolute(to!) ? join(image, to!) : join(image, to!);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(join(root, from!), target, { recursive: true });
    }
    // `cp "$(node -p 'require("workerd").default')" .build/selfhost/workerd` (a link will do here).
    symlinkSync(workerdBinary(join(root, "nowhere")), join(image, ".build", "selfhost", "workerd"));
    expect(existsSync(join(image, "src")), "no sources in the image").toBe(false);
    expect(existsSync(join(image, "node_modules")), "no node_modules in the image").toBe(false);

    emulator = await startSystem({ mode: "miniflare", workers: ["hostedai"], ports: { hostedai: 0 }, persist: false, quiet: true });
    data = mkdtempSync(join(tmpdir(), "homeskillet-image-data-"));
    secrets = mkdtempSync(join(tmpdir(), "homeskillet-image-secrets-"));
    writeFileSync(join(secrets, "hostedai_api_key"), "dev-hostedai-key\n");
    writeFileSync(join(secrets, "homeskillet_operator_key"), "hsk_image_operator_0001");
    port = await freePort();
    Object.assign(
      env,
      { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() },
      ...of(runtime, "ENV").map((l) => envPairs(l.args)),
      // This machine's loopback and temporary folders instead of the container's.
      { HOST: "127.0.0.1", PORT: String(port), HOMESKILLET_DATA_DIR: data },
      {
        HOSTEDAI_BASE_URL: emulator.hostedai!,
        HOSTEDAI_API_KEY_FILE: join(secrets, "hostedai_api_key"),
        HOMESKILLET_OPERATOR_KEY_FILE: join(secrets, "homeskillet_operator_key"),
        HOMESKILLET_TENANT_KEYS: JSON.stringify({ imagetest: "hsk_image_tenant_0001" }),
      },
    );
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) proc.kill("SIGKILL");
    await emulator?.stop();
    for (const d of [image, data, secrets]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it("serves from the image's files alone, secrets from files, and passes the HEALTHCHECK", async () => {
    const cmd = JSON.parse(of(runtime, "CMD")[0]!.args) as string[];
    const workdir = of(runtime, "WORKDIR")[0]!.args;
    expect(workdir).toBe("/app");
    proc = spawn(cmd[0] === "node" ? process.execPath : cmd[0]!, cmd.slice(1), { cwd: image, env, stdio: ["ignore", "pipe", "pipe"] });
    for (const s of [proc.stdout!, proc.stderr!]) s.on("data", (c: Buffer) => void (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc!.on("exit", (code) => resolve(code)));

    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}:\n${output}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`no /healthz:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).not.toMatch(/selfhost: built/); // nothing to build in an image
    expect(output).toContain(join(image, ".build", "selfhost", "workerd").split("/").pop()!);

    // The HEALTHCHECK, as Docker would run it.
    const hc = of(runtime, "HEALTHCHECK")[0]!.args;
    const hcCmd = JSON.parse(/CMD\s+(\[.*\])$/s.exec(hc)![1]!) as string[];
    const health = spawnSync(process.execPath, hcCmd.slice(1), { env, encoding: "utf8", timeout: 10_000 });
    expect(health.status, health.stderr).toBe(0);

    // A strike: the Hosted.AI key came from its file, the tenant's key from the environment.
    const strike = await fetch(`http://127.0.0.1:${port}/v1/strikes`, {
      method: "POST",
      headers: { authorization: "Bearer hsk_image_tenant_0001", "content-type": "application/json" },
      body: JSON.stringify({ model: "gemma-2b-it", prompt: "Say hi.", max_tokens: 8 }),
    });
    expect(strike.status, `${await strike.clone().text()}\n${output}`).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: "Bearer hsk_image_operator_0001" } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('homeskillet_strikes_total{tenant="imagetest"');

    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

describe("deploy/compose.yaml", () => {
  const dir = join(root, "deploy");
  const compose = parse(readFileSync(join(dir, "compose.yaml"), "utf8")) as {
    services: Record<string, any>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };

  it("runs the gateway from the Dockerfile, Prometheus, an OpenTelemetry Collector and Grafana", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["gateway", "grafana", "otel-collector", "prometheus"]);
    const gw = compose.services.gateway;
    expect(existsSync(join(dir, gw.build.context, gw.build.dockerfile))).toBe(true);
    expect(gw.volumes).toEqual(["homeskillet-data:/data"]);
    expect(gw.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel-collector:4318");
    expect(gw.environment.HOSTEDAI_BASE_URL).toMatch(/^\$\{HOSTEDAI_BASE_URL:\?/);
    expect(gw.environment.HOMESKILLET_ENV).not.toBe("development");
    // Secrets as files, never values in the compose file.
    for (const [name, value] of Object.entries(gw.environment as Record<string, string>)) {
      if (/KEY|SECRET|TOKEN|PASSWORD/.test(name)) expect(name, `${name}=${value}`).toMatch(/_FILE$/);
      if (name.endsWith("_FILE")) expect(gw.secrets).toContain(value.replace("/run/secrets/", ""));
    }
  });

  it("references only what exists: mounted files, secrets and volumes", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of (svc.volumes ?? []) as string[]) {
        const [source] = v.split(":");
        if (source!.startsWith(".")) expect(existsSync(join(dir, source!)), `${name}: ${v}`).toBe(true);
        else expect(compose.volumes, `${name}: ${v}`).toHaveProperty(source!);
      }
      for (const s of (svc.secrets ?? []) as string[]) expect(compose.secrets, `${name}: secret ${s}`).toHaveProperty(s);
      for (const d of (svc.depends_on ?? []) as string[]) expect(compose.services, `${name} depends on ${d}`).toHaveProperty(d);
    }
    for (const s of Object.values(compose.secrets)) expect(s.file.startsWith("./secrets/")).toBe(true);
    expect(readFileSync(join(dir, "secrets", ".gitignore"), "utf8")).toMatch(/^\*$/m);
  });

  it("gives Prometheus its configuration, its rules and the operator key as a file", () => {
    const prom = compose.services.prometheus;
    const mounts = new Map((prom.volumes as string[]).map((v) => [v.split(":")[1], v.split(":")[0]]));
    const config = parse(readFileSync(join(dir, mounts.get("/etc/prometheus/prometheus.yml")!), "utf8")) as any;
    for (const rules of config.rule_files as string[]) expect(mounts.has(rules), rules).toBe(true);
    for (const job of config.scrape_configs) {
      expect(job.static_configs[0].targets).toEqual(["gateway:8787"]);
      expect(job.authorization.credentials_file).toBe("/run/secrets/homeskillet_operator_key");
    }
    expect(prom.secrets).toContain("homeskillet_operator_key");
  });

  it("provisions Grafana with the Prometheus data source and the four dashboards", () => {
    const grafana = compose.services.grafana;
    const mounts = new Map((grafana.volumes as string[]).map((v) => [v.split(":")[1], v.split(":")[0]]));
    const provisioning = join(dir, mounts.get("/etc/grafana/provisioning")!);
    const ds = parse(readFileSync(join(provisioning, "datasources", "prometheus.yaml"), "utf8")) as any;
    expect(ds.datasources[0]).toMatchObject({ type: "prometheus", url: "http://prometheus:9090", uid: "prometheus" });
    const providers = parse(readFileSync(join(provisioning, "dashboards", "homeskillet.yaml"), "utf8")) as any;
    const path = providers.providers[0].options.path as string;
    expect(mounts.get(path)).toBe("./grafana/dashboards");
    const otel = parse(readFileSync(join(dir, "otel-collector", "config.yaml"), "utf8")) as any;
    expect(otel.receivers.otlp.protocols.http.endpoint).toBe("0.0.0.0:4318");
    for (const [kind, names] of Object.entries(otel.service.pipelines.traces as Record<string, string[]>)) {
      for (const n of names) expect(otel[kind], `${kind} ${n}`).toHaveProperty(n);
    }
  });
});
