// `npm run bench -- restart`: the runtime is killed (kill -9 of workerd) in the middle of a load
// run and started again on the same data directory. Clients do what the README tells them: send
// each strike with an Idempotency-Key and retry it, with the same key, on a connection error, a
// 5xx or a 429. The judge is the Hosted.AI emulator's own record and the ledger: nothing lost,
// nothing in the ledger twice, and every allocation live at the kill reused or released.
//
// The gateway runs self-hosted (`npm run selfhost`: workerd from npm, Durable Objects on local
// disk), the only way to kill its runtime outright and start it again on the same state; the
// emulator runs in Miniflare beside it, untouched by the kill.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/ports.mjs";
import { startSelfhost, type Selfhost } from "./lib/selfhost";
import { withSystem } from "./lib/system";

interface Options {
  strikes: number;
  concurrency: number;
  /** Share of the strikes answered before the kill. */
  killAt: number;
}

function parse(args: string[]): Options {
  const get = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : (process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`] ?? fallback);
  };
  const opts = { strikes: Number(get("strikes", "1500")), concurrency: Number(get("concurrency", "16")), killAt: Number(get("kill-at", "0.4")) };
  if (!(opts.strikes >= 10) || !(opts.concurrency >= 1) || !(opts.killAt > 0 && opts.killAt < 1)) throw new Error("--strikes >= 10, --concurrency >= 1, 0 < --kill-at < 1");
  return opts;
}

const log = (s: string) => process.stderr.write(`[restart] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AdminView {
  allocations: { allocation_id: string; metadata?: Record<string, string> }[];
  inference_total: number;
  created_total: number;
  released_total: number;
  expired_total: number;
}

export async function run(args: string[]): Promise<void> {
  const opts = parse(args);
  const devKey = "hsk_bench_restart_0001";
  const covenant = "restart";
  const dataDir = mkdtempSync(join(tmpdir(), "homeskillet-restart-"));
  const result = await withSystem(
    { mode: "miniflare", workers: ["hostedai"], ports: { hostedai: 0 }, persist: false, quiet: true, emulatorVars: { LATENCY_SCALE: "0.05" } },
    async (emulators) => {
      const hostedai = emulators.hostedai!;
      // The same address and data directory across the restart, as a supervisor would start it.
      const where = { hostedai, devKey, port: await freePort(), dataDir, quiet: true, vars: { HOMESKILLET_OPERATOR_KEY: "hsk_bench_restart_operator" } };
      log("building and starting the self-hosted gateway…");
      let gateway: Selfhost = await startSelfhost({ ...where, build: true });
      const url = gateway.url;
      const auth = { authorization: `Bearer ${devKey}`, "content-type": "application/json" };
      const admin = async () => (await (await fetch(`${hostedai}/admin/allocations`)).json()) as AdminView;
      const mine = (v: AdminView) => v.allocations.filter((a) => a.metadata?.covenant === covenant).map((a) => a.allocation_id);
      // Leases kept a while, so some are live (and reusable) when the runtime dies.
      await fetch(`${url}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id: covenant, lease: { idle_timeout_s: 20 } }) });
      const before = await admin();

      const answeredIds = new Map<string, string>(); // idempotency key → strike id
      let duplicatedAnswers = 0;
      let clientRetries = 0;
      let lost = 0;
      let next = 0;
      let answered = 0;
      let down = false;
      let liveAtKill: string[] = [];
      let downtimeMs = 0;
      const killAfter = Math.floor(opts.strikes * opts.killAt);
      let killing: Promise<void> | undefined;

      const kill = async () => {
        liveAtKill = mine(await admin());
        log(`kill -9 of workerd (pid ${gateway.pid}) after ${answered} answers; ${liveAtKill.length} allocations live`);
        const t0 = Date.now();
        down = true;
        await gateway.kill();
        gateway = await startSelfhost({ ...where, build: false });
        down = false;
        downtimeMs = Date.now() - t0;
        log(`started again (pid ${gateway.pid}) after ${downtimeMs} ms`);
      };

      const worker = async () => {
        for (let i = next++; i < opts.strikes; i = next++) {
          const key = `restart-${i}`;
          const deadline = Date.now() + 180_000;
          let done = false;
          for (let attempt = 0; !done && Date.now() < deadline; attempt++) {
            if (attempt > 0) clientRetries++, await sleep(Math.min(2000, 50 * 2 ** attempt));
            if (down) continue;
            try {
              const res = await fetch(`${url}/v1/strikes`, {
                method: "POST",
                headers: { ...auth, "idempotency-key": key },
                body: JSON.stringify({ covenant_id: covenant, model: "gemma-2b-it", prompt: `restart ${i}`, max_tokens: 16 }),
                signal: AbortSignal.timeout(60_000),
              });
              const body = (await res.json()) as { id?: string };
              if (res.ok && body.id) {
                const seen = answeredIds.get(key);
                if (seen !== undefined && seen !== body.id) duplicatedAnswers++;
                answeredIds.set(key, body.id);
                done = true;
              } else if (res.status < 500 && res.status !== 429) {
                break; // refused for good: counted as lost below
              }
            } catch {
              // no answer (the runtime died mid-request): the same key again
            }
          }
          if (!done) lost++;
          else if (++answered === killAfter) killing = kill();
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency }, worker));
      await killing;

      // The ledger holds every answered strike exactly once.
      const usage = (await (await fetch(`${url}/v1/covenants/${covenant}/usage?from=${new Date(Date.now() - 86_400_000).toISOString()}`, { headers: auth })).json()) as { strikes: number };
      const inLedgerTwice = Math.max(0, usage.strikes - answeredIds.size);
      const missingFromLedger = Math.max(0, answeredIds.size - usage.strikes);
      const after = await admin();
      // Inferences the emulator ran beyond the answered strikes: work in flight at the kill whose
      // answer never reached anyone, and which the client's retry then ran again.
      const ranAgain = Math.max(0, after.inference_total - before.inference_total - answeredIds.size);

      // Each allocation live at the kill is now held as a lease again (reused) or released.
      const status = (await (await fetch(`${url}/v1/covenants/${covenant}`, { headers: auth })).json()) as { leases: { allocation_id: string }[] };
      const held = new Set(status.leases.map((l) => l.allocation_id));
      const liveNow = new Set(mine(after));
      const orphaned = liveAtKill.filter((a) => liveNow.has(a) && !held.has(a));
      await fetch(`${url}/v1/covenants/${covenant}`, { method: "DELETE", headers: auth });
      let leaked = mine(await admin()).length;
      for (let waited = 0; leaked > 0 && waited < 30_000; waited += 1000) await sleep(1000), (leaked = mine(await admin()).length);
      await gateway.stop();
      return { answered: answeredIds.size, lost: lost + missingFromLedger, duplicated: inLedgerTwice + duplicatedAnswers, ranAgain, clientRetries, liveAtKill: liveAtKill.length, orphaned: orphaned.length, leaked, downtimeMs, expired: after.expired_total - before.expired_total };
    },
  );
  rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write(
    [
      `## Restart under load: kill -9 of workerd after ${Math.round(opts.killAt * 100)} % of ${opts.strikes} strikes`,
      ``,
      `${new Date().toISOString().slice(0, 10)} · self-hosted gateway (workerd from npm, Durable Objects on local disk) · Hosted.AI emulator in Miniflare, latency_scale 0.05 · concurrency ${opts.concurrency} · clients retry with their Idempotency-Key`,
      ``,
      `| answered | lost | duplicated | ran again upstream | client retries | allocations live at the kill | of them orphaned after restart | leaked | expired unreleased | downtime |`,
      `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
      `| ${result.answered} | ${result.lost} | ${result.duplicated} | ${result.ranAgain} | ${result.clientRetries} | ${result.liveAtKill} | ${result.orphaned} | ${result.leaked} | ${result.expired} | ${(result.downtimeMs / 1000).toFixed(1)} s |`,
      ``,
      `strikes=${opts.strikes} answered=${result.answered} lost=${result.lost} duplicated=${result.duplicated} ran_again=${result.ranAgain} live_at_kill=${result.liveAtKill} orphaned=${result.orphaned} leaked=${result.leaked}`,
      ``,
    ].join("\n"),
  );
}
