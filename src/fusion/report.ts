// The plan and its outcome as the client sees them: no prompt texts (a map-reduce plan would
// repeat the whole document), only what each fragment was, where it ran and what it cost.
import type { CacheOutcome, FragmentReport, FusionGap, FusionPlanView, FusionReport, FusionTotals } from "../schema";
import type { Fragment, FusionPlan } from "./types";

export function planView(plan: FusionPlan): FusionPlanView {
  const fuse = plan.fuse;
  return {
    strategy: plan.strategy,
    requested: plan.requested,
    reason: plan.reason,
    fragments: plan.fragments.map((f) => ({
      id: f.id,
      role: f.role,
      title: f.title,
      model: f.model,
      label: f.label,
      prompt_tokens: f.prompt_tokens,
      max_tokens: f.max_tokens,
      hash: f.hash,
      fingerprint: f.fingerprint,
      span: f.span,
      estimate_usd: f.estimate_usd,
    })),
    fuse: {
      kind: fuse.kind,
      model: fuse.kind === "reduce" || fuse.kind === "judge" ? fuse.model : null,
      estimate_usd: fuse.kind === "reduce" || fuse.kind === "judge" ? fuse.estimate_usd : null,
    },
    tolerate_gaps: plan.tolerate_gaps,
    concurrency: plan.concurrency,
    price_usd: plan.price_usd,
    limit_usd: plan.limit_usd,
    reductions: plan.reductions,
  };
}

/** One fragment's outcome, with the answer text kept for fusion (the report drops it). */
export interface FragmentRecord extends FragmentReport {
  text: string | null;
  finish_reason: "stop" | "length" | null;
  /** The failure's HTTP status, to pass on when the request fails because of it. */
  failure_status: number | null;
}

export function skippedRecord(f: Fragment, startedMs: number, reason: { type: string; message: string }): FragmentRecord {
  return {
    id: f.id,
    role: f.role,
    title: f.title,
    model: f.model,
    pool_id: null,
    allocation_id: null,
    status: "skipped",
    cache: "miss" satisfies CacheOutcome,
    prompt_tokens: 0,
    completion_tokens: 0,
    cost_usd: 0,
    latency_ms: 0,
    started_ms: startedMs,
    hash: f.hash,
    fingerprint: f.fingerprint,
    error: reason,
    text: null,
    finish_reason: null,
    failure_status: null,
  };
}

export function toReport(r: FragmentRecord): FragmentReport {
  const { text: _text, finish_reason: _finish, failure_status: _status, ...report } = r;
  return report;
}

export function totalsOf(records: readonly FragmentRecord[], wallMs: number): FusionTotals {
  const sum = (pick: (r: FragmentRecord) => number) => records.reduce((s, r) => s + pick(r), 0);
  return {
    fragments: records.length,
    ok: records.filter((r) => r.status === "ok").length,
    failed: records.filter((r) => r.status !== "ok").length,
    cache_hits: records.filter((r) => r.status === "ok" && r.cache !== "miss").length,
    prompt_tokens: sum((r) => r.prompt_tokens),
    completion_tokens: sum((r) => r.completion_tokens),
    cost_usd: Math.round(sum((r) => r.cost_usd) * 1e9) / 1e9,
    wall_ms: wallMs,
    serial_ms: sum((r) => r.latency_ms),
  };
}

export function buildReport(plan: FusionPlan, records: readonly FragmentRecord[], fusedBy: FusionReport["fused_by"], gaps: FusionGap[], wallMs: number): FusionReport {
  return { plan: planView(plan), fragments: records.map(toReport), fused_by: fusedBy, gaps, totals: totalsOf(records, wallMs) };
}
