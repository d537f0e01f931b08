// The official MCP conformance suite's server scenarios against /mcp of the local system.
// It needs Node 22; npx fetches one from the npm registry (`node@22`) beside the suite.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, inject, it } from "vitest";

const CONFORMANCE = "@modelcontextprotocol/conformance@0.1.16";
const NODE = "node@22.23.3";
const baseline = fileURLToPath(new URL("./conformance-baseline.yml", import.meta.url));

/** Scenarios that test what /mcp serves: each must pass outright (no failure, no warning). */
const APPLICABLE = ["server-initialize", "ping", "tools-list", "tools-call-error", "resources-list"];

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
}

it("passes every conformance scenario that applies, and fails only the listed ones", { timeout: 600_000 }, async () => {
  const { gateway, keys } = inject("system");
  const out = mkdtempSync(join(tmpdir(), "homeskillet-conformance-"));
  try {
    const args = ["--yes", "-p", NODE, "-p", CONFORMANCE, "--", "conformance", "server"];
    args.push("--url", `${gateway}/mcp?key=${keys.dev}`, "--expected-failures", baseline, "-o", out);
    const run = await promisify(execFile)("npx", args, { timeout: 540_000, maxBuffer: 32 * 1024 * 1024 }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
    );
    // Exit 0 means: exactly the baseline's scenarios failed or warned, all others passed.
    expect(run.code, run.output.slice(-4000)).toBe(0);

    const results = new Map<string, Check[]>();
    for (const dir of readdirSync(out)) {
      const scenario = dir.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
      results.set(scenario, JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[]);
    }
    for (const scenario of APPLICABLE) {
      const checks = results.get(scenario);
      expect(checks, `scenario ${scenario} did not run`).toBeDefined();
      expect(checks!.filter((c) => c.status === "FAILURE" || c.status === "WARNING"), scenario).toEqual([]);
      expect(checks!.some((c) => c.status === "SUCCESS"), scenario).toBe(true);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
