// Single-use tickets for the MCP WebSocket (POST /mcp/ticket, then /mcp?ticket=…): the way for
// clients that cannot set headers to connect without the API key in the URL.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { configuredPrincipal, recordOf } from "../src/auth";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../src/auth";
import { MAX_OUTSTANDING_TICKETS } from "../src/mcp/tickets";
import { setLogSink } from "../src/telemetry/log";
import { call, KEYS, ORIGIN } from "./support/gateway";
import { McpSocket, PROTOCOL_VERSION } from "./support/mcp";

interface Issued {
  ticket: string;
  expires_at: string;
  url_hint?: string;
}

async function issue(key: string | null = KEYS.dev, body?: unknown): Promise<Issued> {
  const res = await call("/mcp/ticket", { method: "POST", key, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

function openWithTicket(ticket: string, extra: string = ""): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/mcp?ticket=${encodeURIComponent(ticket)}${extra}`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "mcp" } });
}

const open: McpSocket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) if (!s.closed) s.close();
});

function accept(res: Response): McpSocket {
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  socket.accept();
  const session = new McpSocket(socket, res.headers.get("mcp-session-id")!);
  open.push(session);
  return session;
}

async function expectSpent(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toContain("Bearer");
  expect(await res.json()).toEqual({ error: { type: "unauthorized", message: "ticket already used or expired" } });
}

const ticketsOf = (tenant: string) => env.MCP_TICKETS.get(env.MCP_TICKETS.idFromName(tenant));
const b64url = (text: string) => btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

describe("POST /mcp/ticket", () => {
  it("issues a ticket for the key's tenant, uncached, with the WebSocket URL", async () => {
    const res = await call("/mcp/ticket", { method: "POST", key: KEYS.acme });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Issued;
    expect(body.ticket).toMatch(new RegExp(`^hsmt_${b64url("acme")}\\.[A-Za-z0-9_-]{43}$`));
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now() - 1000);
    expect(body.url_hint).toBe(`wss://homeskillet.test/mcp?ticket=${body.ticket}`);
  });

  it("takes an optional JSON body with ttl_s, and names ttl_s when it is out of bounds", async () => {
    await issue(KEYS.dev, {});
    const long = await issue(KEYS.dev, { ttl_s: 300 });
    const short = await issue(KEYS.dev, { ttl_s: 1 });
    expect(Date.parse(long.expires_at)).toBeGreaterThan(Date.parse(short.expires_at));
    for (const ttl_s of [0, -5, 301, 1.5, "30", null]) {
      const res = await call("/mcp/ticket", { method: "POST", body: JSON.stringify({ ttl_s }) });
      expect(res.status, JSON.stringify(ttl_s)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: "invalid_request", param: "ttl_s" } });
    }
    const unknown = await call("/mcp/ticket", { method: "POST", body: JSON.stringify({ ttl: 30 }) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("ttl");
    const broken = await call("/mcp/ticket", { method: "POST", body: "{ttl_s:" });
    expect(broken.status).toBe(400);
    const text = await call("/mcp/ticket", { method: "POST", body: "ttl_s=30", headers: { "content-type": "text/plain" } });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: { type: "unsupported_media_type", param: "content-type" } });
  });

  it("needs a tenant key in the Authorization header: not in the URL, and not a ticket", async () => {
    const none = await call("/mcp/ticket", { method: "POST", key: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { type: "unauthorized" } });
    expect((await call("/mcp/ticket", { method: "POST", key: "hsk_not_a_key" })).status).toBe(401);
    expect((await call(`/mcp/ticket?key=${KEYS.dev}`, { method: "POST", key: null })).status).toBe(401);
    const { ticket } = await issue();
    expect((await call("/mcp/ticket", { method: "POST", key: ticket })).status).toBe(401);
  });

  it("is in the OpenAPI document, behind the bearer scheme", async () => {
    const doc = (await (await call("/openapi.json", { key: null })).json()) as {
      paths: Record<string, Record<string, { security?: unknown; requestBody?: { required?: boolean }; responses: Record<string, unknown> }>>;
    };
    const op = doc.paths["/mcp/ticket"]?.post;
    expect(op?.security).toEqual([{ bearer: [] }]);
    expect(op?.requestBody?.required).toBeFalsy();
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(["201", "400", "401", "429"]));
  });

  it("refuses with 429 while the tenant holds the most unused tickets it may", async () => {
    const stub = ticketsOf("globex");
    for (let i = 0; i < MAX_OUTSTANDING_TICKETS; i++) expect((await stub.issue(`filler-${i}`, 60_000, recordOf(configuredPrincipal("globex")))).ok).toBe(true);
    try {
      const res = await call("/mcp/ticket", { method: "POST", key: KEYS.globex });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await res.json()).toMatchObject({ error: { type: "too_many_tickets" } });
    } finally {
      await runInDurableObject(stub, (_instance, state) => {
        state.storage.sql.exec(`DELETE FROM tickets WHERE hash LIKE 'filler-%'`);
      });
    }
    await issue(KEYS.globex);
  });

  it("sweeps expired tickets when it issues one", async () => {
    const stub = ticketsOf("globex");
    await stub.issue("stale-1", 60_000, recordOf(configuredPrincipal("globex")));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(`UPDATE tickets SET expires_at = 0 WHERE hash = 'stale-1'`);
    });
    await issue(KEYS.globex);
    const left = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec(`SELECT COUNT(*) AS n FROM tickets WHERE hash = 'stale-1'`).one().n,
    );
    expect(left).toBe(0);
  });
});

