// A real Prometheus server (Debian's `prometheus`, installed by scripts/ensure-prometheus.mjs)
// scrapes the running gateway's /metrics with the operator key; the values are read back through
// Prometheus's own HTTP API, so the exposition is proven parseable and the numbers right.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, until } from "./support.ts";

const { gateway, keys } = inject("system");
const hasPrometheus = spawnSync("sh", ["-c", "command -v prometheus"], { stdio: "ignore" }).status === 0;
if (!hasPrometheus) console.warn("prometheus.test.ts: skipped, no `prometheus` binary (see scripts/ensure-prometheus.mjs)");

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!hasPrometheus)("Prometheus scraping /metrics", () => {
  let dir = "";
  let server: ChildProcess | undefined;
  let api = "";
  let output = "";
  const covenant = `prom-${Math.random().toString(16).slice(2, 10)}`;

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { resultType: string; result: Sample[] }; error?: string };
    if (body.status !== "success") throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  };

  beforeAll(async () => {
    // Traffic first, so the first scrape already holds it.
    const headers = { authorization: `Bearer ${keys.dev}`, "content-type": "application/json" };
    const created = await fetch(`${gateway}/v1/covenants`, { method: "POST", headers, body: JSON.stringify({ id: covenant }) });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway}/v1/strikes`, {
        method: "POST",
        headers,
        body: JSON.stringify({ covenant_id: covenant, model: "gemma-2b-it", prompt: `Count to ${i}.`, max_tokens: 8 }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }

    dir = mkdtempSync(join(tmpdir(), "homeskillet-prometheus-"));
    const target = new URL(gateway);
    // The key is written to a file Prometheus reads, not into the config, as an operator would.
    writeFileSync(join(dir, "operator-key"), keys.dev);
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: homeskillet",
        "    metrics_path: /metrics",
        `    scheme: ${target.protocol.replace(":", "")}`,
        "    authorization:",
        "      type: Bearer",
        `      credentials_file: ${join(dir, "operator-key")}`,
        "    static_configs:",
        `      - targets: ["${target.host}"]`,
        "",
      ].join("\n"),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    server = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    for (const s of [server.stdout!, server.stderr!]) s.on("data", (c: Buffer) => void (output += c.toString()));
    server.on("exit", (code) => void (output += `\n[prometheus exited with ${code}]`));
    await until("prometheus to be ready", async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined)).catch((err) => {
      throw new Error(`${err.message}\n${output}`);
    });
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the gateway with the operator key and reads the strike count back", async () => {
    const up = await until("a successful scrape", async () => {
      const r = await query('up{job="homeskillet"}');
      return r[0]?.value[1] === "1" ? r : undefined;
    }).catch(async (err) => {
      const targets = await fetch(`${api}/api/v1/targets`).then((r) => r.text()).catch(() => "");
      throw new Error(`${err.message}\ntargets: ${targets}\n${output}`);
    });
    expect(up).toHaveLength(1);

    const strikes = await query(`sum(homeskillet_strikes_total{tenant="dev",covenant="${covenant}",outcome="ok"})`);
    expect(strikes.map((s) => s.value[1])).toEqual(["3"]);

    const tokens = await query(`homeskillet_tokens_total{covenant="${covenant}",kind="completion"}`);
    expect(tokens).toHaveLength(1);
    expect(Number(tokens[0]!.value[1])).toBeGreaterThan(0);
    expect(tokens[0]!.metric).toMatchObject({ tenant: "dev", model: "gemma-2b-it", job: "homeskillet" });

    // Histograms arrive as real Prometheus histograms: quantiles can be computed from the buckets.
    const p50 = await query('histogram_quantile(0.5, sum by (le) (homeskillet_inference_duration_seconds_bucket{model="gemma-2b-it"}))');
    expect(p50).toHaveLength(1);
    expect(Number(p50[0]!.value[1])).toBeGreaterThan(0);
  });
});
