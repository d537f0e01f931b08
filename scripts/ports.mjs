// Free loopback ports for the workers, emulators and self-hosted gateways this project starts.
//
// A port is chosen, closed, then bound again by another process, so a window remains. Asking
// the kernel for port 0 hands out ports from the ephemeral range, the same range every outgoing
// connection takes its local port from: on a busy machine (a test suite making thousands of
// loopback requests) the port is often taken again inside that window. Ports are therefore
// drawn below the ephemeral range, where only listeners that ask for them by number go.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 10_000;

/** The lowest port of the kernel's ephemeral range, or undefined where it cannot be read. */
function ephemeralLow() {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Binds `port` (0 = the kernel's choice) and closes it; the port bound, or undefined if taken. */
export function tryPort(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, host, () => {
      const { port: bound } = srv.address();
      srv.close(() => resolve(bound));
    });
  });
}

/** A port that was free on `host` a moment ago, drawn from below the ephemeral range. */
export async function freePort(host = "127.0.0.1") {
  const low = ephemeralLow();
  const below = low !== undefined ? low - LOWEST : 0;
  if (below >= 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await tryPort(LOWEST + Math.floor(Math.random() * below), host);
      if (port !== undefined) return port;
    }
  }
  const port = await tryPort(0, host);
  if (port === undefined) throw new Error(`no free port on ${host}`);
  return port;
}

/** Whether an error says an address was already in use (Node's, Miniflare's and wrangler's wording). */
export function isAddressInUse(err) {
  const text = `${err?.code ?? ""} ${err?.message ?? err ?? ""}`;
  return /EADDRINUSE|ERR_ADDRESS_IN_USE|[Aa]ddress already in use/.test(text);
}

/**
 * Whether a start that failed with `err` failed because one of `ports` was taken. The error may
 * not say so: Miniflare reports ERR_ADDRESS_IN_USE only when it has read workerd's complaint
 * before the runtime's exit, else a bare ERR_RUNTIME_FAILURE. So a port another process holds
 * now (the failed start has let its own go) counts too.
 */
export async function failedOnTakenPort(err, ports, host = "127.0.0.1") {
  if (isAddressInUse(err)) return true;
  for (const port of ports) if ((await tryPort(port, host)) === undefined) return true;
  return false;
}