describe("GET /mcp?ticket=", () => {
  it("opens a session for the ticket's tenant, once", async () => {
    const { ticket } = await issue(KEYS.acme);
    const s = accept(await openWithTicket(ticket));
    const init = await s.request("initialize", { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "ticket-test", version: "1" } });
    expect(init.result).toMatchObject({ protocolVersion: PROTOCOL_VERSION, serverInfo: { name: "homeskillet" } });
    s.notify("notifications/initialized");
    expect(((await s.request("tools/list")).result?.tools as unknown[]).length).toBeGreaterThan(0);
    // The session is acme's: it lists acme's covenants, as a session opened with acme's key does.
    const listed = (await s.request("resources/list")).result?.resources as { uri: string }[];
    expect(listed.map((r) => r.uri)).toContain("covenant://default");

    await expectSpent(await openWithTicket(ticket));
  });

  it("lets only one of two simultaneous uses through", async () => {
    const { ticket } = await issue();
    const answers = await Promise.all([openWithTicket(ticket), openWithTicket(ticket)]);
    expect(answers.map((r) => r.status).sort()).toEqual([101, 401]);
    accept(answers.find((r) => r.status === 101)!);
    await expectSpent(answers.find((r) => r.status === 401)!);
  });

  it("refuses an expired ticket", async () => {
    const { ticket } = await issue(KEYS.dev, { ttl_s: 60 });
    // Expiry is made to have passed, rather than waited for.
    const hash = await sha256Hex(ticket);
    await runInDurableObject(ticketsOf("dev"), (_instance, state) => {
      state.storage.sql.exec(`UPDATE tickets SET expires_at = ? WHERE hash = ?`, Date.now() - 1, hash);
    });
    await expectSpent(await openWithTicket(ticket));
  });

  it("refuses a ticket whose tenant part names another tenant, and leaves the real one usable", async () => {
    const { ticket } = await issue(KEYS.acme);
    const secret = ticket.split(".")[1];
    for (const tenant of ["globex", "dev"]) await expectSpent(await openWithTicket(`hsmt_${b64url(tenant)}.${secret}`));
    accept(await openWithTicket(ticket));
  });

  it("writes nothing for a made-up ticket of a tenant that never asked for one", async () => {
    const ghost = `ghost-${crypto.randomUUID().slice(0, 8)}`;
    await expectSpent(await openWithTicket(`hsmt_${b64url(ghost)}.${"A".repeat(43)}`));
    const tables = await runInDurableObject(ticketsOf(ghost), (_instance, state) =>
      state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tickets'`).toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("refuses what is not a ticket, without echoing it", async () => {
    for (const bad of ["", "hsmt_", "nope", `hsmt_${b64url("acme")}.short`, `hsmt_${b64url("bad tenant!")}.${"A".repeat(43)}`, `hsk_x.${"A".repeat(43)}`]) {
      const res = await openWithTicket(bad);
      expect(res.status, bad).toBe(401);
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe("unauthorized");
      expect(body.error.message).toMatch(/^invalid ticket/);
      if (bad) expect(body.error.message).not.toContain(bad);
    }
  });

  it("takes a ticket alone: with a key beside it, the request is refused and the ticket kept", async () => {
    const { ticket } = await issue();
    const withKey = await openWithTicket(ticket, `&key=${KEYS.dev}`);
    expect(withKey.status).toBe(400);
    expect(await withKey.json()).toMatchObject({ error: { type: "invalid_request", param: "ticket" } });
    const withHeader = await SELF.fetch(`${ORIGIN}/mcp?ticket=${ticket}`, { headers: { upgrade: "websocket", authorization: `Bearer ${KEYS.dev}` } });
    expect(withHeader.status).toBe(400);
    // A bad subprotocol is refused before the ticket is looked at, so it is not used up either.
    const wrongProtocol = await SELF.fetch(`${ORIGIN}/mcp?ticket=${ticket}`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "graphql-ws" } });
    expect(wrongProtocol.status).toBe(400);
    accept(await openWithTicket(ticket));
  });

  it("is not a key: not a bearer key on /v1, nor on /mcp, nor a ?key=", async () => {
    const { ticket } = await issue();
    const v1 = await call("/v1/models", { key: ticket });
    expect(v1.status).toBe(401);
    expect(await v1.json()).toMatchObject({ error: { type: "unauthorized", message: "invalid API key" } });
    const asHeader = await SELF.fetch(`${ORIGIN}/mcp`, { headers: { upgrade: "websocket", authorization: `Bearer ${ticket}` } });
    expect(asHeader.status).toBe(401);
    const asKey = await SELF.fetch(`${ORIGIN}/mcp?key=${ticket}`, { headers: { upgrade: "websocket" } });
    expect(asKey.status).toBe(401);
    // None of that used it up.
    accept(await openWithTicket(ticket));
  });
});

