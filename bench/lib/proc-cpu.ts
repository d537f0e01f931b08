// CPU time the processes this bench started have used (Linux /proc): workerd under Miniflare,
// wrangler and its workerd under wrangler dev. Unlike latency or req/s, CPU seconds per request
// hardly move when other work on the machine takes the cores away, so a change of a few tens of
// microseconds per request shows in one short run.
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_S = 100; // USER_HZ on Linux

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, clock ticks */
  ticks: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    // after "pid (comm) ": state ppid … utime(14th field overall → index 11) stime(index 12)
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (not `root` itself). */
export function descendants(root = process.pid): Proc[] {
  if (process.platform !== "linux") return [];
  const all: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** CPU seconds used so far by this bench's descendants, per process id (a baseline for `cpuSince`). */
export function cpuNow(): Map<number, number> {
  return new Map(descendants().map((p) => [p.pid, p.ticks / TICKS_PER_S]));
}

/** CPU seconds the descendants used since `before` (processes started since count from zero). */
export function cpuSince(before: Map<number, number>): number {
  let s = 0;
  for (const [pid, now] of cpuNow()) s += now - (before.get(pid) ?? 0);
  return s;
}
