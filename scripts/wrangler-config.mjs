// Reads wrangler.toml as wrangler itself resolves it, for one environment or the top level, in a
// child process: loading wrangler installs a SIGINT handler that exits at once, which would skip
// the caller's own cleanup (see scripts/system.mjs). Used by scripts/selfhost.mjs and the deploy
// checks (test/node/deploy-config.test.ts).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * @param {string} configPath
 * @param {string | undefined} env an `[env.<name>]` section, or undefined for the top level
 * @returns {{ name: string, main?: string, compatibility_date?: string, compatibility_flags: string[],
 *   vars: Record<string, unknown>, secrets?: { required?: string[] },
 *   durable_objects: { bindings: Array<{ name: string, class_name: string, script_name?: string }> },
 *   migrations: Array<{ tag: string, new_sqlite_classes?: string[], new_classes?: string[] }>,
 *   assets?: { directory?: string, binding?: string } }}
 */
export function readWranglerConfig(configPath, env) {
  const marker = "@@homeskillet-config@@";
  const script = `
    const wrangler = require("wrangler");
    const [config, env] = process.argv.slice(1);
    const c = wrangler.unstable_readConfig({ config, env: env || undefined }, { hideWarnings: true });
    const pick = ({ name, main, compatibility_date, compatibility_flags, vars, secrets, durable_objects, migrations, assets }) =>
      ({ name, main, compatibility_date, compatibility_flags, vars, secrets, durable_objects, migrations, assets });
    process.stdout.write(${JSON.stringify(marker)} + JSON.stringify(pick(c)));`;
  const r = spawnSync(process.execPath, ["-e", script, configPath, env ?? ""], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  const at = r.stdout?.lastIndexOf(marker) ?? -1;
  if (r.status !== 0 || at < 0) {
    throw new Error(`reading ${configPath}${env ? ` --env ${env}` : ""} failed (status ${r.status}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return JSON.parse(r.stdout.slice(at + marker.length));
}
