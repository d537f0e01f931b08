// Deleted covenants leave the metrics index, so a scrape's fan-out follows the covenants that
// exist; what they added to deployment-wide series stays in the totals, which never go backwards.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { collectDeployment, emptySnapshot, inc, MetricsBook, METRICS, METRICS_INDEX_NAME, observe, outlivesCovenant, renderExposition, type Snapshot } from "../src/telemetry";
import { mapLimit } from "../src/concurrency";
import { createCovenant, deleteCovenant, eventually } from "./support/covenants";
import { call, strike } from "./support/gateway";

function finalOf(covenant: string): Snapshot {
  const s = emptySnapshot();
  inc(s, METRICS.strikes, { tenant: "dev", covenant, model: "m", pool: "p", outcome: "ok", error_type: "" }, 3);
  observe(s, METRICS.inferenceSeconds, { pool: "p", model: "m" }, 0.2);
  inc(s, METRICS.leaseHeldSeconds, { pool: "p" }, 4);
  return s;
}

describe("outlivesCovenant", () => {
  it("keeps deployment-wide counters and histograms, drops series labelled with the covenant and all gauges", () => {
    const s = finalOf("c1");
    const kept = outlivesCovenant(s);
    expect(Object.keys(kept.metrics).sort()).toEqual([METRICS.inferenceSeconds.name, METRICS.leaseHeldSeconds.name].sort());
  });
});

describe("MetricsIndex.retire", () => {
  it("drops the source, sums what outlives it and moves the epoch, in one step", async () => {
    const index = env.METRICS_INDEX.getByName(`retire-test-${crypto.randomUUID()}`);
    await index.register("dev:a");
    await index.register("dev:b");
    expect((await index.sources()).epoch).toBe(0);
    const afterA = await index.retire("dev:a", finalOf("a"));
    expect(afterA.names).toEqual(["dev:b"]);
    expect(afterA.epoch).toBe(1);
    const afterB = await index.retire("dev:b", finalOf("b"));
    expect(afterB.names).toEqual([]);
    expect(afterB.epoch).toBe(2);
    const text = renderExposition(afterB.retired);
    expect(text).toContain('homeskillet_lease_allocated_seconds_total{pool="p"} 8\n');
    expect(text).toContain('homeskillet_inference_duration_seconds_count{pool="p",model="m"} 2\n');
    expect(text).not.toContain("covenant=");
  });
});

describe("MetricsBook.retire", () => {
  const stub = () => env.METRICS_INDEX.getByName(`book-retire-${crypto.randomUUID()}`);

  it("clears the object's counters at once but reports them until the index has them", async () => {
    await runInDurableObject(stub(), async (_o, ctx) => {
      const handed: { name: string; final: Snapshot }[] = [];
      let reachable = false;
      const opts = {
        objectName: () => "dev:r1",
        register: async () => {},
        retire: async (name: string, final: Snapshot) => {
          if (!reachable) throw new Error("index unreachable");
          handed.push({ name, final });
        },
        gauges: () => null,
      };
      const book = new MetricsBook(ctx.storage.sql, opts);
      book.strikeFinished({ tenant: "dev", covenant: "r1", model: "m", pool: "p", outcome: "ok", allocated: false, inferMs: 100, costUsd: 0.5 });
      await book.settled();
      const before = renderExposition(book.snapshot());

      expect(await book.retire()).toBe(false);
      expect(book.retirementPending).toBe(true);
      // Nothing stored as live series any more, but the snapshot still carries them.
      expect(ctx.storage.sql.exec(`SELECT count(*) AS n FROM metric_series`).one().n).toBe(0);
      expect(renderExposition(book.snapshot())).toBe(before);
      // A restarted object remembers the hand-over it owes.
      expect(new MetricsBook(ctx.storage.sql, opts).retirementPending).toBe(true);

      reachable = true;
      expect(await book.finishRetirement()).toBe(true);
      expect(handed.map((h) => h.name)).toEqual(["dev:r1"]);
      expect(renderExposition(handed[0]!.final)).toBe(before);
      expect(renderExposition(book.snapshot())).toBe("");
      expect(new MetricsBook(ctx.storage.sql, opts).retirementPending).toBe(false);
    });
  });
});

