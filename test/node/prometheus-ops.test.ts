// The operations artefacts against a real Prometheus (Debian's, see scripts/ensure-prometheus.mjs):
//   - `promtool test rules deploy/prometheus/alerts.test.yml`: when each alert fires and when not,
//     and `recording.test.yml`: what each recording rule records;
//   - the shipped deploy/prometheus/prometheus.yml (targets, key file and intervals replaced for a
//     local run) with alerts.yml, budgets.yml and recording.yml loaded, scraping a gateway of this test's own
//     while it serves real traffic: successful strikes, budget refusals, and strikes failing on
//     faults injected into the Hosted.AI emulator until breakers open. Then every PromQL
//     expression of the rules and of the Grafana dashboards is evaluated through Prometheus' HTTP
//     API and must return data, and so must every recording rule. An alert's expression is `<measure> <comparison> <threshold>`;
//     what is evaluated is the measure, without the threshold (the condition alone would return
//     nothing while it holds no alert). The alerts the traffic was made to trip must be pending or
//     firing, and the others not.
// The system is this file's own (not the shared one of test/node/system.ts): faults are injected.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";
import { freePort, until } from "./support.ts";

const root = join(import.meta.dirname, "..", "..");
const deploy = join(root, "deploy");
const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const hasPrometheus = onPath("prometheus") && onPath("promtool");
if (!hasPrometheus) console.warn("prometheus-ops.test.ts: skipped, no `prometheus`/`promtool` (see scripts/ensure-prometheus.mjs)");

const DEV_KEY = "hsk_ops_dev_0001";
const OPERATOR_KEY = "hsk_ops_operator_0001";
/** How Grafana would expand its macros for a 5-minute view of 15-second data. */
const GRAFANA_MACROS: Record<string, string> = { $__rate_interval: "1m", $__range: "5m", $__interval: "15s" };

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** `<measure> <op> <threshold>` → the measure; an alert expression of any other form is refused. */
function measureOf(expr: string): string {
  const m = /^([\s\S]+?)\s*(>=|<=|==|!=|>|<)\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*$/.exec(expr.trim());
  if (!m) throw new Error(`alert expression is not "<measure> <comparison> <threshold>": ${expr}`);
  return m[1]!.trim();
}

const rulesOf = (file: string) => (parse(readFileSync(join(deploy, "prometheus", file), "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const alertRules = rulesOf("alerts.yml");
const recordingRules = rulesOf("recording.yml");
const dashboards = readdirSync(join(deploy, "grafana", "dashboards"))
  .filter((f) => f.endsWith(".json"))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(deploy, "grafana", "dashboards", f), "utf8")) as any }));
