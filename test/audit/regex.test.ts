// Every regular expression in src/ must be proved free of super-linear backtracking (ReDoS) by
// recheck. Client text reaches a good part of them — prompts, headers, model answers a client can
// steer — and one quadratic pattern on a 1 MiB body freezes the isolate for every tenant on it
// (a run of spaces in normaliseInput once cost 12 s of CPU). Text that needs a pattern recheck
// cannot prove (a lookbehind, a backreference) is better scanned by hand, as src/fusion/chars.ts
// does; an expression that must stay is listed in ALLOWED with its reason and the adversarial test
// that holds it to linear time.
import { fileURLToPath } from "node:url";
import { check, type Diagnostics, type Parameters } from "recheck";
import { describe, expect, it } from "vitest";
import { allRegexes, regexesIn, type FoundRegex } from "./regex-sources";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Deterministic analysis: a fixed seed, and step limits instead of the default wall-clock limits on
 * each fuzzing run (which a slow or busy machine would hit, calling a safe pattern vulnerable).
 * The overall timeout only turns a check that takes too long into "unknown", which fails.
 */
const PARAMS: Parameters = { randomSeed: 20_260_421, incubationTimeout: null, attackTimeout: null, timeout: 120_000 };

interface Allowance {
  file: string;
  /** The pattern's source, or the expression as written for one built at run time. */
  pattern: string;
  /** What recheck says of it. */
  status: "unknown" | "vulnerable" | "dynamic";
  reason: string;
  /** The test that holds it to linear time on adversarial input. */
  test: string;
}

/** Expressions recheck cannot call safe, each with why it may stay. */
const ALLOWED: readonly Allowance[] = [
  {
    file: "src/auth/route-scopes.ts",
    pattern: 'new RegExp(`^${escaped.join("[^/]+")}$`)',
    status: "dynamic",
    reason:
      "built once from the OpenAPI document's route templates (code, not client text): anchored literal text with [^/]+ for each {parameter}; " +
      "a parameter cannot cross the '/' after it, so a request path can match in one way only, read once",
    test: "test/adversarial-text.test.ts: RouteScopes.lookup",
  },
];

const allowanceFor = (r: FoundRegex) => ALLOWED.find((a) => a.file === r.file && a.pattern === (r.source ?? r.text));

function describeDiagnostics(d: Diagnostics): string {
  if (d.status === "vulnerable") return `vulnerable (${d.complexity.type}${d.complexity.type === "polynomial" ? `, degree ${d.complexity.degree}` : ""}); attack: ${d.attack.pattern}`;
  if (d.status === "unknown") return `unknown (${d.error.kind}${"message" in d.error ? `: ${d.error.message}` : ""})`;
  return "safe";
}

const found = allRegexes(root);

describe("regular expressions in src/", () => {
  it("are all found: the parser sees literals and RegExp constructors", () => {
    // A walker that silently found nothing would pass every check below.
    expect(found.length).toBeGreaterThan(30);
    expect(found.some((r) => r.file === "src/telemetry/trace-context.ts" && r.source?.startsWith("^([0-9a-f]{2})-"))).toBe(true);
    const sample = regexesIn(`${root}/src/sample.ts`, 'const a = /x+y/gi; const b = new RegExp("a|b", "m"); const c = RegExp(pattern); const d = "/not a regex/";', root);
    expect(sample.map((r) => [r.kind, r.source, r.flags])).toEqual([
      ["literal", "x+y", "gi"],
      ["constructor", "a|b", "m"],
      ["constructor", null, ""],
    ]);
  });

  it("would refuse a quadratic pattern such as /[ \\t]+$/m", async () => {
    const [r] = regexesIn(`${root}/src/sample.ts`, 'export const strip = (s: string) => s.replace(/[ \\t]+$/m, "");', root);
    expect(r?.source).toBe("[ \\t]+$");
    const d = await check(r!.source!, r!.flags, PARAMS);
    expect(d.status).toBe("vulnerable");
  });

  it("has no stale allowances", () => {
    for (const a of ALLOWED) expect(found.some((r) => a.file === r.file && a.pattern === (r.source ?? r.text)), `${a.file}: ${a.pattern}`).toBe(true);
  });

  for (const r of found) {
    const allowed = allowanceFor(r);
    it(`${r.file}:${r.line} ${r.text.length > 80 ? `${r.text.slice(0, 77)}...` : r.text} is ${allowed ? `allowed (${allowed.status})` : "safe"}`, async () => {
      if (r.source === null) {
        expect(allowed?.status, `${r.file}:${r.line}: ${r.text} is built at run time, so it cannot be checked; use a literal, or allow it with a reason and an adversarial test`).toBe("dynamic");
        return;
      }
      const d = await check(r.source, r.flags, PARAMS);
      if (allowed) {
        expect(d.status, `${r.file}:${r.line}: ${describeDiagnostics(d)}`).toBe(allowed.status);
        expect(allowed.reason.length).toBeGreaterThan(0);
        expect(allowed.test.length).toBeGreaterThan(0);
        return;
      }
      expect(d.status, `${r.file}:${r.line}: ${r.text} is ${describeDiagnostics(d)}; rewrite it as a linear scan or a pattern recheck proves safe`).toBe("safe");
    });
  }
});