describe("Streamable HTTP and tickets", () => {
  it("refuses ?ticket= on POST /mcp with 400 naming the field, and leaves the ticket unused", async () => {
    const { ticket } = await issue();
    const res = await SELF.fetch(`${ORIGIN}/mcp?ticket=${ticket}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; param: string; message: string } };
    expect(body.error).toMatchObject({ type: "invalid_request", param: "ticket" });
    expect(body.error.message).not.toContain(ticket);
    accept(await openWithTicket(ticket));
  });
});

describe("logs", () => {
  it("never carry a ticket or a key given in the URL", async () => {
    const lines: string[] = [];
    const restore = setLogSink((l) => lines.push(l));
    const consoled: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void consoled.push(args.map(String).join(" "))),
    );
    let issued: Issued;
    try {
      issued = await issue(KEYS.acme);
      accept(await openWithTicket(issued.ticket));
      await expectSpent(await openWithTicket(issued.ticket));
      const byKey = await SELF.fetch(`${ORIGIN}/mcp?key=${KEYS.globex}`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "mcp" } });
      accept(byKey);
      await SELF.fetch(`${ORIGIN}/mcp?ticket=${issued.ticket}`, { method: "POST", body: "{}" });
    } finally {
      restore();
      for (const spy of spies) spy.mockRestore();
    }
    const paths = lines.map((l) => JSON.parse(l) as { kind: string; path?: string }).filter((l) => l.kind === "request").map((l) => l.path);
    expect(paths).toEqual(expect.arrayContaining(["/mcp/ticket", "/mcp"]));
    const secret = issued!.ticket.split(".")[1]!;
    for (const text of [...lines, ...consoled]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(KEYS.globex);
      expect(text).not.toContain("ticket=");
      expect(text).not.toContain("key=");
    }
  });
});
