// What a key check and a limit check add to a strike, measured paired: two gateways side by side
// — this tree, and an earlier checkout given with --before — each with its own emulators
// (Miniflare, emulator latency 0), strikes sent one at a time on a warm lease, every round
// visiting each target once in a shuffled order, so a busy machine's noise falls on all alike.
// Small differences (tenths of a millisecond) drown in noise when the systems are measured one
// after another, as `overhead` does.
//
//   npm run build && (cd <earlier checkout> && npm run build)
//   npx tsx bench/limits-ab.ts --before <earlier checkout> [--rounds 3000]
//
// Targets: each tree with the dev key (configured, no limits), with an issued key without limits,
// and with an issued key with limits it never reaches (every check runs, none refuses). The
// report gives p50/p90 per target and the p50 each adds over the earlier tree's dev key.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startSystem as startThis, type LocalSystem, type StartOptions } from "./lib/system";

const LIMITS = { requests_per_minute: 1_000_000, tokens_per_minute: 1_000_000_000, max_concurrent: 100_000 };
const BODY = JSON.stringify({ model: "gemma-2b-it", prompt: "Explain vGPU slicing in one sentence.", max_tokens: 16 });

function option(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

async function issue(gateway: string, devKey: string, limited: boolean): Promise<string | undefined> {
  const res = await fetch(`${gateway}/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "limits-ab", scopes: ["strike"], ...(limited && { limits: LIMITS }) }),
  });
  // A tree from before issued keys has no /v1/keys: it gets the dev-key target only.
  if (res.status === 404) return undefined;
  if (res.status !== 201) throw new Error(`issuing a key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

async function strike(gateway: string, key: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${gateway}/v1/strikes`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: BODY });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`strike answered ${res.status}`);
  return performance.now() - t0;
}

const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;

export async function run(): Promise<void> {
  const beforeDir = resolve(option("before"));
  const rounds = Number(option("rounds", "3000"));
  const opts: StartOptions = {
    mode: "miniflare",
    workers: ["hostedai", "localNode", "gateway"],
    ports: { gateway: 0, hostedai: 0, localNode: 0 },
    persist: false,
    emulatorVars: { LATENCY_SCALE: "0" },
    quiet: true,
  };
  const startBefore = ((await import(`${beforeDir}/bench/lib/system.ts`)) as { startSystem: typeof startThis }).startSystem;
  const systems: LocalSystem[] = [];
  try {
    const targets: Array<{ name: string; gateway: string; key: string }> = [];
    for (const [tree, start] of [["before", startBefore], ["after", startThis]] as const) {
      const s = await start(opts);
      systems.push(s);
      targets.push({ name: `${tree}, dev key`, gateway: s.gateway!, key: s.devKey });
      const plain = await issue(s.gateway!, s.devKey, false);
      if (plain) targets.push({ name: `${tree}, issued key, no limits`, gateway: s.gateway!, key: plain });
      const limited = await issue(s.gateway!, s.devKey, true);
      if (limited) targets.push({ name: `${tree}, issued key, limited`, gateway: s.gateway!, key: limited });
    }
    const times = targets.map(() => [] as number[]);
    for (let i = 0; i < 200; i++) for (const t of targets) await strike(t.gateway, t.key);
    for (let r = 0; r < rounds; r++) {
      const order = targets.map((_, i) => i).sort(() => Math.random() - 0.5);
      for (const i of order) times[i]!.push(await strike(targets[i]!.gateway, targets[i]!.key));
    }
    const base = quantile(times[0]!, 0.5);
    const lines = [
      `| target | p50 ms | p90 ms | p50 added |`,
      `| --- | ---: | ---: | ---: |`,
      ...targets.map((t, i) => {
        const p50 = quantile(times[i]!, 0.5);
        return `| ${t.name} | ${p50.toFixed(3)} | ${quantile(times[i]!, 0.9).toFixed(3)} | ${i === 0 ? "—" : `${p50 - base >= 0 ? "+" : ""}${(p50 - base).toFixed(3)}`} |`;
      }),
    ];
    process.stdout.write(`${rounds} rounds, one strike per target per round, shuffled\n\n${lines.join("\n")}\n`);
  } finally {
    for (const s of systems) await s.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void run();
