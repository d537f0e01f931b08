// `npm start`: build, then run the gateway and both emulators under wrangler dev on the default
// ports until Ctrl-C.
import { buildAll } from "./build.mjs";
import { startSystem } from "./system.mjs";

const quiet = process.argv.includes("--quiet");

const started = Date.now();
await buildAll();
console.log(`build: done in ${Date.now() - started} ms; starting wrangler dev for each worker…`);

let system;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  try {
    await system?.stop();
  } finally {
    process.exit(code);
  }
}
// Signals arrive while startSystem is still waiting, too; its children are stopped either way.
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

try {
  system = await startSystem({ mode: "wrangler", quiet });
} catch (err) {
  console.error(`\nnpm start failed: ${err.message}`);
  process.exit(1);
}

const body = JSON.stringify({ model: "mistral-7b", prompt: "Explain vGPU slicing in one sentence.", max_tokens: 64 });
console.log(`
Homeskillet is running.

  gateway              ${system.gateway}
  Hosted.AI emulator   ${system.hostedai}
  local-node emulator  ${system.localNode}
  dev API key          ${system.devKey}
  dashboard            ${system.gateway}/dashboard/#key=${encodeURIComponent(system.devKey)}
                       (the dev key is the operator key while HOMESKILLET_OPERATOR_KEY is unset)

Try a strike:

  curl -s ${system.gateway}/v1/strikes -H "Authorization: Bearer ${system.devKey}" -H "Content-Type: application/json" -d '${body}'

Ctrl-C stops everything.
`);
