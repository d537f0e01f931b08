// `npm run bench -- <name> [options]`: one entry per benchmark. Each is loaded only when asked
// for, so one bench's dependencies never slow down or break another.
export {};

interface Bench {
  describe: string;
  run(args: string[]): Promise<void>;
}

const BENCHES: Record<string, Bench> = {
  replay: {
    describe: "replay a request trace (CSV) through the simulator: --policy seed|homeskillet, --compare",
    run: async (args) => (await import("./replay")).run(args),
  },
  "replay-live": {
    describe: "replay a trace slice through the real workers and compare with the simulator (--limit, --time-scale)",
    run: async (args) => (await import("./replay-live")).run(args),
  },
  chaos: {
    describe: "strikes under injected faults vs a clean run: error rate, lost, duplicated, leaked, p95 ratio (--strikes, --concurrency)",
    run: async (args) => (await import("./chaos")).chaos(args),
  },
  classifier: {
    describe: "classifier quality: random split and leave-one-source-out vs naive Bayes (--quick)",
    run: async (args) => (await import("./classifier")).run(args),
  },
  "classifier-speed": {
    describe: "classifier per-call time in workerd and Node, module size, instantiation (--batches, --calls)",
    run: async (args) => (await import("./classifier-speed")).run(args),
  },
  fusion: {
    describe: "fused plans (split, map-reduce) vs fragments one after another vs one large-model call, and cache hit rates (simulated)",
    run: async (args) => (await import("./fusion")).run(args),
  },
  "fusion-live": {
    describe: "the fusion bench through the real workers: fused vs serial vs one large call, cache hit rates (--requests, --documents, --replay, --time-scale)",
    run: async (args) => (await import("./fusion-live")).run(args),
  },
  telemetry: {
    describe: "strikes with tracing (OTLP to a local receiver) and metrics on vs off, against the floor (--levels, --rounds, --duration, --mode)",
    run: async (args) => (await import("./telemetry")).run(args),
  },
  scrape: {
    describe: "what a /metrics scrape costs per live covenant, and after the covenants are deleted (--covenants, --scrapes)",
    run: async (args) => (await import("./scrape")).run(args),
  },
  restart: {
    describe: "kill -9 of the self-hosted runtime mid-load, started again: lost, duplicated, allocations live at the kill reused or released (--strikes, --concurrency, --kill-at)",
    run: async (args) => (await import("./restart")).run(args),
  },
  soak: {
    describe: "steady load with faults for --minutes (10): lost, duplicated, leaked, storage and runtime memory growth (--concurrency, --covenants, --error-rate)",
    run: async (args) => (await import("./soak")).run(args),
  },
  "limits-ab": {
    describe: "what a key check and a limit check add, paired against an earlier checkout (--before DIR, built; --rounds)",
    run: async () => (await import("./limits-ab")).run(),
  },
  cache: {
    describe: "the answer cache on a workload with repeats: hit rate, latency percentiles and cost with the cache off, exact, exact + semantic (--requests, --repeat, --retyped, --concurrency, --time-scale)",
    run: async (args) => (await import("./cache")).run(args),
  },
  jwt: {
    describe: "inference calls through the Hosted.AI connector with the JWT reused vs a token exchange per call (--calls, --latency-scale)",
    run: async (args) => (await import("./jwt")).run(args),
  },
  profile: {
    describe: "CPU profile of the gateway's isolate under load (Miniflare, workerd's inspector): µs per request by stage (--path, --concurrency, --duration)",
    run: async (args) => (await import("./profile")).run(args),
  },
  overhead: {
    describe: "gateway strike vs a pass-through floor worker vs the emulator directly (--modes, --levels, --duration)",
    run: async (args) => (await import("./overhead")).overhead(args),
  },
};

function usage(): string {
  const rows = Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(10)} ${b.describe}`);
  return `usage: npm run bench -- <bench> [options]\n\n${rows.join("\n")}\n\nSee bench/README.md.\n`;
}

const [name, ...args] = process.argv.slice(2);
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  process.stderr.write((name && name !== "--help" ? `unknown bench "${name}"\n\n` : "") + usage());
  process.exit(name === "--help" ? 0 : 2);
}
try {
  await bench.run(args);
  // Keep-alive sockets and timers of a finished load run must not hold the process open.
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
}
