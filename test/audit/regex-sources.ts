// Every regular expression in the gateway's sources, found by parsing them with the TypeScript
// compiler (not by searching text): regular-expression literals, and `new RegExp(…)` / `RegExp(…)`
// calls. A call whose pattern is not a string literal cannot be checked statically; it is
// reported with `source: null` so the audit can insist on an explicit allow-list entry for it.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ts from "typescript";

export interface FoundRegex {
  /** Path relative to the repository root, with forward slashes. */
  file: string;
  line: number;
  /** The pattern, or null when it is computed at run time. */
  source: string | null;
  flags: string;
  /** The expression as written, for messages and allow-list keys. */
  text: string;
  kind: "literal" | "constructor";
}

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

/** A string literal's value (plain or a template without substitutions), else undefined. */
function literalString(node: ts.Expression | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  return undefined;
}

export function regexesIn(fileName: string, code: string, root: string): FoundRegex[] {
  const file = relative(root, fileName).split(sep).join("/");
  const sf = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FoundRegex[] = [];
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const text = node.getText(sf);
      const close = text.lastIndexOf("/");
      found.push({ file, line: lineOf(node), source: text.slice(1, close), flags: text.slice(close + 1), text, kind: "literal" });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === "RegExp") {
      const [pattern, flags] = node.arguments ?? [];
      const source = literalString(pattern);
      const flagText = flags === undefined ? "" : literalString(flags);
      found.push({
        file,
        line: lineOf(node),
        source: source ?? null,
        // Computed flags make the pattern unknowable as well.
        flags: flagText ?? "",
        text: node.getText(sf),
        kind: "constructor",
      });
      if (flagText === undefined) found[found.length - 1]!.source = null;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Every regular expression under `dir` (the gateway: src/). */
export function allRegexes(root: string, dir = "src"): FoundRegex[] {
  return sourceFiles(join(root, dir)).flatMap((f) => regexesIn(f, readFileSync(f, "utf8"), root));
}
