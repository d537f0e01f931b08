#!/usr/bin/env node
// Makes sure a real Prometheus server is on this machine for test/node/prometheus.test.ts, which
// scrapes the gateway's /metrics with it. Installs Debian's `prometheus` package only when that is
// safe to do unasked: running as root, apt-get available, binary missing. Otherwise it says why it
// skipped and exits 0 — the test then reports itself skipped rather than failing the whole run.
import { spawnSync } from "node:child_process";

const log = (msg) => console.log(`ensure-prometheus: ${msg}`);

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function run(cmd, args) {
  log(`running ${cmd} ${args.join(" ")}`);
  const res = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return res.status === 0;
}

function main() {
  if (onPath("prometheus")) return log("prometheus is already installed");
  if (process.platform !== "linux") return log(`skipped: not Linux (${process.platform}); install Prometheus yourself to run its test`);
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return log("skipped: not running as root; run `apt-get install -y prometheus` to enable the Prometheus scrape test");
  if (!onPath("apt-get")) return log("skipped: no apt-get on this system; install Prometheus yourself to run its test");
  // The package lists may be absent (fresh container): try as is, refresh once on failure.
  const args = ["install", "-y", "--no-install-recommends", "prometheus"];
  if (!run("apt-get", args) && !(run("apt-get", ["update"]) && run("apt-get", args))) {
    return log("skipped: apt-get could not install prometheus (see its output above); the Prometheus test will be skipped");
  }
  // The Debian package starts a system service on :9090 where an init system runs; the test
  // runs its own server on a free port, so that service is neither needed nor touched.
  log(onPath("prometheus") ? "prometheus installed" : "apt-get succeeded but no prometheus binary is on PATH");
}

main();
