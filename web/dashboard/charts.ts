// Time-series charts on uPlot: one small wrapper that rebuilds a chart only when its set of
// series changes (a new pool or tenant appears) and otherwise just hands uPlot new data.
import uPlot from "uplot";

export interface SeriesSpec {
  label: string;
  values: (number | null)[];
  color?: string;
  /** "right" puts the series on a second axis with its own unit (an error rate beside counts). */
  axis?: "left" | "right";
  dash?: number[];
}

export interface ChartOptions {
  /** Formats left-axis ticks and legend values. */
  format: (v: number) => string;
  rightFormat?: (v: number) => string;
  height?: number;
  /** Keep 0 in view, so a quiet minute reads as quiet rather than as a flat line at the top. */
  fromZero?: boolean;
  /** The right axis's fixed range, e.g. [0, 1] for ratios. */
  rightRange?: [number, number];
  leftRange?: [number, number];
  /** Counts: ticks at whole numbers only. */
  integer?: boolean;
}

const PALETTE = ["#4cc9f0", "#f8961e", "#90be6d", "#f94144", "#c77dff", "#f9c74f", "#43aa8b", "#ff8fab", "#577590", "#e9edc9", "#9b5de5", "#00bbf9"];
const AXIS = { stroke: "#9aa4b2", grid: { stroke: "#262d3a", width: 1 }, ticks: { stroke: "#262d3a", width: 1 }, font: "11px system-ui, sans-serif" };
/** The time axis spans at least this much, so a young history reads in minutes, not milliseconds. */
const MIN_SPAN_S = 120;
const INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

const pad2 = (n: number) => String(n).padStart(2, "0");
/** Local 24-hour clock; seconds only when ticks are less than a minute apart. */
function timeTicks(_u: uPlot, ticks: number[], _axis: number, _space: number, incr: number): string[] {
  return ticks.map((t) => {
    const d = new Date(t * 1000);
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return incr < 60 ? `${hm}:${pad2(d.getSeconds())}` : hm;
  });
}

/** Room for the widest tick label, so long dollar amounts are not clipped. */
function axisSize(_u: uPlot, values: string[] | null): number {
  const widest = Math.max(0, ...(values ?? []).map((v) => v.length));
  return Math.max(40, Math.ceil(widest * 6.6) + 18);
}

/** A colour per key that stays the same however the keys are ordered or filtered. */
export function colorFor(key: string): string {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length]!;
}

export class TimeChart {
  private plot: uPlot | undefined;
  private signature = "";
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly host: HTMLElement,
    private readonly opts: ChartOptions,
  ) {
    this.resize.observe(host);
  }

  /** `x`: Unix seconds, oldest first; each series has one value (or null for a gap) per x. */
  update(x: number[], series: SeriesSpec[]): void {
    const signature = JSON.stringify(series.map((s) => [s.label, s.axis ?? "left", s.color ?? ""]));
    const data: uPlot.AlignedData = [x, ...series.map((s) => s.values)];
    if (!this.plot || signature !== this.signature) {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(series), data, this.host);
      this.signature = signature;
    } else {
      this.plot.setData(data);
    }
    showLatest(this.plot);
    // What the chart holds, for a reader's tools and the browser test: x points, and per series
    // how many are real values (not gaps).
    this.host.dataset.points = String(x.length);
    this.host.dataset.series = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, s.values.filter((v) => v != null).length])));
  }

  private fit(): void {
    if (!this.plot) return;
    const width = Math.floor(this.host.clientWidth);
    if (width > 0 && width !== this.plot.width) this.plot.setSize({ width, height: this.opts.height ?? 190 });
  }

  private options(series: SeriesSpec[]): uPlot.Options {
    const hasRight = series.some((s) => s.axis === "right");
    const range = (r: [number, number] | undefined, fromZero: boolean | undefined): uPlot.Scale["range"] =>
      r ? () => r : fromZero ? (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] : undefined;
    const fmt = (f: (v: number) => string) => (_u: uPlot, v: number | null) => (v == null ? "–" : f(v));
    return {
      width: Math.max(200, Math.floor(this.host.clientWidth) || 400),
      height: this.opts.height ?? 190,
      cursor: { points: { size: 6 } },
      legend: { live: true },
      // Off the chart, the legend shows the latest values rather than dashes.
      hooks: { setCursor: [(u) => u.cursor.idx == null && showLatest(u)] },
      scales: {
        // From the data itself: uPlot hands a range function no usable bounds for a single point.
        x: { time: true, range: xRange },
        y: { range: range(this.opts.leftRange, this.opts.fromZero ?? true) },
        ...(hasRight ? { right: { range: range(this.opts.rightRange, true) } } : {}),
      },
      axes: [
        { ...AXIS, space: 72, values: timeTicks },
        {
          ...AXIS,
          size: axisSize,
          values: (_u, ticks) => ticks.map((t) => this.opts.format(t)),
          ...(this.opts.integer ? { incrs: INTEGER_INCRS } : {}),
        },
        ...(hasRight
          ? [{ ...AXIS, scale: "right", side: 1 as const, size: axisSize, grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (this.opts.rightFormat ?? this.opts.format)(t)) }]
          : []),
      ],
      series: [
        { label: "time", value: (_u, v) => (v == null ? "–" : timeTicks(_u, [v], 0, 0, 1)[0]!) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length]!,
          width: 2,
          scale: s.axis === "right" ? "right" : "y",
          ...(s.dash ? { dash: s.dash } : {}),
          points: { show: x1Visible },
          value: fmt(s.axis === "right" ? (this.opts.rightFormat ?? this.opts.format) : this.opts.format),
        })),
      ],
    };
  }
}

function xRange(u: uPlot): uPlot.Range.MinMax {
  const xs = u.data[0] ?? [];
  const last = xs[xs.length - 1] ?? Date.now() / 1000;
  return [Math.min(xs[0] ?? last, last - MIN_SPAN_S), last];
}

function showLatest(u: uPlot): void {
  const n = u.data[0]?.length ?? 0;
  if (n > 0 && u.cursor.idx == null) u.setLegend({ idx: n - 1 });
}

// Points are drawn only while there are few of them: a single reading is otherwise invisible.
function x1Visible(u: uPlot): boolean {
  return (u.data[0]?.length ?? 0) <= 24;
}
