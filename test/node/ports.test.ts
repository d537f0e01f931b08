// Ports for the processes the project starts: drawn below the kernel's ephemeral range, where
// outgoing connections never take them, and a collision that happens anyway recognised so the
// system chooses again.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { failedOnTakenPort, freePort, isAddressInUse, tryPort } from "../../scripts/ports.mjs";

const listening: Server[] = [];
afterEach(async () => {
  await Promise.all(listening.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      listening.push(srv);
      resolve(srv);
    });
  });
}

describe("free ports", () => {
  it("are bindable and lie below the ephemeral range", async () => {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(low!);
    }
    await Promise.all(ports.filter((p, i) => ports.indexOf(p) === i).map(listen));
  });

  it("tryPort reports a port someone holds as taken", async () => {
    const port = await freePort();
    await listen(port);
    expect(await tryPort(port)).toBeUndefined();
  });
});

describe("an address in use is recognised", () => {
  it("in Node's own error", async () => {
    const port = await freePort();
    await listen(port);
    const err = await listen(port).then(() => undefined, (e: unknown) => e);
    expect(isAddressInUse(err)).toBe(true);
  });

  it("after Miniflare fails on a taken socket, whether or not its error says so", async () => {
    // Miniflare says ERR_ADDRESS_IN_USE only when it read workerd's complaint before the runtime
    // exited; otherwise ERR_RUNTIME_FAILURE. Either way the port is found held by another.
    const { Miniflare, Log, LogLevel } = await import("miniflare");
    const port = await freePort();
    await listen(port);
    const mf = new Miniflare({
      modules: true,
      script: "export default { fetch() { return new Response('ok') } }",
      host: "127.0.0.1",
      port: 0,
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
      log: new Log(LogLevel.NONE),
      handleRuntimeStdio() {},
    });
    const err = await mf.ready.then(() => undefined, (e: unknown) => e);
    await mf.dispose().catch(() => {});
    expect(err).toBeDefined();
    expect(await failedOnTakenPort(err, [port])).toBe(true);
    expect(await failedOnTakenPort(new Error("The Workers runtime failed to start."), [port])).toBe(true);
  });

  it("but not when the ports are free and the error is another", async () => {
    const port = await freePort();
    expect(await failedOnTakenPort(new Error("The Workers runtime failed to start."), [port])).toBe(false);
    expect(await failedOnTakenPort(Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" }), [port])).toBe(true);
  });

  it("and not in other failures", () => {
    expect(isAddressInUse(new Error("connection refused"))).toBe(false);
    expect(isAddressInUse(undefined)).toBe(false);
  });
});