describe("collectDeployment", () => {
  it("asks again when a covenant was deleted during the scrape, so nothing is counted twice or lost", async () => {
    const live: Record<string, Snapshot> = { "dev:a": finalOf("a"), "dev:b": finalOf("b") };
    let retired = emptySnapshot();
    let epoch = 0;
    let retireDuringScrape = true;
    const index = {
      sources: () => ({ names: Object.keys(live).sort(), retired, epoch }),
      epoch: () => epoch,
    };
    const result = await collectDeployment(index, (name) => ({
      metricsSnapshot: () => {
        const snap = live[name] ?? emptySnapshot();
        if (retireDuringScrape && name === "dev:a") {
          // dev:a answers, then is deleted before the scrape ends: its share moves to `retired`.
          retireDuringScrape = false;
          retired = outlivesCovenant(live["dev:a"]!);
          delete live["dev:a"];
          epoch++;
        }
        return snap;
      },
    }));
    expect(result.failed).toEqual([]);
    expect(result.names).toEqual(["dev:b"]);
    // Two covenants' lease time, each 4 s: counted once each.
    expect(renderExposition(result.snapshot)).toContain('homeskillet_lease_allocated_seconds_total{pool="p"} 8\n');
  });
});

describe("deleting covenants through the API", () => {
  it("takes them off the index and out of /metrics; a covenant created again starts from zero", async () => {
    const index = env.METRICS_INDEX.getByName(METRICS_INDEX_NAME);
    const ids = await mapLimit(Array.from({ length: 6 }, (_, i) => i), 3, async (i) => (await createCovenant({ id: `retire-${i}-${crypto.randomUUID().slice(0, 6)}` })).id);
    for (const id of ids) expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "count me", max_tokens: 4 })).status).toBe(200);
    // Registration runs in the background after a covenant's first event: wait for it.
    const listed = new Set(await eventually(() => index.list(), (names) => ids.every((id) => names.includes(`dev:${id}`))));
    for (const id of ids) expect(listed.has(`dev:${id}`), id).toBe(true);

    const scrape = async () => {
      const res = await call("/metrics");
      expect(res.status).toBe(200);
      return res.text();
    };
    const count = (text: string, re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
    const inferences = /^homeskillet_inference_duration_seconds_count\{[^}]*\} (\S+)$/gm;
    const before = await scrape();
    for (const id of ids) expect(before).toContain(`covenant="${id}"`);

    for (const id of ids) await deleteCovenant(id);
    const after = await scrape();
    const stillListed = new Set(await index.list());
    for (const id of ids) {
      expect(stillListed.has(`dev:${id}`), id).toBe(false);
      expect(after).not.toContain(`covenant="${id}"`);
      const left = await runInDurableObject(env.COVENANT.getByName(`dev:${id}`), (_o, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM metric_series`).one().n);
      expect(left).toBe(0);
    }
    // Deployment-wide counters kept the deleted covenants' share (other tests only add to them).
    expect(count(after, inferences)).toBeGreaterThanOrEqual(count(before, inferences));

    const again = ids[0]!;
    await createCovenant({ id: again });
    expect((await strike({ covenant_id: again, model: "gemma-2b-it", prompt: "count me again", max_tokens: 4 })).status).toBe(200);
    const fresh = await scrape();
    expect(count(fresh, new RegExp(`^homeskillet_strikes_total\\{[^}]*covenant="${again}"[^}]*\\} (\\S+)$`, "gm"))).toBe(1);
    expect(new Set(await eventually(() => index.list(), (names) => names.includes(`dev:${again}`))).has(`dev:${again}`)).toBe(true);
    await deleteCovenant(again);
  });
});
