#!/usr/bin/env node
// Makes sure a real browser is on this machine for test/node/dashboard.test.ts, which loads the
// operator dashboard in headless Chromium (driven by playwright-core, which downloads nothing).
// Installs Debian's `chromium` package only when that is safe to do unasked: running as root,
// apt-get available, binary missing. Otherwise it says why it skipped and exits 0 — the test then
// reports itself skipped rather than failing the whole run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where Debian's package puts the browser; the test launches exactly this binary. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

const log = (msg) => console.log(`ensure-chromium: ${msg}`);

function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function run(cmd, args) {
  log(`running ${cmd} ${args.join(" ")}`);
  const res = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return res.status === 0;
}

function main() {
  if (existsSync(CHROMIUM_PATH)) return log(`chromium is already installed (${CHROMIUM_PATH})`);
  if (process.platform !== "linux") return log(`skipped: not Linux (${process.platform}); the dashboard browser test needs ${CHROMIUM_PATH}`);
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return log("skipped: not running as root; run `apt-get install -y chromium` to enable the dashboard browser test");
  if (!onPath("apt-get")) return log("skipped: no apt-get on this system; install Chromium yourself to run the dashboard browser test");
  // Fonts come with the package's recommendations; without any the screenshot has no text.
  const args = ["install", "-y", "chromium", "fonts-dejavu-core"];
  // The package lists may be absent or stale (fresh container): try as is, refresh once on failure.
  if (!run("apt-get", args) && !(run("apt-get", ["update"]) && run("apt-get", args))) {
    return log("skipped: apt-get could not install chromium (see its output above); the dashboard browser test will be skipped");
  }
  log(existsSync(CHROMIUM_PATH) ? "chromium installed" : `apt-get succeeded but there is no ${CHROMIUM_PATH}`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
