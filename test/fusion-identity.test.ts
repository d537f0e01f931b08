import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, identify, looseForm, minhash, normaliseInput, ResultCache, SemanticCache, sha256Hex, similarity, SingleFlight, tenantKey, type IdentityParts } from "../src/fusion";
import data from "./fixtures/fusion-prompts.json";

const base: IdentityParts = { model: "mistral-7b", system: "You are terse.", input: data.passages[0]!.text, max_tokens: 256, temperature: 0.7 };

describe("normalisation", () => {
  it("folds line endings, trailing spaces, blank-line runs, zero-width characters and Unicode forms", () => {
    expect(normaliseInput("\uFEFF  Caf\u0065\u0301 \r\nline two\t \r\n\r\n\r\n\r\nend\u200B  \n")).toBe("Café\nline two\n\nend");
  });

  it("keeps case, indentation and spacing inside lines: they change what code means", () => {
    const code = "def f(x):\n    return x  *  2\n";
    expect(normaliseInput(code)).toBe("def f(x):\n    return x  *  2");
    expect(normaliseInput("US")).not.toBe(normaliseInput("us"));
  });

  it("serialises parameters canonically: key order, -0 and undefined do not matter", () => {
    expect(canonicalJson({ b: 1, a: [-0, { d: undefined, c: "x" }] })).toBe(canonicalJson({ a: [0, { c: "x" }], b: 1 }));
    expect(() => canonicalJson({ t: Number.NaN })).toThrow(/non-finite/);
  });
});

describe("fragment identity", () => {
  it("is SHA-256", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("separates every parameter that changes an answer, while the fingerprint follows the content alone", async () => {
    const arb = fc.record({
      input: fc.string({ minLength: 1, maxLength: 200 }),
      system: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      max_tokens: fc.integer({ min: 1, max: 8192 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const parts: IdentityParts = { model: "qwen-14b", ...a };
        const id = await identify(parts);
        expect(id.hash).toMatch(/^[0-9a-f]{64}$/);
        const variants: IdentityParts[] = [
          { ...parts, model: "qwen-32b" },
          { ...parts, system: `${a.system ?? ""} Answer in French.` },
          { ...parts, temperature: a.temperature === 0 ? 0.5 : 0 },
          { ...parts, max_tokens: a.max_tokens + 1 },
          { ...parts, tools: [{ name: "search" }] },
          { ...parts, sampling: { top_p: 0.9 } },
        ];
        for (const v of variants) {
          const other = await identify(v);
          expect(other.hash).not.toBe(id.hash);
          expect(other.fingerprint).toBe(id.fingerprint);
        }
        // The input counts only through its normal form: equal normal forms, equal hashes, and only then.
        const reflowedInput = `${a.input.replace(/\n/g, "\r\n")}  \n\n\n`;
        const reflowed = await identify({ ...parts, input: reflowedInput });
        expect(reflowed.hash === id.hash).toBe(normaliseInput(reflowedInput) === normaliseInput(a.input));
      }),
      { numRuns: 40 },
    );
  });

  it("gives the same content the same fingerprint under any model, and equal requests equal hashes", async () => {
    const a = await identify(base);
    const b = await identify({ ...base, model: "gemma-2b-it", input: `${base.input}\r\n` });
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.hash).not.toBe(a.hash);
    expect(await identify({ ...base, sampling: { top_p: 0.9, seed: 3 } })).toEqual(await identify({ ...base, sampling: { seed: 3, top_p: 0.9 } }));
    expect((await identify({ ...base, input: data.passages[1]!.text })).fingerprint).not.toBe(a.fingerprint);
  });

  it("keys every cache by tenant so that no tenant name can forge another's key", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (t1, h1, t2, h2) => {
        fc.pre(t1 !== t2 || h1 !== h2);
        expect(tenantKey(t1, h1)).not.toBe(tenantKey(t2, h2));
      }),
    );
  });
});