const dashboardQueries = dashboards.flatMap(({ file, json }) =>
  (json.panels as any[]).flatMap((p) =>
    (p.targets as Array<{ expr: string; refId: string }>).map((t) => ({
      name: `${file} · ${p.title} · ${t.refId}`,
      expr: t.expr.replace(/\$__\w+/g, (m) => GRAFANA_MACROS[m] ?? m),
    })),
  ),
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("measureOf", () => {
  it("takes the threshold off an alert expression", () => {
    expect(measureOf("max(x) >= 2")).toBe("max(x)");
    expect(measureOf("(a or vector(0))\n  / b > 0.001\n")).toBe("(a or vector(0))\n  / b");
    expect(() => measureOf("absent(up)")).toThrow(/measure/);
  });
});

describe("the dashboards", () => {
  it("are four, one per panel of the integration document, with unique ids and the Prometheus data source variable", () => {
    expect(dashboards.map((d) => d.json.title).sort()).toEqual([
      "Homeskillet · Cost analysis",
      "Homeskillet · Operational health",
      "Homeskillet · Performance trends",
      "Homeskillet · Resource utilisation",
    ]);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(4);
    for (const { file, json } of dashboards) {
      const ids = (json.panels as any[]).map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      expect(json.templating.list.find((v: any) => v.name === "datasource")?.query, file).toBe("prometheus");
      for (const p of json.panels) {
        expect(p.datasource, `${file} ${p.title}`).toEqual({ type: "prometheus", uid: "${datasource}" });
        expect(p.targets.length, `${file} ${p.title}`).toBeGreaterThan(0);
        expect(p.gridPos.w + p.gridPos.x, `${file} ${p.title}`).toBeLessThanOrEqual(24);
      }
    }
  });
});

describe.skipIf(!hasPrometheus)("Prometheus, its rules and the dashboards' queries, after real traffic", () => {
  let system: LocalSystem;
  let dir = "";
  let server: ChildProcess | undefined;
  let api = "";
  let output = "";

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] }; error?: string };
    if (body.status !== "success") throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  };
  const call = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    fetch(`${system.gateway}${path}`, {
      method,
      headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const strike = async (covenant: string, model: string, extra: Record<string, unknown> = {}) => {
    const res = await call("/v1/strikes", { covenant_id: covenant, model, prompt: `Count to three (${Math.random()}).`, max_tokens: 8, ...extra });
    await res.arrayBuffer();
    return res.status;
  };

  beforeAll(async () => {
    system = await startSystem({
      mode: "miniflare",
      ports: { gateway: 0, hostedai: 0, localNode: 0 },
      persist: false,
      quiet: true,
      devKey: DEV_KEY,
      gatewayVars: { HOMESKILLET_OPERATOR_KEY: OPERATOR_KEY },
    });

    // The shipped configuration, pointed at this machine.
    dir = mkdtempSync(join(tmpdir(), "homeskillet-prometheus-ops-"));
    writeFileSync(join(dir, "operator-key"), OPERATOR_KEY);
    // A daily budget for the covenant below, as an operator mirrors one (budgets.yml's example stays loaded too).
    writeFileSync(
      join(dir, "budgets-test.yml"),
      stringify({ groups: [{ name: "test-budgets", rules: [{ record: "homeskillet:budget_usd_per_day", expr: "vector(0.00002)", labels: { tenant: "dev", covenant: "ops-main" } }] }] }),
    );
    const config = parse(readFileSync(join(deploy, "prometheus", "prometheus.yml"), "utf8")) as any;
    config.global = { ...config.global, scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" };
    config.rule_files = [join(deploy, "prometheus", "alerts.yml"), join(deploy, "prometheus", "budgets.yml"), join(deploy, "prometheus", "recording.yml"), join(dir, "budgets-test.yml")];
    // Every rule file the shipped configuration names is loaded here too.
    expect((parse(readFileSync(join(deploy, "prometheus", "prometheus.yml"), "utf8")) as any).rule_files.map((f: string) => f.split("/").pop())).toEqual(["alerts.yml", "budgets.yml", "recording.yml"]);
    const target = new URL(system.gateway!).host;
    for (const job of config.scrape_configs) {
      job.static_configs = [{ targets: [target] }];
      job.authorization.credentials_file = join(dir, "operator-key");
      if (job.scrape_interval) job.scrape_interval = "1s";
      if (job.scrape_timeout) job.scrape_timeout = "1s";
    }
    writeFileSync(join(dir, "prometheus.yml"), stringify(config));
    const check = spawnSync("promtool", ["check", "config", join(dir, "prometheus.yml")], { encoding: "utf8" });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);

    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    server = spawn(
      "prometheus",
      [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    for (const s of [server.stdout!, server.stderr!]) s.on("data", (c: Buffer) => void (output += c.toString()));
    await until("prometheus to be ready", async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined)).catch((err) => {
      throw new Error(`${err.message}\n${output}`);
    });
    await until("both jobs scraped", async () => ((await query("up == 1")).length === 2 ? true : undefined));

    // Covenants: plain traffic (its leases released as they idle), one lease held warm, fused
    // requests, a budget too small for any strike, and qwen-70b, whose pools are all made to fail.
    for (const body of [
      { id: "ops-main" },
      { id: "ops-warm", lease: { idle_timeout_s: 600 } },
      { id: "ops-fused" },
      { id: "ops-budget", cost: { budget_usd_per_day: 0.000001 } },
      { id: "ops-breaker", models: ["qwen-70b"], default_model: "qwen-70b", qos: { latency_slo_ms: 100 } },
    ]) {
      const res = await call("/v1/covenants", body);
      expect(res.status, await res.text()).toBe(201);
    }
    const faults = await fetch(`${system.hostedai}/admin/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      // qwen-70b runs on its type's pools only (qos.pool_type "recommended"): the dedicated ones.
      body: JSON.stringify({ errors: [{ pool: "dedicated-us-east", endpoint: "allocate", rate: 1, status: 500 }] }),
    });
    expect(faults.status, await faults.text()).toBe(200);

    expect(await strike("ops-warm", "gemma-2b-it")).toBe(200);
    expect(await strike("ops-fused", "gemma-2b-it", { prompt: "1. What is the capital of Australia?\n2. Write a Python prime check.", fusion: { strategy: "split" } })).toBe(200);
    // About 25 s of traffic, spread over many scrapes, so every rate and increase has points to use.
    const failing: Array<Promise<number>> = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < 25_000; i++) {
      expect(await strike("ops-main", i % 3 === 0 ? "mistral-7b" : "gemma-2b-it")).toBe(200);
      if (i % 6 === 0) expect(await strike("ops-budget", "gemma-2b-it")).toBe(402);
      if (i % 10 === 0) failing.push(strike("ops-breaker", "qwen-70b"));
      await sleep(300);
    }
    const statuses = await Promise.all(failing);
    expect(statuses.every((s) => s >= 500), `failing strikes answered ${statuses.join(", ")}`).toBe(true);
    await sleep(3000); // the last scrapes and rule evaluations
  }, 240_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("promtool's unit tests of the alerts and the recording rules pass", () => {
    const r = spawnSync("promtool", ["test", "rules", "alerts.test.yml", "recording.test.yml"], { cwd: join(deploy, "prometheus"), encoding: "utf8" });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it("loads every rule healthy", async () => {
    const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining([...alertRules, ...recordingRules].map((r) => r.alert ?? r.record)));
    expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`)).toEqual([]);
  });

  it.each(alertRules.filter((r) => r.alert).map((r) => [r.alert!, measureOf(r.expr)] as const))("%s: its measure returns data", async (_name, measure) => {
    const result = await query(measure);
    expect(result.length, measure).toBeGreaterThan(0);
    expect(result.some((s) => Number.isFinite(Number(s.value[1]))), JSON.stringify(result)).toBe(true);
  });

  it.each(recordingRules.map((r) => [r.record!] as const))("recording rule %s returns data", async (name) => {
    const result = await query(name);
    expect(result.length, name).toBeGreaterThan(0);
    expect(result.some((s) => Number.isFinite(Number(s.value[1]))), JSON.stringify(result)).toBe(true);
  });

  it.each(dashboardQueries.map((q) => [q.name, q.expr] as const))("%s returns data", async (_name, expr) => {
    const result = await query(expr);
    expect(result.length, expr).toBeGreaterThan(0);
    expect(result.some((s) => Number.isFinite(Number(s.value[1]))), `${expr}\n${JSON.stringify(result)}`).toBe(true);
  });

  it("trips the alerts the traffic was made to trip, and no other of those it could not", async () => {
    const body = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
    const active = new Map(body.data.alerts.map((a) => [`${a.labels.alertname}${a.labels.covenant ? ` ${a.labels.covenant}` : ""}`, a.state]));
    for (const name of ["HomeskilletBreakerOpen ops-breaker", "HomeskilletErrorRateHigh", "HomeskilletBudgetExhausted ops-budget", "HomeskilletBudgetNearExhaustion ops-main"]) {
      expect(["pending", "firing"], `${name} in ${JSON.stringify([...active])}`).toContain(active.get(name));
    }
    for (const name of ["HomeskilletScrapeFailing", "HomeskilletCovenantObjectSilent"]) expect(active.has(name), name).toBe(false);
  });
});
