// The dashboard's numbers and tables, drawn from one summary. Charts are in trends.ts.
import type { BreakerRow, BreakerTargetRow, DashboardSummary, PoolRow, Quantiles, SpendRow, TrendPoint, UpstreamFailureRow } from "../../src/dashboard/types";
import { fillTable, setText, byId, type Column } from "./dom";
import { bytes, int, ms, pct, perMin, seconds, usd } from "./format";

const PHASE_LABEL = { open: "open", half_open: "half open", closed: "closed" } as const;

export function renderHealth(s: DashboardSummary, latest: TrendPoint | undefined): void {
  const badge = byId("health");
  badge.dataset.status = s.health.status;
  badge.textContent = { ok: "Healthy", degraded: "Degraded", incomplete: "Incomplete data" }[s.health.status];
  const reasons = byId("reasons");
  reasons.replaceChildren(...s.health.reasons.map((r) => Object.assign(document.createElement("li"), { textContent: r })));

  setText("stat-strikes", int(s.strikes.total));
  setText("stat-strikes-sub", `${int(s.strikes.ok)} ok · ${int(s.strikes.error)} failed · ${pct(s.strikes.error_rate)} all time`);
  setText("stat-error-rate", pct(latest?.error_rate ?? null));
  setText("stat-error-rate-sub", latest ? `now ${perMin(latest.strikes_per_min)} strikes, ${perMin(latest.errors_per_min)} failing` : "waiting for a second reading");
  const tripped = s.breakers.by_target.reduce((n, t) => n + t.open + t.half_open, 0);
  const total = s.breakers.by_target.reduce((n, t) => n + t.open + t.half_open + t.closed, 0);
  setText("stat-breakers", int(tripped));
  setText("stat-breakers-sub", `of ${int(total)} breakers that have seen a failure`);
  setText("stat-sources", int(s.sources.total));
  setText("stat-sources-sub", s.sources.failed > 0 ? `${int(s.sources.failed)} did not answer` : "all answered");

  const targetColumns: Column<BreakerTargetRow>[] = [
    { title: "Target", cell: (r) => r.target },
    { title: "Open", cell: (r) => int(r.open), numeric: true, className: (r) => (r.open > 0 ? "bad" : "") },
    { title: "Half open", cell: (r) => int(r.half_open), numeric: true, className: (r) => (r.half_open > 0 ? "warn" : "") },
    { title: "Closed", cell: (r) => int(r.closed), numeric: true },
  ];
  fillTable("table-breaker-targets", targetColumns, s.breakers.by_target, "No breaker has seen a failure.");
  const rowColumns: Column<BreakerRow>[] = [
    { title: "Target", cell: (r) => r.target },
    { title: "Phase", cell: (r) => PHASE_LABEL[r.phase], className: (r) => `phase-${r.phase}` },
    { title: "Tenant", cell: (r) => r.tenant },
    { title: "Covenant", cell: (r) => r.covenant },
  ];
  const more = s.breakers.omitted > 0 ? `${int(s.breakers.omitted)} more not shown` : undefined;
  fillTable("table-breakers", rowColumns, s.breakers.rows, "No breakers yet.", more);

  fillTable(
    "table-errors",
    [
      { title: "Error type", cell: (r: DashboardSummary["strikes"]["by_error_type"][number]) => r.type },
      { title: "Strikes", cell: (r) => int(r.count), numeric: true },
      { title: "Share of failures", cell: (r) => pct(r.share), numeric: true },
    ],
    s.strikes.by_error_type,
    "No strike has failed.",
  );
  fillTable(
    "table-attempts",
    [
      { title: "Target", cell: (r: DashboardSummary["attempt_failures"][number]) => r.target },
      { title: "Error type", cell: (r) => r.type },
      { title: "Attempts", cell: (r) => int(r.count), numeric: true },
    ],
    s.attempt_failures,
    "No attempt has failed.",
  );
  const callColumns: Column<UpstreamFailureRow>[] = [
    { title: "Operation", cell: (r) => r.operation },
    { title: "Kind", cell: (r) => r.kind, className: (r) => `kind-${r.kind}` },
    { title: "Pool", cell: (r) => r.pool || "–" },
    { title: "Calls", cell: (r) => int(r.count), numeric: true },
  ];
  fillTable("table-upstream", callColumns, s.upstream_failures, "No upstream call has failed.");
}

