// Number formatting for the dashboard: short, fixed rules, so a reader (and the browser test)
// can tell exactly which number an API value became.

const DASH = "–";

/** Dollars: four significant decimals below a cent (strikes cost fractions of a cent), else two. */
export function usd(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v === 0) return "$0";
  const abs = Math.abs(v);
  if (abs < 0.01) return `$${v.toPrecision(3)}`;
  return `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function int(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  return Math.round(v).toLocaleString("en-US");
}

/** A ratio (0–1) as a percentage with one decimal. */
export function pct(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  return `${(v * 100).toFixed(1)}%`;
}

export function ms(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  return `${Math.round(v).toLocaleString("en-US")} ms`;
}

/** Seconds of GPU time, in the largest unit that keeps the number readable. */
export function seconds(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v >= 3600) return `${(v / 3600).toFixed(1)} h`;
  if (v >= 60) return `${(v / 60).toFixed(1)} min`;
  return `${v.toFixed(1)} s`;
}

/** Bytes of GPU memory, in binary units (what VRAM is sold in). */
export function bytes(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = v;
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** A rate per minute, keeping small rates visible. */
export function perMin(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return DASH;
  return `${v >= 10 ? Math.round(v) : v.toFixed(1)}/min`;
}

export function clock(t: number): string {
  return new Date(t).toLocaleTimeString("en-GB", { hour12: false });
}
