// The covenant object's durable fusion caches: entries outlive the object that wrote them (a
// Durable Object is evicted after a short idle spell), expire on time, stay within their bound,
// never cross tenants, and go with the covenant.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { covenantObjectName } from "../src/covenant";
import { SqlResultCache, SqlSemanticCache, type CacheLimits } from "../src/covenant/fusion-cache";
import type { FragmentSuccess } from "../src/fusion";
import { StrikeResponse } from "../src/schema";
import { createCovenant, deleteCovenant } from "./support/covenants";
import { strike } from "./support/gateway";

const answer = (text: string): FragmentSuccess => ({
  ok: true,
  text,
  model: "mistral-7b",
  pool_id: "standard-us-east",
  allocation_id: "alloc_1",
  usage: { prompt_tokens: 3, completion_tokens: 5 },
  cost_usd: 0.0001,
  finish_reason: "stop",
});

function freshObject() {
  return env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", `cache-${crypto.randomUUID()}`)));
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("durable result cache", () => {
  it("serves an entry to a later instance over the same storage, until its TTL passes", async () => {
    await runInDurableObject(freshObject(), (_obj, state) => {
      const c = clock();
      const limits = (): CacheLimits => ({ maxEntries: 10, ttlMs: 5_000 });
      new SqlResultCache(state.storage.sql, limits, c.now).set("acme", "h1", answer("forty-two"));
      // A new instance, as after an eviction: nothing in memory, the same SQLite.
      const later = new SqlResultCache(state.storage.sql, limits, c.now);
      c.t += 4_999;
      expect(later.get("acme", "h1")?.text).toBe("forty-two");
      c.t += 1;
      expect(later.get("acme", "h1")).toBeUndefined();
      expect(later.size).toBe(0);
    });
  });

  it("never serves one tenant's entry to another", async () => {
    await runInDurableObject(freshObject(), (_obj, state) => {
      const cache = new SqlResultCache(state.storage.sql, () => ({ maxEntries: 10, ttlMs: 60_000 }), clock().now);
      cache.set("acme", "same-hash", answer("acme's"));
      expect(cache.get("globex", "same-hash")).toBeUndefined();
      expect(cache.get("acme", "same-hash")?.text).toBe("acme's");
    });
  });

  it("evicts the least recently used entry past its bound, read from the limits at each write", async () => {
    await runInDurableObject(freshObject(), (_obj, state) => {
      const c = clock();
      let limits: CacheLimits = { maxEntries: 3, ttlMs: 60_000 };
      const cache = new SqlResultCache(state.storage.sql, () => limits, c.now);
      for (const h of ["a", "b", "c"]) {
        cache.set("acme", h, answer(h));
        c.t += 10;
      }
      expect(cache.get("acme", "a")?.text).toBe("a"); // a is now the most recent
      c.t += 10;
      cache.set("acme", "d", answer("d"));
      expect(cache.get("acme", "b")).toBeUndefined();
      expect(["a", "c", "d"].map((h) => cache.get("acme", h)?.text)).toEqual(["a", "c", "d"]);
      limits = { maxEntries: 1, ttlMs: 60_000 };
      c.t += 10;
      cache.set("acme", "e", answer("e"));
      expect(cache.size).toBe(1);
      expect(cache.get("acme", "e")?.text).toBe("e");
      limits = { maxEntries: 0, ttlMs: 60_000 };
      cache.set("acme", "f", answer("f"));
      expect(cache.get("acme", "f")).toBeUndefined();
    });
  });
});

describe("durable semantic cache", () => {
  const prompt = "What is the capital city of Australia, and why was it chosen over Sydney?";

  it("finds a re-typed prompt's answer from a later instance, within its tenant and scope only", async () => {
    await runInDurableObject(freshObject(), (_obj, state) => {
      const c = clock();
      const limits = () => ({ maxEntries: 10, ttlMs: 60_000 });
      new SqlSemanticCache(state.storage.sql, limits, c.now).add("acme", "scope-1", prompt, answer("Canberra"));
      const later = new SqlSemanticCache(state.storage.sql, limits, c.now);
      const retyped = "what is the capital city of australia and why was it chosen over sydney  ";
      const hit = later.lookup("acme", "scope-1", retyped, 0.9);
      expect(hit?.value.text).toBe("Canberra");
      expect(hit!.similarity).toBeGreaterThanOrEqual(0.9);
      expect(later.lookup("globex", "scope-1", retyped, 0.9)).toBeUndefined();
      expect(later.lookup("acme", "scope-2", retyped, 0.9)).toBeUndefined();
      expect(later.lookup("acme", "scope-1", "Write a haiku about GPUs.", 0.9)).toBeUndefined();
      c.t += 60_000;
      expect(later.lookup("acme", "scope-1", retyped, 0.9)).toBeUndefined();
    });
  });

  it("keeps at most maxEntries, dropping the oldest", async () => {
    await runInDurableObject(freshObject(), (_obj, state) => {
      const cache = new SqlSemanticCache(state.storage.sql, () => ({ maxEntries: 2, ttlMs: 60_000 }), clock().now);
      const prompts = ["Explain how a transformer attends to tokens.", "List three uses of a hash map.", "Why does ice float on water?"];
      prompts.forEach((p, i) => cache.add("acme", "s", p, answer(`a${i}`)));
      expect(cache.size).toBe(2);
      expect(cache.lookup("acme", "s", prompts[0]!, 0.95)).toBeUndefined();
      expect(cache.lookup("acme", "s", prompts[2]!, 0.95)?.value.text).toBe("a2");
    });
  });
});

describe("fused strikes and the durable cache, end to end", () => {
  const MULTI = ["Please answer these:", "1. What is the capital of Australia?", "2. Name three prime numbers."].join("\n");

  it("serves a repeat from the cache after the covenant object was reset, and forgets it when the covenant goes", async () => {
    const { id } = await createCovenant({});
    const ask = async () => StrikeResponse.parse(await (await strike({ covenant_id: id, prompt: MULTI, max_tokens: 12, fusion: { strategy: "split" } })).json());
    const first = await ask();
    expect(first.fusion!.fragments.map((f) => f.cache)).toEqual(["miss", "miss"]);

    // Reset the object, as an eviction would: the next request builds a new instance.
    const stub = env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", id)));
    await runInDurableObject(stub, (_obj, state) => state.abort("reset by the test")).catch(() => undefined);

    const again = await ask();
    expect(again.fusion!.fragments.map((f) => f.cache)).toEqual(["hit", "hit"]);
    expect(again.cost_usd).toBe(0);
    expect(again.output.content).toBe(first.output.content);

    await deleteCovenant(id);
    await createCovenant({ id });
    const afresh = await ask();
    expect(afresh.fusion!.fragments.map((f) => f.cache)).toEqual(["miss", "miss"]);
    await deleteCovenant(id);
  });

  it("serves a re-typed repeat from the semantic cache where the covenant turns it on", async () => {
    const { id } = await createCovenant({ fusion: { semantic_cache: true } });
    const ask = async (prompt: string) => StrikeResponse.parse(await (await strike({ covenant_id: id, prompt, max_tokens: 12, fusion: { strategy: "split" } })).json());
    const first = await ask(MULTI);
    expect(first.fusion!.fragments.map((f) => f.cache)).toEqual(["miss", "miss"]);
    // The first part re-punctuated (its exact hash differs, its model does not), the second as it was.
    const retyped = await ask(MULTI.replace("Australia?", "Australia ?"));
    expect(retyped.fusion!.fragments.map((f) => f.cache)).toEqual(["semantic", "hit"]);
    expect(retyped.fusion!.fragments[0]!.similarity).toBeGreaterThanOrEqual(0.9);
    expect(retyped.cost_usd).toBe(0);
    await deleteCovenant(id);
  });
});