export function renderResources(s: DashboardSummary): void {
  const r = s.resources;
  setText("stat-leases", int(r.leases_live));
  setText("stat-leases-sub", r.pools.filter((p) => p.leases_live > 0).map((p) => `${p.pool} ${p.leases_live}`).join(" · ") || "none held");
  setText("stat-in-flight", int(r.in_flight));
  setText("stat-queue", int(r.queue_depth));
  const busy = r.pools.reduce((n, p) => n + p.busy_s, 0);
  const held = r.pools.reduce((n, p) => n + p.allocated_s, 0);
  setText("stat-utilisation", pct(held > 0 ? busy / held : null));
  setText("stat-utilisation-sub", `${seconds(busy)} busy of ${seconds(held)} allocated`);
  // Hosted.AI's own mean over every sampled live lease (each pool's mean weighted by its leases).
  const sampled = r.pools.reduce((n, p) => n + p.leases_sampled, 0);
  const upstream = r.pools.reduce((n, p) => n + (p.upstream_utilisation ?? 0) * p.leases_sampled, 0);
  const used = r.pools.reduce((n, p) => n + p.memory_used_bytes, 0);
  const granted = r.pools.reduce((n, p) => n + p.memory_allocated_bytes, 0);
  setText("stat-upstream-utilisation", pct(sampled > 0 ? upstream / sampled : null));
  const leases = `${int(sampled)} live lease${sampled === 1 ? "" : "s"}`;
  setText("stat-upstream-utilisation-sub", sampled > 0 ? `${leases} · memory ${bytes(used)} of ${bytes(granted)} granted` : "no live lease read yet");
  const columns: Column<PoolRow>[] = [
    { title: "Pool", cell: (p) => p.pool },
    { title: "Live leases", cell: (p) => int(p.leases_live), numeric: true },
    { title: "Released", cell: (p) => int(p.leases_released), numeric: true },
    { title: "Busy", cell: (p) => seconds(p.busy_s), numeric: true },
    { title: "Allocated", cell: (p) => seconds(p.allocated_s), numeric: true },
    { title: "Utilisation", cell: (p) => pct(p.utilisation), numeric: true },
    { title: "Last 5 min", cell: (p) => pct(p.utilisation_recent), numeric: true },
    { title: "Hosted.AI util", cell: (p) => pct(p.upstream_utilisation), numeric: true },
    { title: "Memory used", cell: (p) => (p.leases_sampled > 0 ? bytes(p.memory_used_bytes) : "–"), numeric: true },
    { title: "of granted", cell: (p) => (p.leases_sampled > 0 ? `${bytes(p.memory_allocated_bytes)} (${pct(p.memory_used_ratio)})` : "–"), numeric: true },
  ];
  fillTable("table-pools", columns, r.pools, "No lease has been held yet.");
}

export function renderCost(s: DashboardSummary, latest: TrendPoint | undefined): void {
  setText("stat-spend", usd(s.cost.total_usd));
  setText("stat-spend-sub", `${int(s.strikes.ok)} strikes charged`);
  setText("stat-spend-rate", latest ? `${usd(latest.spend_usd_per_min)}/min` : "–");
  setText("stat-tokens", int(s.cost.tokens.prompt + s.cost.tokens.completion));
  setText("stat-tokens-sub", `${int(s.cost.tokens.prompt)} prompt · ${int(s.cost.tokens.completion)} completion`);
  const columns = (title: string): Column<SpendRow>[] => [
    { title, cell: (r) => r.key },
    { title: "Spend", cell: (r) => usd(r.usd), numeric: true },
    { title: "Tokens", cell: (r) => int(r.tokens), numeric: true },
    { title: "Strikes", cell: (r) => int(r.strikes), numeric: true },
    { title: "$/1k tokens", cell: (r) => usd(r.usd_per_1k_tokens), numeric: true },
  ];
  fillTable("table-cost-tenant", columns("Tenant"), s.cost.by_tenant, "Nothing spent yet.");
  fillTable("table-cost-model", columns("Model"), s.cost.by_model, "Nothing spent yet.");
  fillTable("table-cost-pool", columns("Pool"), s.cost.by_pool, "Nothing spent yet.");
}

export function renderPerformance(s: DashboardSummary, latest: TrendPoint | undefined): void {
  setText("stat-request-p95", ms(latest?.request_p95_ms ?? null));
  setText("stat-p50", ms(latest?.inference_p50_ms ?? null));
  setText("stat-p95", ms(latest?.inference_p95_ms ?? null));
  setText("stat-p99", ms(latest?.inference_p99_ms ?? null));
  setText("stat-alloc-p95", ms(latest?.allocation_p95_ms ?? null));
  const columns = (title: string): Column<Quantiles & { key: string }>[] => [
    { title, cell: (r) => r.key },
    { title: "Count", cell: (r) => int(r.count), numeric: true },
    { title: "p50", cell: (r) => ms(r.p50_ms), numeric: true },
    { title: "p95", cell: (r) => ms(r.p95_ms), numeric: true },
    { title: "p99", cell: (r) => ms(r.p99_ms), numeric: true },
    { title: "Mean", cell: (r) => ms(r.mean_ms), numeric: true },
  ];
  fillTable("table-request-pool", columns("Pool"), s.latency.request_by_pool, "No request answered yet.");
  fillTable("table-request-model", columns("Model"), s.latency.request_by_model, "No request answered yet.");
  fillTable("table-latency-pool", columns("Pool"), s.latency.inference_by_pool, "No inference yet.");
  fillTable("table-latency-model", columns("Model"), s.latency.inference_by_model, "No inference yet.");
}
