/**
 * executePlan: runs a plan's fragments through the caller's runFragment and fuses the results.
 * No storage and no fetch of its own — the covenant object passes its strike runner — so the
 * same executor runs in the object, in tests and in the benchmark's simulated time.
 *
 * Gaps: a failed fragment (after runFragment's own retries and fallbacks) either leaves a gap
 * the answer names — split parts under their heading, map-reduce parts in a closing note — or,
 * when the plan does not tolerate gaps, fails the request and stops the other fragments.
 */
import type { FusionGap, FusionReport } from "../schema";
import { concatWithHeadings, majorityVote, missingPartsNote } from "./fuse";
import { identify } from "./identity";
import { judgePrompt, reducePrompt } from "./prompts";
import { buildReport, type FragmentRecord } from "./report";
import { estimateTokens, fragmentPrompt } from "./request";
import { FragmentRunner, type ExecuteDeps } from "./run";
import type { Fragment, FuseStep, FusionPlan } from "./types";

export type FusionOutcome =
  | { ok: true; content: string; finish_reason: "stop" | "length"; report: FusionReport }
  | { ok: false; status: number; error: { type: string; message: string; missing?: FusionGap[] }; report: FusionReport };

type ModelStep = Extract<FuseStep, { kind: "reduce" | "judge" }>;

async function fuseFragment(plan: FusionPlan, step: ModelStep, input: string): Promise<Fragment> {
  const prompt = fragmentPrompt(plan.shared, input);
  const { sampling, tools, system } = plan.shared;
  const identity = await identify({ model: step.model, system, input, max_tokens: step.max_tokens, temperature: step.temperature, sampling: sampling ?? undefined, tools: tools ?? undefined });
  return {
    id: step.kind,
    role: step.kind,
    title: step.kind === "reduce" ? "Combine the notes of every part" : "Judge the ensemble's answers",
    model: step.model,
    label: null,
    system,
    input,
    prompt,
    prompt_tokens: estimateTokens(prompt),
    max_tokens: step.max_tokens,
    temperature: step.temperature,
    span: null,
    estimate_usd: step.estimate_usd,
    ...identity,
  };
}

const gapOf = (r: FragmentRecord): FusionGap => ({ fragment_id: r.id, title: r.title, reason: r.error ? `${r.error.type}: ${r.error.message}` : "failed" });

export async function executePlan(plan: FusionPlan, deps: ExecuteDeps): Promise<FusionOutcome> {
  const startedAt = deps.now();
  const steps = plan.fuse.kind === "reduce" || plan.fuse.kind === "judge" ? 1 : 0;
  const runner = new FragmentRunner(plan, deps, startedAt, plan.fragments.length + steps);
  const timer =
    deps.deadlineAt === undefined
      ? undefined
      : setTimeout(() => runner.halt({ status: 504, type: "deadline_exceeded", message: "the fused request passed its deadline" }), Math.max(0, deps.deadlineAt - deps.now()));
  const onCancel = () => runner.halt({ status: 499, type: "cancelled", message: "the client cancelled the request" });
  if (deps.signal?.aborted) onCancel();
  deps.signal?.addEventListener("abort", onCancel, { once: true });
  try {
    const leaves = await runner.runAll(plan.fragments, deps.concurrency ?? plan.concurrency, !plan.tolerate_gaps);
    return await fuse(plan, leaves, runner, deps);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    deps.signal?.removeEventListener("abort", onCancel);
  }
}

