// `npm run bench -- soak --minutes N`: steady load with faults for N minutes (10 by default), then
// what the run left behind. Clients retry with their Idempotency-Key as the README tells them to;
// the ledger is compared with the answers (lost, duplicated), the emulator with the covenants
// (leaked), and the covenant objects' storage and the runtime's memory are read at start and end.
import { execFileSync } from "node:child_process";
import { withSystem } from "./lib/system";

interface SoakOptions {
  minutes: number;
  concurrency: number;
  covenants: number;
  errorRate: number;
}

function parse(args: string[]): SoakOptions {
  const get = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : (process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`] ?? fallback);
  };
  const opts = {
    minutes: Number(get("minutes", "10")),
    concurrency: Number(get("concurrency", "8")),
    covenants: Number(get("covenants", "4")),
    errorRate: Number(get("error-rate", "0.02")),
  };
  if (!(opts.minutes > 0) || !(opts.concurrency >= 1) || !(opts.covenants >= 1) || !(opts.errorRate >= 0 && opts.errorRate < 1)) {
    throw new Error("--minutes > 0, --concurrency >= 1, --covenants >= 1, 0 <= --error-rate < 1");
  }
  return opts;
}

const log = (s: string) => process.stderr.write(`[soak] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory, MB, of every workerd process started under this one. */
function runtimeRssMb(): number {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,rss=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, rss, comm]) => ({ pid: Number(pid), ppid: Number(ppid), rssKb: Number(rss), comm: comm ?? "" }));
  const children = new Map<number, number[]>();
  for (const r of rows) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r.pid]);
  const mine = new Set<number>();
  const stack = [process.pid];
  while (stack.length) for (const c of children.get(stack.pop()!) ?? []) if (!mine.has(c)) mine.add(c), stack.push(c);
  return rows.filter((r) => mine.has(r.pid) && r.comm.includes("workerd")).reduce((s, r) => s + r.rssKb, 0) / 1024;
}

