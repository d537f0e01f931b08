// CPU profiles of a worker's isolate through workerd's DevTools inspector (Miniflare's
// `inspectorPort`), and what they say per source file: the profile's call frames name places in
// the bundle, and the bundle's source map says which project file (or package) each came from.
import { readFileSync } from "node:fs";
import { WebSocket } from "ws";

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One DevTools session on a worker's isolate: `ws://127.0.0.1:<port>/core:user:<worker>`. */
export class Inspector {
  private next = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(private ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
  }

  static async connect(port: number, worker: string): Promise<Inspector> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/core:user:${worker}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      (ws as unknown as NodeJS.EventEmitter).once("error", reject);
    });
    return new Inspector(ws);
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async startProfiling(intervalUs: number): Promise<void> {
    await this.send("Profiler.enable");
    await this.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.send("Profiler.start");
  }

  async stopProfiling(): Promise<CpuProfile> {
    const { profile } = await this.send<{ profile: CpuProfile }>("Profiler.stop");
    return profile;
  }

  close(): void {
    this.ws.close();
  }
}

// ---------------------------------------------------------------------------------------------
// source maps: only which source a generated position falls in (no names, no original lines)

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Per generated line, the segments' start columns and source indexes, in column order. */
export class SourceFiles {
  private lines: Array<{ cols: number[]; srcs: number[] }> = [];
  readonly sources: string[];

  constructor(mapPath: string) {
    const map = JSON.parse(readFileSync(mapPath, "utf8")) as { sources: string[]; mappings: string };
    this.sources = map.sources;
    let src = 0;
    for (const line of map.mappings.split(";")) {
      const cols: number[] = [];
      const srcs: number[] = [];
      let col = 0;
      for (const seg of line.split(",")) {
        if (!seg) continue;
        const fields = decodeVlq(seg);
        col += fields[0]!;
        if (fields.length >= 4) {
          src += fields[1]!;
          cols.push(col);
          srcs.push(src);
        }
      }
      this.lines.push({ cols, srcs });
    }
  }

  /** The source file a 0-based generated line and column falls in, or "" when unmapped. */
  at(line: number, column: number): string {
    const l = this.lines[line];
    if (!l || !l.cols.length) return "";
    let lo = 0;
    let hi = l.cols.length - 1;
    if (column < l.cols[0]!) return this.sources[l.srcs[0]!] ?? "";
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (l.cols[mid]! <= column) lo = mid;
      else hi = mid - 1;
    }
    return this.sources[l.srcs[lo]!] ?? "";
  }
}

function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const digit = B64.get(ch)!;
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// attribution

export interface Attribution {
  /** microseconds of samples per stage */
  stageUs: Map<string, number>;
  /** microseconds of self time per "function @ file" */
  selfUs: Map<string, number>;
  totalUs: number;
  idleUs: number;
}

/**
 * Each sample goes to the stage of the innermost frame that a `classify` callback recognises
 * (walking from the leaf towards the root); samples of native code are thus charged to the
 * project code that called it. Idle samples are counted apart.
 */
export function attribute(profile: CpuProfile, files: SourceFiles, classify: (file: string, fn: string) => string | undefined): Attribution {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fileOf = new Map<number, string>();
  const stageOf = new Map<number, string>();
  const fileFor = (n: CpuProfileNode) => {
    let f = fileOf.get(n.id);
    if (f === undefined) {
      // Only the bundle's frames map through its source map; the runtime's own modules
      // (node:timers, node:util under nodejs_compat) are named by their URL.
      const url = n.callFrame.url;
      f = url && /(^|\/)index\.js$/.test(url) && n.callFrame.lineNumber >= 0 ? files.at(n.callFrame.lineNumber, n.callFrame.columnNumber) : url;
      fileOf.set(n.id, f);
    }
    return f;
  };
  const stageFor = (id: number): string => {
    const cached = stageOf.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id)!;
    const name = n.callFrame.functionName;
    let stage: string | undefined;
    if (name === "(idle)") stage = "(idle)";
    else if (name === "(garbage collector)") stage = "garbage collection";
    else if (name === "(program)") stage = "(program: runtime, outside JS)";
    else stage = classify(fileFor(n), name);
    if (stage === undefined) {
      const up = parent.get(id);
      stage = up === undefined || byId.get(up)!.callFrame.functionName === "(root)" ? "other (unattributed JS)" : stageFor(up);
    }
    stageOf.set(id, stage);
    return stage;
  };

  const stageUs = new Map<string, number>();
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    const stage = stageFor(id);
    if (stage === "(idle)") {
      idleUs += dt;
      continue;
    }
    totalUs += dt;
    stageUs.set(stage, (stageUs.get(stage) ?? 0) + dt);
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || "(anonymous)"} @ ${shortFile(fileFor(n)) || n.callFrame.url || "native"}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  }
  return { stageUs, selfUs, totalUs, idleUs };
}

/** A source path without the bundler's ../ prefixes. */
export function shortFile(file: string): string {
  return file.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "node_modules/");
}