async function fuse(plan: FusionPlan, leaves: FragmentRecord[], runner: FragmentRunner, deps: ExecuteDeps): Promise<FusionOutcome> {
  const records = [...leaves];
  const wall = () => deps.now() - runner.startedAt;
  const gaps = leaves.filter((r) => r.status !== "ok").map(gapOf);
  const ok = leaves.filter((r) => r.status === "ok");
  const fail = (status: number, type: string, message: string): FusionOutcome => ({
    ok: false,
    status,
    error: { type, message, ...(gaps.length > 0 ? { missing: gaps } : {}) },
    report: buildReport(plan, records, { kind: plan.fuse.kind, model: null }, gaps, wall()),
  });
  const done = (content: string, finish: "stop" | "length", fusedBy: FusionReport["fused_by"]): FusionOutcome => ({
    ok: true,
    content,
    finish_reason: finish,
    report: buildReport(plan, records, fusedBy, gaps, wall()),
  });

  if (plan.fuse.kind === "none") {
    // The single fast path: the strike's answer, or its failure, exactly as the strike gave it.
    const only = leaves[0]!;
    if (only.status === "ok") return done(only.text ?? "", only.finish_reason ?? "stop", { kind: "none", model: only.model });
    const error = only.error ?? { type: "fragment_error", message: "the strike failed" };
    return { ok: false, status: only.failure_status ?? runner.stop?.status ?? 502, error, report: buildReport(plan, records, { kind: "none", model: null }, gaps, wall()) };
  }
  const stop = runner.stop;
  // A stop the plan can still answer through: a deadline with gaps tolerated and a fuser that needs no model.
  const canAnswerAnyway = stop?.type === "deadline_exceeded" && plan.tolerate_gaps && (plan.fuse.kind === "concat" || plan.fuse.kind === "vote");
  if (stop && !canAnswerAnyway) return fail(stop.status, stop.type, stop.message);
  if (ok.length === 0) {
    const first = leaves.find((r) => r.failure_status !== null);
    return fail(first?.failure_status ?? 502, "fusion_failed", `every fragment failed; the first: ${first?.error?.message ?? "no reason given"}`);
  }

  // An ensemble's answer is whole however many members answered, so a missing member is named beside it, not in it.
  const members = gaps.length > 0 ? `fused from ${ok.length} of ${leaves.length} answers; ${gaps.map((g) => g.title.replace(/^Answer from /, "")).join(", ")} failed` : undefined;
  const withMembers = (note?: string): { note?: string } => {
    const parts = [note, members].filter((p): p is string => p !== undefined);
    return parts.length > 0 ? { note: parts.join("; ") } : {};
  };

  switch (plan.fuse.kind) {
    case "concat": {
      const content = concatWithHeadings(leaves.map((r) => ({ title: r.title, text: r.status === "ok" ? r.text : null, ...(r.error ? { reason: r.error.message } : {}) })));
      return done(content, ok.some((r) => r.finish_reason === "length") ? "length" : "stop", { kind: "concat", model: null });
    }
    case "vote": {
      const vote = majorityVote(ok.map((r) => ({ id: r.id, text: r.text ?? "" })), plan.fuse.order)!;
      const winner = ok.find((r) => r.id === vote.winner.id)!;
      return done(winner.text ?? "", winner.finish_reason ?? "stop", { kind: "vote", model: winner.model, agreement: vote.agreement, ...withMembers() });
    }
    case "judge": {
      if (ok.length === 1) return done(ok[0]!.text ?? "", ok[0]!.finish_reason ?? "stop", { kind: "judge", model: null, ...withMembers("one answer arrived; there was nothing to judge") });
      const judge = await runner.runOne(await fuseFragment(plan, plan.fuse, judgePrompt(plan.fuse.task, ok.map((r) => r.text ?? ""))));
      records.push(judge);
      if (judge.status === "ok") return done(judge.text ?? "", judge.finish_reason ?? "stop", { kind: "judge", model: judge.model, ...withMembers() });
      gaps.push(gapOf(judge));
      if (!plan.tolerate_gaps || runner.stop) return fail(runner.stop?.status ?? judge.failure_status ?? 502, runner.stop?.type ?? "fusion_failed", `the judge step failed: ${judge.error?.message ?? "no reason given"}`);
      const order = plan.fragments.map((f) => f.id);
      const vote = majorityVote(ok.map((r) => ({ id: r.id, text: r.text ?? "" })), order)!;
      const winner = ok.find((r) => r.id === vote.winner.id)!;
      return done(winner.text ?? "", winner.finish_reason ?? "stop", { kind: "vote", model: winner.model, agreement: vote.agreement, ...withMembers(`the judge failed (${judge.error?.message ?? "no reason given"}); majority vote instead`) });
    }
    case "reduce": {
      const parts = leaves.map((r, i) => ({ index: i + 1, text: r.status === "ok" ? r.text : null, ...(r.error ? { reason: r.error.type } : {}) }));
      const reduce = await runner.runOne(await fuseFragment(plan, plan.fuse, reducePrompt(plan.fuse.task, parts)));
      records.push(reduce);
      if (reduce.status !== "ok") {
        gaps.push(gapOf(reduce));
        return fail(runner.stop?.status ?? reduce.failure_status ?? 502, runner.stop?.type ?? "fusion_failed", `the reduce step failed: ${reduce.error?.message ?? "no reason given"}`);
      }
      const missing = leaves.flatMap((r, i) => (r.status === "ok" ? [] : [{ index: i + 1, start: plan.fragments[i]?.span?.start ?? 0, end: plan.fragments[i]?.span?.end ?? 0 }]));
      const note = missing.length > 0 ? `\n\n${missingPartsNote(missing, leaves.length)}` : "";
      return done((reduce.text ?? "") + note, reduce.finish_reason ?? "stop", { kind: "reduce", model: reduce.model });
    }
  }
}