/** The storage gauge of each named covenant, from the gateway's own /metrics. */
async function storageBytes(gateway: string, key: string, covenants: string[]): Promise<number> {
  const text = await (await fetch(`${gateway}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("homeskillet_covenant_storage_bytes{")) continue;
    if (covenants.some((c) => line.includes(`covenant="${c}"`))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export async function run(args: string[]): Promise<void> {
  const opts = parse(args);
  const result = await withSystem(
    { mode: "miniflare", ports: { gateway: 0, hostedai: 0, localNode: 0 }, persist: false, quiet: true, emulatorVars: { LATENCY_SCALE: "0.05" } },
    async (system) => {
      const gateway = system.gateway!;
      const hostedai = system.hostedai!;
      const auth = { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" };
      const covenants = Array.from({ length: opts.covenants }, (_, i) => `soak-${i}`);
      for (const id of covenants) await fetch(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id, lease: { idle_timeout_s: 30 } }) });
      // One strike each, so every object exists and counts before the first reading.
      for (const id of covenants) await fetch(`${gateway}/v1/strikes`, { method: "POST", headers: auth, body: JSON.stringify({ covenant_id: id, model: "gemma-2b-it", prompt: "warm", max_tokens: 4 }) });
      await fetch(`${hostedai}/admin/faults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ errors: [{ pool: "*", endpoint: "*", rate: opts.errorRate, status: 500 }] }),
      });
      const start = { storage: await storageBytes(gateway, system.devKey, covenants), rss: runtimeRssMb() };
      log(`${opts.minutes} min at concurrency ${opts.concurrency} over ${opts.covenants} covenants, ${opts.errorRate * 100} % upstream errors; storage ${start.storage} B, runtime ${start.rss.toFixed(0)} MB`);

      const until = Date.now() + opts.minutes * 60_000;
      // The runtime's memory once a minute: growth that levels off is a warm heap, growth that does not is a leak.
      const rssSeries = [start.rss];
      const sampler = setInterval(() => rssSeries.push(runtimeRssMb()), 60_000);
      const ok = new Map<string, number>(covenants.map((c) => [c, 1]));
      const ids = new Set<string>();
      let sent = 0;
      let lost = 0;
      let duplicated = 0;
      let retries = 0;
      const errors: Record<string, number> = {};
      const worker = async (w: number) => {
        for (let n = 0; Date.now() < until; n++) {
          const covenant = covenants[(w + n) % covenants.length]!;
          const key = `soak-${w}-${n}`;
          sent++;
          let answered = false;
          // The README's advice: retry a 5xx or 429 with the same Idempotency-Key, backing off.
          for (let attempt = 0; attempt < 5 && !answered; attempt++) {
            if (attempt > 0) retries++, await sleep(100 * 2 ** attempt);
            try {
              const res = await fetch(`${gateway}/v1/strikes`, {
                method: "POST",
                headers: { ...auth, "idempotency-key": key },
                body: JSON.stringify({ covenant_id: covenant, model: "gemma-2b-it", prompt: `soak ${key}`, max_tokens: 16 }),
                signal: AbortSignal.timeout(60_000),
              });
              const body = (await res.json()) as { id?: string; error?: { type?: string } };
              if (res.ok && body.id) {
                answered = true;
                // A replay answers with the same id: counted once.
                if (!ids.has(body.id)) ok.set(covenant, ok.get(covenant)! + 1), ids.add(body.id);
              } else if (res.status < 500 && res.status !== 429) {
                errors[`${res.status} ${body.error?.type}`] = (errors[`${res.status} ${body.error?.type}`] ?? 0) + 1;
                break;
              }
            } catch {
              // No answer: the same key again.
            }
          }
          if (!answered) lost++;
          if (sent % 2000 === 0) log(`${sent} strikes, ${Math.round((until - Date.now()) / 1000)} s left`);
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
      clearInterval(sampler);
      await fetch(`${hostedai}/admin/faults`, { method: "DELETE" });
      const end = { storage: await storageBytes(gateway, system.devKey, covenants), rss: runtimeRssMb() };

      // The ledger holds each answered strike exactly once.
      for (const id of covenants) {
        const usage = (await (await fetch(`${gateway}/v1/covenants/${id}/usage?from=${new Date(Date.now() - 86_400_000).toISOString()}`, { headers: auth })).json()) as { strikes: number };
        duplicated += Math.max(0, usage.strikes - ok.get(id)!);
        lost += Math.max(0, ok.get(id)! - usage.strikes);
      }
      for (const id of covenants) await fetch(`${gateway}/v1/covenants/${id}`, { method: "DELETE", headers: auth });
      type AdminView = { allocations: { metadata?: Record<string, string> }[] };
      const live = async () => ((await (await fetch(`${hostedai}/admin/allocations`)).json()) as AdminView).allocations.filter((a) => covenants.includes(a.metadata?.covenant ?? "")).length;
      let leaked = await live();
      for (let waited = 0; leaked > 0 && waited < 20_000; waited += 1000) await sleep(1000), (leaked = await live());
      return { sent, lost, duplicated, leaked, retries, errors, start, end, rssSeries: [...rssSeries, end.rss], answered: [...ok.values()].reduce((a, b) => a + b, 0) - covenants.length };
    },
  );
  const errorCount = Object.values(result.errors).reduce((a, b) => a + b, 0) + result.lost;
  const growthPer1k = ((result.end.storage - result.start.storage) / Math.max(1, result.answered)) * 1000;
  process.stdout.write(
    [
      `## Soak: ${opts.minutes} min, ${opts.errorRate * 100} % upstream errors, concurrency ${opts.concurrency}, ${opts.covenants} covenants`,
      ``,
      `${new Date().toISOString().slice(0, 10)} · Miniflare, direct sockets · emulator latency_scale 0.05 · clients retry 5xx/429 with their Idempotency-Key (up to 5 tries)`,
      ``,
      `| strikes | answered | client-visible errors | lost | duplicated | leaked | client retries | storage start → end | runtime RSS start → end |`,
      `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |`,
      `| ${result.sent} | ${result.answered} | ${errorCount}${Object.keys(result.errors).length ? ` (${Object.entries(result.errors).map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""} | ${result.lost} | ${result.duplicated} | ${result.leaked} | ${result.retries} | ${(result.start.storage / 1024).toFixed(0)} → ${(result.end.storage / 1024).toFixed(0)} KiB | ${result.start.rss.toFixed(0)} → ${result.end.rss.toFixed(0)} MB |`,
      ``,
      `Runtime RSS once a minute, MB: ${result.rssSeries.map((x) => x.toFixed(0)).join(" → ")}.`,
      ``,
      `strikes=${result.sent} error_rate=${(errorCount / Math.max(1, result.sent)).toFixed(5)} lost=${result.lost} leaked=${result.leaked} storage_growth_bytes_per_1k_strikes=${growthPer1k.toFixed(0)} rss_growth_mb=${(result.end.rss - result.start.rss).toFixed(1)}`,
      ``,
    ].join("\n"),
  );
}
