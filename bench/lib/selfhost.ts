// The self-hosted gateway (`npm run selfhost`, scripts/selfhost.mjs) for the benches: started on a
// free loopback port with throwaway state, pointed at emulators already running, and stopped with
// SIGTERM (then SIGKILL) whatever happens.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../scripts/ports.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface SelfhostOptions {
  hostedai: string;
  localNode?: string;
  devKey: string;
  /** Extra settings for the gateway (HOMESKILLET_*, OTEL_* …). */
  vars?: Record<string, string>;
  /** Build .build/selfhost first (what `npm run selfhost` does); false serves the last build. */
  build?: boolean;
  quiet?: boolean;
  timeoutMs?: number;
  /** Serve on this port (a restart keeps its address); a free one when absent. */
  port?: number;
  /** Keep the Durable Objects here, and keep them after stop (a restart reuses them); a throwaway directory when absent. */
  dataDir?: string;
}

export interface Selfhost {
  url: string;
  /** The workerd process's id. */
  pid: number;
  stop(): Promise<void>;
  /** kill -9 of workerd itself: no warning, no shutdown; resolves when the script has exited. */
  kill(): Promise<void>;
}

export async function startSelfhost(opts: SelfhostOptions): Promise<Selfhost> {
  const port = opts.port ?? (await freePort());
  const data = opts.dataDir ?? mkdtempSync(join(tmpdir(), "homeskillet-bench-selfhost-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? tmpdir(),
    HOST: "127.0.0.1",
    PORT: String(port),
    HOMESKILLET_DATA_DIR: data,
    HOSTEDAI_BASE_URL: opts.hostedai,
    HOSTEDAI_API_KEY: "dev-hostedai-key",
    HOMESKILLET_DEV_KEY: opts.devKey,
    ...(opts.localNode && { LOCAL_NODE_URL: opts.localNode }),
    ...opts.vars,
  };
  const proc = spawn(process.execPath, [join(root, "scripts", "selfhost.mjs"), ...(opts.build === false ? ["--no-build"] : [])], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  for (const s of [proc.stdout!, proc.stderr!]) {
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        // The gateway's JSON request lines would drown a bench's progress.
        if (!opts.quiet && !line.startsWith("{")) process.stderr.write(`[selfhost] ${line}\n`);
      }
    });
  }
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  let pid = 0;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!done) {
        proc.kill("SIGKILL");
        if (pid) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        await exited;
      }
    }
    if (!opts.dataDir) rmSync(data, { recursive: true, force: true });
  };
  const kill = async () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`selfhost exited with ${proc.exitCode}:\n${tail.join("\n")}`);
      pid ||= Number(/workerd \(pid (\d+)\)/.exec(tail.join("\n"))?.[1] ?? 0);
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`selfhost did not answer on ${url}:\n${tail.join("\n")}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid, stop, kill };
}
