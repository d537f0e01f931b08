/**
 * Prometheus text exposition format 0.0.4 from a registry snapshot. Pure and deterministic:
 * metrics and series come out sorted, so two renders of the same snapshot are byte-identical.
 */
import type { HistogramValue, MetricSnapshot, Snapshot } from "./registry";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** HELP text escapes backslash and newline only (format 0.0.4). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Label values also escape the double quote. */
function escapeLabel(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** `{a="x",b="y"}`, leaving out empty values (to Prometheus an empty label is no label). */
function labelBlock(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts: string[] = [];
  names.forEach((n, i) => {
    const v = values[i] ?? "";
    if (v !== "") parts.push(`${n}="${escapeLabel(v)}"`);
  });
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function renderMetric(name: string, m: MetricSnapshot, out: string[]): void {
  out.push(`# HELP ${name} ${escapeHelp(m.help)}`);
  out.push(`# TYPE ${name} ${m.kind}`);
  for (const key of Object.keys(m.series).sort()) {
    const values = JSON.parse(key) as string[];
    const v = m.series[key]!;
    if (m.kind !== "histogram") {
      out.push(`${name}${labelBlock(m.labels, values)} ${formatValue(v as number)}`);
      continue;
    }
    const h = v as HistogramValue;
    const bounds = m.buckets ?? [];
    let cumulative = 0;
    bounds.forEach((b, i) => {
      cumulative += h.counts[i] ?? 0;
      out.push(`${name}_bucket${labelBlock(m.labels, values, ["le", formatValue(b)])} ${cumulative}`);
    });
    out.push(`${name}_bucket${labelBlock(m.labels, values, ["le", "+Inf"])} ${h.count}`);
    out.push(`${name}_sum${labelBlock(m.labels, values)} ${formatValue(h.sum)}`);
    out.push(`${name}_count${labelBlock(m.labels, values)} ${h.count}`);
  }
}

/** The whole snapshot as exposition text, ending in a newline as the format requires. */
export function renderExposition(snap: Snapshot): string {
  const out: string[] = [];
  for (const name of Object.keys(snap.metrics).sort()) renderMetric(name, snap.metrics[name]!, out);
  return out.length ? out.join("\n") + "\n" : "";
}
