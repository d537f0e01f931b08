// No secret reaches a log line, an error message or an audit entry: every key issued in this file
// is used, misused, rotated and revoked, and everything captured is searched for each of them.
import { describe, expect, it } from "vitest";
import { setLogSink } from "../src/telemetry/log";
import { call, KEYS, strike } from "./support/gateway";
import { issueKey } from "./support/keys";

describe("secrets stay secret", () => {
  it("in logs, errors and audit entries, across the key lifecycle", async () => {
    const captured: string[] = [];
    const restore = setLogSink((line) => captured.push(line));
    const consoleLines: string[] = [];
    const original = { log: console.log, error: console.error, warn: console.warn };
    for (const k of ["log", "error", "warn"] as const) console[k] = (...args: unknown[]) => consoleLines.push(args.map(String).join(" "));
    const secrets: string[] = [KEYS.dev, KEYS.acme, KEYS.globex];
    const bodies: string[] = [];
    const keep = async (res: Response) => (bodies.push(await res.text()), res);
    try {
      const a = await issueKey({ name: "a", scopes: ["strike", "keys"] });
      const b = await issueKey({ name: "b", scopes: ["strike"] }, a.key);
      secrets.push(a.key, b.key);
      await keep(await strike({ model: "gemma-2b-it", prompt: "hi", max_tokens: 4 }, b.key));
      await keep(await call("/v1/keys", { key: b.key })); // 403
      await keep(await call("/v1/models", { key: `${b.key}x` })); // 401
      await keep(await call("/v1/keys", { method: "POST", key: a.key, body: JSON.stringify({ name: "c", scopes: ["usage:read"] }) })); // 403 exceeds parent
      const rotated = await keep(await call(`/v1/keys/${b.id}/rotate`, { method: "POST", key: a.key, body: JSON.stringify({ grace_s: 30 }) }));
      const newSecret = (JSON.parse(bodies[bodies.length - 1]!) as { key: string }).key;
      expect(rotated.status).toBe(200);
      await keep(await call("/v1/models", { key: b.key })); // old secret in grace
      await keep(await call(`/v1/keys/${b.id}`, { method: "DELETE", key: a.key }));
      await keep(await call("/v1/models", { key: newSecret })); // revoked: 401
      await keep(await call("/v1/chat/completions", { method: "POST", key: newSecret, body: JSON.stringify({ model: "gemma-2b-it", messages: [] }) }));
      await keep(await call("/mcp/ticket", { method: "POST", key: a.key }));
      await keep(await call("/v1/audit?limit=1000", { key: KEYS.dev }));
      await keep(await call("/metrics", { key: a.key })); // a tenant key on an operator route
      // Secrets shown to their owner by design: the issuing and rotating answers. Everything else must not carry one.
      const shownOnce = new Set([bodies[4]]);
      const exposed = [...captured, ...consoleLines, ...bodies.filter((b) => !shownOnce.has(b))].join("\n");
      expect(captured.length).toBeGreaterThan(5);
      for (const secret of [...secrets, newSecret]) {
        expect(exposed.includes(secret), `a secret ending …${secret.slice(-4)} was exposed`).toBe(false);
        // Not even the secret part alone (what follows the tenant tag).
        const tail = secret.slice(secret.indexOf(".") + 1);
        if (tail.length > 20) expect(exposed.includes(tail)).toBe(false);
      }
    } finally {
      restore();
      Object.assign(console, original);
    }
  });
});
