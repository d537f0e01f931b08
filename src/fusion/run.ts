/**
 * Running fragments: each goes to the result cache, then the semantic cache, then a single
 * flight around the caller's runFragment (which owns retries and the fallback chain). Fragments
 * run at most `concurrency` at a time; one abort signal stops them all — at the deadline, when
 * the client goes away, or when a failure the plan cannot tolerate makes the rest pointless.
 */
import type { FusionProgress } from "../schema";
import type { ResultStore } from "./cache";
import { tenantKey } from "./identity";
import { skippedRecord, type FragmentRecord } from "./report";
import type { SemanticStore } from "./semantic";
import type { SingleFlight } from "./single-flight";
import type { Fragment, FusionPlan } from "./types";

export type FragmentSuccess = {
  ok: true;
  text: string;
  /** The model that answered (a covenant may have degraded the one planned). */
  model: string;
  pool_id: string | null;
  allocation_id: string | null;
  usage: { prompt_tokens: number; completion_tokens: number };
  cost_usd: number;
  finish_reason: "stop" | "length";
};

export type FragmentResult = FragmentSuccess | { ok: false; status?: number; error: { type: string; message: string } };

/** The caches a plan runs with (in memory, or the covenant object's SQLite-backed ones); any may be left out. */
export interface FusionCaches {
  results?: ResultStore<FragmentSuccess>;
  semantic?: SemanticStore<FragmentSuccess>;
  flights?: SingleFlight<FragmentResult>;
}

export interface ExecuteDeps {
  tenant: string;
  /** Runs one fragment as a strike; should honour the signal, and is cut off when it fires regardless. */
  runFragment(fragment: Fragment, signal: AbortSignal): Promise<FragmentResult>;
  now(): number;
  /** When the whole request must be answered, on the `now` clock. */
  deadlineAt?: number;
  /** Fragments in flight at once; the plan's own limit when absent. */
  concurrency?: number;
  caches?: FusionCaches;
  onProgress?(event: FusionProgress): void;
  /** The client's signal: aborting it cancels the request. */
  signal?: AbortSignal;
}

export interface Stop {
  status: number;
  type: string;
  message: string;
}

/** Resolves with `p`, or rejects as soon as `signal` aborts (the work itself may go on). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

export class FragmentRunner {
  readonly controller = new AbortController();
  stop: Stop | null = null;
  private started = 0;
  private done = 0;

  constructor(
    private readonly plan: FusionPlan,
    private readonly deps: ExecuteDeps,
    readonly startedAt: number,
    private readonly total: number,
  ) {}

  /** Stops every fragment not yet finished; the first reason given is the one reported. */
  halt(stop: Stop): void {
    if (this.stop) return;
    this.stop = stop;
    this.controller.abort(new Error(stop.message));
  }

  async runAll(fragments: readonly Fragment[], concurrency: number, stopOnFailure: boolean): Promise<FragmentRecord[]> {
    const records: FragmentRecord[] = new Array<FragmentRecord>(fragments.length);
    let next = 0;
    const worker = async () => {
      while (next < fragments.length) {
        const i = next++;
        const r = await this.runOne(fragments[i]!);
        records[i] = r;
        if (r.status === "failed" && stopOnFailure) {
          this.halt({ status: r.failure_status ?? 502, type: "fusion_incomplete", message: `fragment ${r.id} (${r.title}) failed — ${r.error?.message ?? "no reason given"} — and this plan does not tolerate gaps` });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, fragments.length)) }, worker));
    return records;
  }

  async runOne(f: Fragment): Promise<FragmentRecord> {
    const { deps, plan } = this;
    const startedMs = deps.now() - this.startedAt;
    if (this.controller.signal.aborted) return this.finished(skippedRecord(f, startedMs, this.stopReason()));
    deps.onProgress?.({ type: "fragment_started", id: f.id, role: f.role, model: f.model, index: this.started++, total: this.total });
    const t0 = deps.now();
    let record: FragmentRecord;
    try {
      const cached = this.lookup(f);
      if (cached) {
        record = this.success(f, cached.value, cached.cache, startedMs, deps.now() - t0, cached.similarity);
      } else {
        const signal = this.controller.signal;
        const flights = plan.cache.flights ? deps.caches?.flights : undefined;
        const { value, shared } = flights
          ? await flights.run(tenantKey(deps.tenant, f.hash), signal, (s) => deps.runFragment(f, s))
          : { value: await untilAborted(deps.runFragment(f, signal), signal), shared: false };
        if (value.ok) {
          record = this.success(f, value, shared ? "shared" : "miss", startedMs, deps.now() - t0);
          if (!shared) this.store(f, value);
        } else {
          record = this.failure(f, value.error, value.status ?? 502, startedMs, deps.now() - t0);
        }
      }
    } catch (err) {
      const reason = this.controller.signal.aborted ? this.stopReason() : { type: "fragment_error", message: err instanceof Error ? err.message : String(err) };
      record = this.failure(f, reason, this.stop?.status ?? 502, startedMs, deps.now() - t0);
    }
    return this.finished(record);
  }

  private finished(record: FragmentRecord): FragmentRecord {
    this.done++;
    this.deps.onProgress?.({ type: "fragment_finished", id: record.id, status: record.status, cache: record.cache, latency_ms: record.latency_ms, done: this.done, total: this.total });
    return record;
  }

  private stopReason(): { type: string; message: string } {
    return this.stop ? { type: this.stop.type, message: this.stop.message } : { type: "cancelled", message: "the request was cancelled" };
  }

  private lookup(f: Fragment): { value: FragmentSuccess; cache: "hit" | "semantic"; similarity?: number } | undefined {
    const { caches, tenant } = this.deps;
    const { cache } = this.plan;
    const exact = cache.results ? caches?.results?.get(tenant, f.hash) : undefined;
    if (exact) return { value: exact, cache: "hit" };
    if (cache.semantic_threshold === null || !caches?.semantic) return undefined;
    const near = caches.semantic.lookup(tenant, f.scope, f.input, cache.semantic_threshold);
    return near ? { value: near.value, cache: "semantic", similarity: near.similarity } : undefined;
  }

  private store(f: Fragment, value: FragmentSuccess): void {
    const { caches, tenant } = this.deps;
    const { cache } = this.plan;
    if (cache.results) caches?.results?.set(tenant, f.hash, value, cache.ttl_ms);
    if (cache.semantic_threshold !== null) caches?.semantic?.add(tenant, f.scope, f.input, value, cache.ttl_ms);
  }

  private success(f: Fragment, v: FragmentSuccess, cache: FragmentRecord["cache"], startedMs: number, latencyMs: number, similarity?: number): FragmentRecord {
    return {
      id: f.id,
      role: f.role,
      title: f.title,
      model: v.model,
      pool_id: v.pool_id,
      allocation_id: v.allocation_id,
      status: "ok",
      cache,
      ...(similarity !== undefined ? { similarity } : {}),
      prompt_tokens: v.usage.prompt_tokens,
      completion_tokens: v.usage.completion_tokens,
      // A cached or shared answer was paid for by whoever computed it.
      cost_usd: cache === "miss" ? v.cost_usd : 0,
      latency_ms: latencyMs,
      started_ms: startedMs,
      hash: f.hash,
      fingerprint: f.fingerprint,
      text: v.text,
      finish_reason: v.finish_reason,
      failure_status: null,
    };
  }

  private failure(f: Fragment, error: { type: string; message: string }, status: number, startedMs: number, latencyMs: number): FragmentRecord {
    return { ...skippedRecord(f, startedMs, error), status: "failed", latency_ms: latencyMs, failure_status: status };
  }
}
