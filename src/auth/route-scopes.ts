/**
 * Which credential and which scopes each route needs, read from the OpenAPI document itself: a
 * route's `security` is `[{ bearer: [<scopes>] }]` for tenant keys or `[{ operator: [] }]` for the
 * operator key. Enforcement and documentation cannot drift apart, and a new route is protected by
 * being described — the security tests are generated from the same document.
 */
import { SCOPES, type Scope } from "../schema/tenancy";

export type RouteAuth = { kind: "tenant"; scopes: Scope[] } | { kind: "operator" } | { kind: "public" };

interface RouteDefinition {
  type: string;
  route?: { method: string; path: string; security?: Record<string, string[]>[] };
}

interface CompiledRoute {
  method: string;
  pattern: RegExp;
  auth: RouteAuth;
}

const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

function authOf(security: Record<string, string[]>[] | undefined): RouteAuth {
  const requirement = security?.[0];
  if (!requirement) return { kind: "public" };
  if ("operator" in requirement) return { kind: "operator" };
  const scopes = requirement.bearer ?? [];
  const unknown = scopes.find((s) => !isScope(s));
  if (unknown) throw new Error(`route security names an unknown scope ${unknown}`);
  return { kind: "tenant", scopes: scopes as Scope[] };
}

function patternOf(path: string): RegExp {
  const escaped = path.split(/\{[^{}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join("[^/]+")}$`);
}

export class RouteScopes {
  private compiled: CompiledRoute[] | undefined;

  constructor(private readonly definitions: () => readonly RouteDefinition[]) {}

  /** What `method path` needs; undefined for a route the document does not describe. */
  lookup(method: string, path: string): RouteAuth | undefined {
    this.compiled ??= this.definitions()
      .filter((d) => d.type === "route" && d.route)
      .map((d) => ({ method: d.route!.method.toUpperCase(), pattern: patternOf(d.route!.path), auth: authOf(d.route!.security) }));
    const m = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
    return this.compiled.find((r) => r.method === m && r.pattern.test(path))?.auth;
  }
}
