// The OpenAI Agents SDK (@openai/agents, in Chat Completions mode) against Homeskillet: an agent
// with two tools run to its final output, on a Hosted.AI model and on the local node. The SDK
// needs Node 22 (its own openai dependency does), so the agent is a script run under
// `npx -p node@22` (test/node/agents/two-tool-agent.mjs) that prints what happened as JSON; the
// checks here use test/node/agent-support.ts's schemas and tool functions, not the script's word.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import {
  ARG_SCHEMAS,
  fits,
  HOSTED,
  runTool,
  TOOL_NAMES,
  type ToolName,
  agentTargets,
} from "./agent-support.ts";

const { gateway, keys } = inject("system");
const root = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = "test/node/agents/two-tool-agent.mjs";
/** The first run may download Node 22 through npx. */
const SPAWN_TIMEOUT_MS = 240_000;

const targets = agentTargets("agents-sdk", HOSTED.mistral);

interface AgentRun {
  finalOutput: string;
  toolCalls: { name: string; callId: string; arguments: string; output: string | undefined }[];
}

/** Runs the agent script under Node 22 and returns what it printed. */
function runAgent(env: Record<string, string>): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["-y", "-p", "node@22", "node", SCRIPT], {
      cwd: root,
      env: { ...process.env, npm_config_yes: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the agent script did not finish in ${SPAWN_TIMEOUT_MS} ms\nstderr: ${stderr.slice(-2000)}`));
    }, SPAWN_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`the agent script exited with ${code}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-4000)}`));
      try {
        resolve(JSON.parse(line) as AgentRun);
      } catch {
        reject(new Error(`the agent script printed no JSON result\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
      }
    });
  });
}

describe.each(targets)("OpenAI Agents SDK on $label", (target) => {
  it(
    "runs an agent with two tools to a final output quoting both results",
    async () => {
      const covenant = target.covenant();
      const result = await runAgent({
        HOMESKILLET_URL: gateway,
        HOMESKILLET_KEY: keys.dev,
        HOMESKILLET_MODEL: target.model,
        ...(covenant ? { HOMESKILLET_COVENANT: covenant } : {}),
      });
      expect(result.toolCalls.map((c) => c.name).sort()).toEqual([...TOOL_NAMES].sort());
      const expected: string[] = [];
      for (const call of result.toolCalls) {
        const args = JSON.parse(call.arguments) as unknown;
        const verdict = fits(ARG_SCHEMAS[call.name as ToolName], args);
        expect(verdict.ok, `${call.name} arguments ${call.arguments} fit its schema: ${verdict.issues}`).toBe(true);
        // What the tool returns for these arguments, computed here; the script's tools must agree.
        const returned = runTool(call.name, args);
        expect(call.output).toBe(returned);
        expected.push(returned);
      }
      expect(new Set(result.toolCalls.map((c) => c.callId)).size).toBe(result.toolCalls.length);
      expect(typeof result.finalOutput).toBe("string");
      for (const e of expected) expect(result.finalOutput).toContain(e);
    },
    SPAWN_TIMEOUT_MS + 30_000,
  );
});
