// Builds the operator dashboard's page into .build/assets/, the Workers Static Assets directory
// of the gateway (wrangler.toml [assets]): TypeScript and CSS bundled and minified by esbuild,
// uPlot included, plus the HTML, the response headers and the bundled code's licence.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const ASSETS_DIR = join(root, ".build", "assets");

// Served with every file of the page (Workers Static Assets reads `_headers`). Everything the
// page loads comes from this origin; it may not be framed, and it sends no Referer anywhere.
const HEADERS = `/dashboard/*
  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'
  Referrer-Policy: no-referrer
  X-Content-Type-Options: nosniff
  X-Frame-Options: DENY
`;

export async function buildDashboard() {
  // Rebuilt from scratch: a file left over from an older build would still be served.
  rmSync(ASSETS_DIR, { recursive: true, force: true });
  const out = join(ASSETS_DIR, "dashboard");
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: "web/dashboard/main.ts" },
    outdir: out,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome109", "firefox115", "safari16"],
    logLevel: "warning",
    banner: { js: "/* Homeskillet operator dashboard. Includes uPlot (MIT licence, see licenses.txt). */" },
  });
  for (const file of ["index.html", "icon.svg"]) copyFileSync(join(root, "web", "dashboard", file), join(out, file));
  const uplotLicence = readFileSync(join(root, "node_modules", "uplot", "LICENSE"), "utf8");
  writeFileSync(join(out, "licenses.txt"), `uPlot (https://github.com/leeoniya/uPlot)\n\n${uplotLicence}`);
  writeFileSync(join(ASSETS_DIR, "_headers"), HEADERS);
}
