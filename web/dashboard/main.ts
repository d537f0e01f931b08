// The operator dashboard: asks for the operator key, polls GET /dashboard/api/summary, keeps the
// history points it has been sent and redraws. The page is static; everything it shows comes
// from that one endpoint.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { DashboardSummary, TrendPoint } from "../../src/dashboard/types";
import { byId, setText } from "./dom";
import { clock } from "./format";
import { renderCost, renderHealth, renderPerformance, renderResources } from "./panels";
import { Trends, type SpendSplitKey, type UnitCostSplitKey } from "./trends";

const SUMMARY_URL = "/dashboard/api/summary";
/** Kept for this tab only: closing it forgets the key. */
const KEY_STORAGE = "homeskillet.operatorKey";
/** One poll fans out to every covenant object, so not much more often than readings are kept. */
const POLL_MS = 5_000;

class AuthError extends Error {}

const state = {
  points: [] as TrendPoint[],
  last: undefined as DashboardSummary | undefined,
  timer: undefined as ReturnType<typeof setTimeout> | undefined,
  inFlight: false,
  trends: undefined as Trends | undefined,
};

/** `#key=…` in the address is taken once, stored, and removed so it is not left on screen. */
function takeKeyFromFragment(): void {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(KEY_STORAGE, decodeURIComponent(match[1]!));
  history.replaceState(null, "", location.pathname + location.search);
}

function setLive(ok: boolean, text: string): void {
  byId("live").dataset.live = ok ? "yes" : "no";
  setText("live-text", text);
}

function askForKey(message = ""): void {
  stopPolling();
  document.body.dataset.state = "auth";
  byId("auth").hidden = false;
  setText("key-error", message);
  byId<HTMLInputElement>("key-input").focus();
}

async function fetchSummary(key: string, since: number | undefined): Promise<DashboardSummary> {
  const url = since === undefined ? SUMMARY_URL : `${SUMMARY_URL}?since=${since}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, cache: "no-store" });
  const body = (await res.json().catch(() => null)) as (DashboardSummary & { error?: { message?: string } }) | null;
  if (res.status === 401 || res.status === 403) throw new AuthError(body?.error?.message ?? "the key was refused");
  if (!res.ok || !body) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/** Adds the new points and drops those past the retention the server keeps. */
function absorb(summary: DashboardSummary): void {
  const lastT = state.points[state.points.length - 1]?.t ?? -Infinity;
  state.points.push(...summary.history.points.filter((p) => p.t > lastT));
  const oldest = summary.t - summary.history.retention_s * 1000;
  state.points = state.points.filter((p) => p.t >= oldest);
}

function render(): void {
  const s = state.last;
  if (!s) return;
  const latest = state.points[state.points.length - 1];
  renderHealth(s, latest);
  renderResources(s);
  renderCost(s, latest);
  renderPerformance(s, latest);
  state.trends ??= new Trends();
  state.trends.draw(
    state.points,
    s.history.spacing_s,
    byId<HTMLSelectElement>("spend-split").value as SpendSplitKey,
    byId<HTMLSelectElement>("unit-cost-split").value as UnitCostSplitKey,
  );
  const n = state.points.length;
  setText(
    "history-note",
    `History: ${n} point${n === 1 ? "" : "s"} since ${n > 0 ? clock(state.points[0]!.t) : "now"}. A reading of the deployment's metrics is kept at most every ` +
      `${s.history.spacing_s} s while a dashboard is open or Prometheus scrapes /metrics, for ${s.history.retention_s / 60} minutes.`,
  );
}

async function poll(): Promise<void> {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) return askForKey();
  if (state.inFlight) return;
  state.inFlight = true;
  try {
    const since = state.points[state.points.length - 1]?.t;
    const summary = await fetchSummary(key, since);
    state.last = summary;
    absorb(summary);
    render();
    document.body.dataset.state = "live";
    document.body.dataset.updated = String(summary.t);
    setLive(true, `live · updated ${clock(summary.t)}`);
  } catch (err) {
    if (err instanceof AuthError) {
      sessionStorage.removeItem(KEY_STORAGE);
      return askForKey(`The gateway refused this key: ${err.message}`);
    }
    document.body.dataset.state = state.last ? "stale" : "error";
    setLive(false, `not updating: ${(err as Error).message}; retrying`);
  } finally {
    state.inFlight = false;
  }
  schedule();
}

function schedule(): void {
  clearTimeout(state.timer);
  // A poll that finished after the tab was hidden does not restart polling; showing it does.
  if (!document.hidden) state.timer = setTimeout(() => void poll(), POLL_MS);
}

function stopPolling(): void {
  clearTimeout(state.timer);
  state.timer = undefined;
}

function start(): void {
  takeKeyFromFragment();
  byId("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = byId<HTMLInputElement>("key-input").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    byId("auth").hidden = true;
    void poll();
  });
  byId("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    state.points = [];
    askForKey("Key forgotten.");
  });
  byId("spend-split").addEventListener("change", render);
  byId("unit-cost-split").addEventListener("change", render);
  // A hidden tab stops asking (each poll costs a fan-out) and catches up when shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopPolling();
    else if (byId("auth").hidden) void poll();
  });
  void poll();
}

start();
