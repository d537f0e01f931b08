// `npm run bench -- scrape`: what a /metrics scrape costs per covenant, and that deleted
// covenants stop costing anything.
//
// One local system (Miniflare, direct sockets). The bench creates N covenants, runs one strike on
// each (so each has counted something and joined the metrics index), times `--scrapes` scrapes,
// deletes every covenant and times as many scrapes again. The cost per covenant is the slope
// between the scrape time with none of the bench's covenants and with all N live.
import { mapLimit } from "../src/concurrency";
import { withSystem } from "./lib/system";

interface Options {
  covenants: number;
  scrapes: number;
}

function parse(argv: string[]): Options {
  const opts: Options = { covenants: 200, scrapes: 15 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--covenants") opts.covenants = Math.max(1, Number(value)), i++;
    else if (flag === "--scrapes") opts.scrapes = Math.max(3, Number(value)), i++;
    else throw new Error(`unknown option ${flag} (--covenants N, --scrapes N)`);
  }
  return opts;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

export async function run(argv: string[]): Promise<void> {
  const opts = parse(argv);
  const devKey = "hsk_bench_scrape_0001";
  await withSystem({ mode: "miniflare", workers: ["gateway", "hostedai"], ports: { gateway: 0, hostedai: 0 }, quiet: true, devKey }, async (system) => {
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${system.gateway}${path}`, { ...init, headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json", ...init.headers } });
    const scrapes = async (label: string) => {
      const times: number[] = [];
      let lines = 0;
      for (let i = 0; i < opts.scrapes; i++) {
        const t0 = performance.now();
        const res = await api("/metrics");
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${label}: /metrics answered ${res.status}: ${text.slice(0, 200)}`);
        times.push(performance.now() - t0);
        lines = text.split("\n").length;
      }
      const p50 = quantile(times, 0.5);
      process.stderr.write(`${label}: p50 ${p50.toFixed(1)} ms, p95 ${quantile(times, 0.95).toFixed(1)} ms, ${lines} lines\n`);
      return p50;
    };

    // One strike on the default covenant first, so the baseline scrape has a source too.
    await api("/v1/strikes", { method: "POST", body: JSON.stringify({ model: "gemma-2b-it", prompt: "warm up", max_tokens: 2 }) });
    const empty = await scrapes("before");
    const ids = Array.from({ length: opts.covenants }, (_, i) => `scrape-${i}`);
    await mapLimit(ids, 8, async (id) => {
      const created = await api("/v1/covenants", { method: "POST", body: JSON.stringify({ id }) });
      if (created.status !== 201) throw new Error(`creating ${id}: ${created.status}`);
      const res = await api("/v1/strikes", { method: "POST", body: JSON.stringify({ covenant_id: id, model: "gemma-2b-it", prompt: "count me", max_tokens: 2 }) });
      if (res.status !== 200) throw new Error(`strike on ${id}: ${res.status} ${await res.text()}`);
    });
    const live = await scrapes(`${opts.covenants} covenants live`);
    await mapLimit(ids, 8, async (id) => {
      const res = await api(`/v1/covenants/${id}`, { method: "DELETE" });
      if (res.status !== 200) throw new Error(`deleting ${id}: ${res.status}`);
    });
    const deleted = await scrapes(`${opts.covenants} covenants deleted`);
    const perCovenant = (live - empty) / opts.covenants;
    process.stdout.write(
      `covenants=${opts.covenants} scrape_p50_ms_before=${empty.toFixed(1)} scrape_p50_ms_live=${live.toFixed(1)} ` +
        `scrape_p50_ms_after_delete=${deleted.toFixed(1)} per_covenant_ms=${perCovenant.toFixed(3)}\n`,
    );
  });
}
