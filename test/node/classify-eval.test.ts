// The evaluation command end to end: a labelled file in, the compiled WebAssembly classifier run
// on it, and the report's last line in exactly the documented form.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

it("npm run eval:classifier prints per-label figures and ends with accuracy=… macro_f1=… n=…", () => {
  const dir = mkdtempSync(join(tmpdir(), "hs-eval-"));
  const file = join(dir, "sample.jsonl");
  const rows = [
    { text: "Write a Python function that returns the nth Fibonacci number.", label: "coding" },
    { text: "What is 17 multiplied by 23?", label: "math" },
    { text: "who wrote the novel pride and prejudice", label: "knowledge" },
    { text: "Pretend you are a pirate captain greeting new crew members.", label: "roleplay" },
  ];
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const run = spawnSync("npx", ["tsx", "scripts/eval-classifier.ts", file], { encoding: "utf8", timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  const lines = run.stdout.trim().split("\n");
  expect(lines.at(-1)).toMatch(/^accuracy=[01]\.\d{4} macro_f1=[01]\.\d{4} n=4$/);
  expect(run.stdout).toMatch(/coding/);
});
