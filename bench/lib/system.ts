// Typed access to scripts/system.mjs for the benches, plus the start/stop discipline they share:
// every system started is stopped, on success, on error and on Ctrl-C.

export interface StartOptions {
  mode?: "wrangler" | "miniflare";
  workers?: Array<"gateway" | "hostedai" | "localNode" | "floor">;
  ports?: { gateway?: number; hostedai?: number; localNode?: number; floor?: number };
  devKey?: string;
  emulatorVars?: Record<string, string>;
  gatewayVars?: Record<string, string>;
  persist?: string | false;
  configs?: Partial<Record<"gateway" | "hostedai" | "localNode" | "floor", string>>;
  quiet?: boolean;
  timeoutMs?: number;
  /** miniflare mode: workerd's inspector on this port (ws://127.0.0.1:<port>/core:user:<worker>) */
  inspectorPort?: number;
}

export interface LocalSystem {
  mode: "wrangler" | "miniflare";
  gateway?: string;
  hostedai?: string;
  localNode?: string;
  floor?: string;
  devKey: string;
  stop(): Promise<void>;
}

// A computed specifier keeps the .mjs out of type-checking (it has no declarations).
const systemModule = new URL("../../scripts/system.mjs", import.meta.url).href;

export async function startSystem(opts: StartOptions = {}): Promise<LocalSystem> {
  const mod = (await import(systemModule)) as { startSystem(o: StartOptions): Promise<LocalSystem> };
  return mod.startSystem(opts);
}

/** Runs `fn` against a freshly started system and always stops it, also on SIGINT/SIGTERM. */
export async function withSystem<T>(opts: StartOptions, fn: (system: LocalSystem) => Promise<T>): Promise<T> {
  let system: LocalSystem | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the local system…\n`);
    void (system?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    system = await startSystem(opts);
    return await fn(system);
  } finally {
    await system?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