function clock(start = 1_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("result cache", () => {
  it("serves an entry until its TTL passes, then forgets it", () => {
    const c = clock();
    const cache = new ResultCache<string>({ maxEntries: 10, ttlMs: 5_000, now: c.now });
    cache.set("acme", "h1", "answer");
    c.t += 4_999;
    expect(cache.get("acme", "h1")).toBe("answer");
    c.t += 1;
    expect(cache.get("acme", "h1")).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set("acme", "h2", "short-lived", 10);
    c.t += 10;
    expect(cache.get("acme", "h2")).toBeUndefined();
  });

  it("never serves one tenant's entry to another, and clears one tenant alone", () => {
    const cache = new ResultCache<string>({ maxEntries: 10, ttlMs: 60_000, now: clock().now });
    cache.set("acme", "h", "acme's answer");
    expect(cache.get("globex", "h")).toBeUndefined();
    cache.set("globex", "h", "globex's answer");
    expect(cache.get("acme", "h")).toBe("acme's answer");
    cache.clear("acme");
    expect([cache.get("acme", "h"), cache.get("globex", "h")]).toEqual([undefined, "globex's answer"]);
  });

  it("evicts the least recently used entry past its size bound", () => {
    const cache = new ResultCache<number>({ maxEntries: 3, ttlMs: 60_000, now: clock().now });
    for (const h of ["a", "b", "c"]) cache.set("t", h, h.charCodeAt(0));
    cache.get("t", "a");
    cache.set("t", "d", 100);
    expect(["a", "b", "c", "d"].map((h) => cache.get("t", h) !== undefined)).toEqual([true, false, true, true]);
    expect(cache.size).toBe(3);
  });
});

describe("single-flight", () => {
  const never = () => new AbortController().signal;

  it("computes identical work in flight once and hands every caller the result", async () => {
    const flights = new SingleFlight<string>();
    let calls = 0;
    let release!: (v: string) => void;
    const work = () => (calls++, new Promise<string>((r) => (release = r)));
    const first = flights.run("k", never(), work);
    const second = flights.run("k", never(), work);
    const other = flights.run("other", never(), async () => "other");
    expect(flights.inFlight).toBe(2);
    release("done");
    expect(await Promise.all([first, second, other])).toEqual([
      { value: "done", shared: false },
      { value: "done", shared: true },
      { value: "other", shared: false },
    ]);
    expect(calls).toBe(1);
    expect(flights.inFlight).toBe(0);
    await flights.run("k", never(), async () => (calls++, "again"));
    expect(calls).toBe(2);
  });

  it("lets an impatient caller leave without cancelling the work for the others", async () => {
    const flights = new SingleFlight<string>();
    let seen: AbortSignal | undefined;
    let release!: (v: string) => void;
    const work = (s: AbortSignal) => ((seen = s), new Promise<string>((r) => (release = r)));
    const impatient = new AbortController();
    const a = flights.run("k", impatient.signal, work);
    const b = flights.run("k", never(), work);
    impatient.abort(new Error("deadline"));
    await expect(a).rejects.toThrow("deadline");
    expect(seen!.aborted).toBe(false);
    release("for b");
    expect(await b).toEqual({ value: "for b", shared: true });
  });

  it("cancels the work when every caller has given up, and passes a failure to every caller", async () => {
    const flights = new SingleFlight<string>();
    let seen: AbortSignal | undefined;
    const one = new AbortController();
    const p = flights.run("k", one.signal, (s) => ((seen = s), new Promise<string>(() => {})));
    one.abort(new Error("gone"));
    await expect(p).rejects.toThrow("gone");
    expect(seen!.aborted).toBe(true);
    expect(flights.inFlight).toBe(0);
    const failing = () => Promise.reject(new Error("upstream 503"));
    const results = await Promise.allSettled([flights.run("f", never(), failing), flights.run("f", never(), failing)]);
    expect(results.map((r) => r.status === "rejected" && (r.reason as Error).message)).toEqual(["upstream 503", "upstream 503"]);
  });
});

describe("semantic cache", () => {
  /** Exact Jaccard similarity of the 5-gram sets MinHash estimates. */
  function jaccard(a: string, b: string): number {
    const grams = (s: string) => new Set(Array.from({ length: Math.max(1, s.length - 4) }, (_, i) => s.slice(i, i + 5)));
    const x = grams(looseForm(a));
    const y = grams(looseForm(b));
    const shared = [...x].filter((g) => y.has(g)).length;
    return shared / (x.size + y.size - shared);
  }

  it("estimates Jaccard similarity of real prompts closely", () => {
    const texts = data.passages.slice(0, 6).map((p) => p.text);
    const pairs: [string, string][] = [];
    for (const t of texts) pairs.push([t, t.slice(0, Math.floor(t.length * 0.8))], [t, t.replace(/\bthe\b/g, "a")], [t, texts[0]!]);
    for (const [a, b] of pairs) expect(Math.abs(similarity(minhash(a), minhash(b)) - jaccard(a, b))).toBeLessThan(0.15);
  });

  it("reuses an answer for a re-typed prompt, within its tenant and scope only", () => {
    const c = clock();
    const cache = new SemanticCache<string>({ maxEntries: 100, ttlMs: 60_000, now: c.now });
    const prompt = data.questions.reasoning[1]!.text;
    cache.add("acme", "scope-1", prompt, "cached answer");
    const retyped = `  ${prompt.toUpperCase().replace("?", " ?!")}`;
    expect(cache.lookup("acme", "scope-1", retyped, 0.9)).toMatchObject({ value: "cached answer", similarity: 1 });
    expect(cache.lookup("acme", "scope-1", data.questions.reasoning[2]!.text, 0.9)).toBeUndefined();
    expect(cache.lookup("acme", "scope-2", retyped, 0.9)).toBeUndefined();
    expect(cache.lookup("globex", "scope-1", retyped, 0.9)).toBeUndefined();
    c.t += 60_000;
    expect(cache.lookup("acme", "scope-1", retyped, 0.9)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("respects the threshold: a lightly edited prompt matches at 0.9 but not at 0.95", () => {
    const cache = new SemanticCache<string>({ maxEntries: 100, ttlMs: 60_000, now: clock().now });
    const text = data.passages[2]!.text;
    cache.add("t", "s", text, "x");
    const edited = text.replace(/\bthe\b/g, "a");
    const sim = similarity(minhash(text), minhash(edited));
    expect(sim).toBeGreaterThanOrEqual(0.9);
    expect(sim).toBeLessThan(0.95);
    expect(cache.lookup("t", "s", edited, 0.9)?.value).toBe("x");
    expect(cache.lookup("t", "s", edited, 0.95)).toBeUndefined();
  });

  it("keeps at most maxEntries in all, dropping the oldest", () => {
    const cache = new SemanticCache<number>({ maxEntries: 2, ttlMs: 60_000, now: clock().now });
    ["one question here", "two question here", "three question here"].forEach((t, i) => cache.add("t", `s${i}`, t, i));
    expect(cache.size).toBe(2);
    expect(cache.lookup("t", "s0", "one question here", 0.9)).toBeUndefined();
    expect(cache.lookup("t", "s2", "three question here", 0.9)?.value).toBe(2);
  });
});
