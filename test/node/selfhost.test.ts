// The self-hosted gateway (`npm run selfhost`: scripts/selfhost.mjs, workerd from npm) against the
// emulators, the way an operator runs it on one machine: it builds, serves on PORT, keeps every
// Durable Object's SQLite under HOMESKILLET_DATA_DIR, and survives being killed outright. After a
// kill -9 and a fresh start, the covenant's usage still shows its strikes, an issued key still
// works, and the lease that was live at the kill is released by the restarted object with no
// request to prompt it: the Hosted.AI emulator's own record (GET /admin/allocations) is the judge.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";
import { freePort, until } from "./support.ts";

const root = join(import.meta.dirname, "..", "..");
const DEV_KEY = "hsk_selfhost_dev_0001";
const OPERATOR_KEY = "hsk_selfhost_operator_0001";

interface Running {
  proc: ChildProcess;
  workerdPid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface AdminView {
  allocations: Array<{ allocation_id: string }>;
  created_total: number;
  released_total: number;
  expired_total: number;
}

describe("npm run selfhost", () => {
  let emulators: LocalSystem;
  let dataDir = "";
  let gateway = "";
  let env: Record<string, string> = {};
  let current: Running | undefined;

  /** `node scripts/selfhost.mjs` exactly as `npm run selfhost` runs it (plus `--no-build` on restarts). */
  const start = async (args: string[]): Promise<Running> => {
    const proc = spawn(process.execPath, [join(root, "scripts", "selfhost.mjs"), ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const s of [proc.stdout!, proc.stderr!]) s.on("data", (c: Buffer) => void (output += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
    const running: Running = { proc, workerdPid: 0, output: () => output, exited };
    current = running;
    running.workerdPid = await until(
      "workerd to start",
      async () => {
        if (proc.exitCode !== null) throw new Error(`selfhost exited ${proc.exitCode}:\n${output}`);
        const m = /workerd \(pid (\d+)\)/.exec(output);
        return m ? Number(m[1]) : undefined;
      },
      180_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${output}`);
    });
    await until("/healthz", async () => ((await fetch(`${gateway}/healthz`)).ok ? true : undefined)).catch((err) => {
      throw new Error(`${err.message}\n${output}`);
    });
    return running;
  };

  const call = async (path: string, init: { method?: string; key?: string; body?: unknown } = {}) => {
    const res = await fetch(`${gateway}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { authorization: `Bearer ${init.key ?? DEV_KEY}`, ...(init.body !== undefined && { "content-type": "application/json" }) },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, any> };
  };
  const admin = async (): Promise<AdminView> => (await fetch(`${emulators.hostedai}/admin/allocations`)).json() as Promise<AdminView>;

  beforeAll(async () => {
    emulators = await startSystem({ mode: "miniflare", workers: ["hostedai", "localNode"], ports: { hostedai: 0, localNode: 0 }, persist: false, quiet: true });
    dataDir = mkdtempSync(join(tmpdir(), "homeskillet-selfhost-data-"));
    const port = await freePort();
    gateway = `http://127.0.0.1:${port}`;
    env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? tmpdir(),
      PORT: String(port),
      HOST: "127.0.0.1",
      HOMESKILLET_DATA_DIR: dataDir,
      HOSTEDAI_BASE_URL: emulators.hostedai!,
      HOSTEDAI_API_KEY: "dev-hostedai-key",
      LOCAL_NODE_URL: emulators.localNode!,
      HOMESKILLET_DEV_KEY: DEV_KEY,
      HOMESKILLET_OPERATOR_KEY: OPERATOR_KEY,
    };
    // The first start is the whole of `npm run selfhost`: it builds, then serves.
    await start([]);
  });

  afterAll(async () => {
    if (current && current.proc.exitCode === null && current.proc.signalCode === null) {
      current.proc.kill("SIGTERM");
      await Promise.race([current.exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (current.proc.exitCode === null) current.proc.kill("SIGKILL");
      try {
        process.kill(current.workerdPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await emulators?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the API, the dashboard's assets and, with the operator key only, /metrics", async () => {
    expect((await call("/healthz")).status).toBe(200);
    const page = await fetch(`${gateway}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toMatch(/<!doctype html>/i);
    const redirect = await fetch(`${gateway}/dashboard`, { redirect: "manual" });
    expect([redirect.status, redirect.headers.get("location")]).toEqual([307, "/dashboard/"]);
    const script = await fetch(`${gateway}/dashboard/app.js`);
    expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    // The dashboard's data is the gateway's, not a file.
    expect((await call("/dashboard/api/summary", { key: "nope" })).status).toBe(401);
    // A self-hosted gateway is a deployment: the dev key is a tenant key, never the operator's.
    expect((await call("/metrics")).status).toBe(401);
    const metrics = await call("/metrics", { key: OPERATOR_KEY });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain("# TYPE homeskillet_metrics_sources gauge");
  });

  it("keeps covenants, ledger rows, leases and keys through a kill -9, and leaks no allocation", async () => {
    const covenant = "selfhost-crash";
    // A short idle timeout keeps the strike's lease live past the kill below.
    const created = await call("/v1/covenants", { body: { id: covenant, lease: { idle_timeout_s: 3 } } });
    expect(created.status, created.text).toBe(201);
    const issued = await call("/v1/keys", { body: { name: "selfhost-ci", scopes: ["strike", "covenants:read", "usage:read"] } });
    expect(issued.status, issued.text).toBe(201);
    const issuedKey = issued.json().key as string;
    expect(issuedKey).toMatch(/^hsk_live_/);

    for (const key of [DEV_KEY, issuedKey]) {
      const strike = await call("/v1/strikes", { key, body: { covenant_id: covenant, model: "gemma-2b-it", prompt: "Name a prime.", max_tokens: 8 } });
      expect(strike.status, strike.text).toBe(200);
    }
    const before = (await call(`/v1/covenants/${covenant}/usage`)).json();
    expect(before.strikes).toBe(2);
    const live = await admin();
    expect(live.allocations.length, "a lease held when the process dies").toBeGreaterThan(0);

    // No warning, no shutdown: the runtime is killed outright.
    const killed = current!;
    process.kill(killed.workerdPid, "SIGKILL");
    const end = await killed.exited;
    expect(end.code, "the script reports workerd's failure to its supervisor").not.toBe(0);
    expect((await admin()).allocations.length, "still allocated while nothing runs").toBeGreaterThan(0);

    const restarted = await start(["--no-build"]);
    // The restarted covenant object releases the orphaned lease on its own (its alarm, then
    // reconciliation with Hosted.AI): only /healthz has been asked of the gateway so far.
    const settled = await until("every allocation released", async () => {
      const view = await admin();
      return view.allocations.length === 0 ? view : undefined;
    });
    expect(settled.expired_total, "released, not left to expire").toBe(0);
    expect(restarted.output()).toMatch(/"op":"list"/);

    // The ledger: the strikes and their cost, as before the kill (the lease's idle time is booked on top).
    const after = (await call(`/v1/covenants/${covenant}/usage`)).json();
    expect(after.strikes).toBe(2);
    expect(after.total_usd).toBeGreaterThanOrEqual(before.total_usd);
    // The issued key still works, and is still listed.
    const again = await call("/v1/strikes", { key: issuedKey, body: { covenant_id: covenant, model: "gemma-2b-it", prompt: "Name another prime.", max_tokens: 8 } });
    expect(again.status, again.text).toBe(200);
    const keys = (await call("/v1/keys")).json();
    expect(JSON.stringify(keys)).toContain("selfhost-ci");
    expect((await call(`/v1/covenants/${covenant}`, { key: issuedKey })).status).toBe(200);

    // A graceful stop (SIGTERM, as Docker and Kubernetes send) and one more start keep it all too.
    restarted.proc.kill("SIGTERM");
    expect((await restarted.exited).code).toBe(0);
    await start(["--no-build"]);
    const final = (await call(`/v1/covenants/${covenant}/usage`)).json();
    expect(final.strikes).toBe(3);
    await until("the last lease released", async () => ((await admin()).allocations.length === 0 ? true : undefined));
    const view = await admin();
    expect(view.created_total).toBe(view.released_total);
    expect(view.expired_total).toBe(0);
  });

  it("never leaves workerd running without the script: kill -9 of the script stops it too", async () => {
    // Otherwise a second start on the same data directory could run a second copy of every object.
    const running = current!;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive(running.workerdPid)).toBe(true);
    running.proc.kill("SIGKILL");
    await running.exited;
    await until("workerd to follow its script", async () => (alive(running.workerdPid) ? undefined : true), 20_000);
    expect((await fetch(`${gateway}/healthz`).then((r) => r.status, () => "refused"))).toBe("refused");
  });
});
