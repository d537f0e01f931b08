/**
 * Usage export for chargeback: one line per hour × covenant × model × pool × key, with strikes,
 * tokens, GPU-slice seconds and cost, as CSV or JSON lines, streamed. A tenant exports its own
 * covenants (`usage:read`); the operator every tenant's. Lines come from ledger rows and hourly
 * roll-ups alike, so their totals equal the usage API's for the same period.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { mayUseCovenant, tenantKeyTable } from "../auth";
import type { UsageHour } from "../covenant/usage";
import type { Env } from "../env";
import { ErrorBody } from "../schema";
import { requireOperator } from "../telemetry";
import { REGISTRY_NAME } from "../tenancy";
import { newRouter, type AppEnv } from "./app-types";
import { covenantIdsOf, covenantStub } from "./stubs";

const DAY_MS = 86_400_000;
/** Each covenant object is asked for a week at a time, so no answer grows with the period. */
const WINDOW_MS = 7 * DAY_MS;
/** The longest period one export covers: the aggregates' default retention. */
const MAX_PERIOD_MS = 400 * DAY_MS;

export const EXPORT_COLUMNS = ["hour", "tenant", "covenant", "model", "pool", "key_id", "strikes", "prompt_tokens", "completion_tokens", "gpu_slice_seconds", "cost_usd"] as const;

const Timestamp = z.string().datetime({ offset: true });
const ExportQuery = z
  .object({
    from: Timestamp.openapi({ description: "Start (inclusive); hours that start at or after it count." }),
    to: Timestamp.optional().openapi({ description: "End (exclusive); now by default." }),
    format: z.enum(["csv", "jsonl"]).optional().openapi({ description: "csv (default) or jsonl" }),
  })
  .strict();

const exportResponses = (who: string) => ({
  200: {
    description: `Streamed lines: ${EXPORT_COLUMNS.join(", ")}`,
    content: { "text/csv": { schema: z.string() }, "application/x-ndjson": { schema: z.string() } },
  },
  400: { description: "Invalid query (the error names the field)", content: { "application/json": { schema: ErrorBody } } },
  401: { description: `Missing or invalid ${who}`, content: { "application/json": { schema: ErrorBody } } },
});

const tenantExportRoute = createRoute({
  method: "get",
  path: "/v1/usage/export",
  summary: "Usage for chargeback: one line per hour × covenant × model × pool × key (CSV or JSON lines, streamed)",
  security: [{ bearer: ["usage:read"] }],
  request: { query: ExportQuery },
  responses: { ...exportResponses("API key"), 403: { description: "The key lacks the usage:read scope", content: { "application/json": { schema: ErrorBody } } } },
});

const adminExportRoute = createRoute({
  method: "get",
  path: "/v1/admin/usage/export",
  summary: "Every tenant's usage for chargeback, as /v1/usage/export (operator key)",
  security: [{ operator: [] }],
  middleware: [requireOperator] as const,
  request: { query: ExportQuery },
  responses: exportResponses("operator key"),
});

interface Line extends UsageHour {
  tenant: string;
  covenant: string;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function render(line: Line, format: "csv" | "jsonl"): string {
  const row = {
    hour: new Date(line.hour).toISOString(),
    tenant: line.tenant,
    covenant: line.covenant,
    model: line.model,
    pool: line.pool_id,
    key_id: line.key_id,
    strikes: line.strikes,
    prompt_tokens: line.prompt_tokens,
    completion_tokens: line.completion_tokens,
    gpu_slice_seconds: line.allocation_seconds,
    cost_usd: line.cost_usd,
  };
  return format === "jsonl" ? `${JSON.stringify(row)}\n` : `${EXPORT_COLUMNS.map((c) => csvField(row[c])).join(",")}\n`;
}

/** The period asked for, or the 400 to answer. */
function period(c: Context<AppEnv>, q: z.infer<typeof ExportQuery>): { from: number; to: number } | Response {
  const from = Date.parse(q.from);
  const to = q.to ? Date.parse(q.to) : Date.now();
  const bad = (message: string, param: string) => Response.json({ error: { type: "invalid_request", message, param } }, { status: 400 });
  if (from >= to) return bad("`from` must be before `to`", "from");
  if (to - from > MAX_PERIOD_MS) return bad(`one export covers at most ${MAX_PERIOD_MS / DAY_MS} days; ask for several`, "from");
  return { from, to };
}


/**
 * Streams every line of the given tenants' covenants. A covenant that cannot be read ends the
 * export with an error line (`# error: …` in CSV, `{"error": …}` in JSON lines) rather than a file
 * that looks complete.
 */
function exportStream(env: Env, tenants: () => AsyncIterable<{ tenant: string; covenants: string[] }>, from: number, to: number, format: "csv" | "jsonl"): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const write = (text: string) => controller.enqueue(encoder.encode(text));
      if (format === "csv") write(`${EXPORT_COLUMNS.join(",")}\n`);
      try {
        for await (const { tenant, covenants } of tenants()) {
          for (const covenant of covenants) {
            for (let start = from; start < to; start += WINDOW_MS) {
              const hours = await covenantStub(env, tenant, covenant).usageHours(tenant, covenant, start, Math.min(to, start + WINDOW_MS));
              if (!hours.ok) break; // deleted meanwhile: nothing left to export
              for (const h of hours.value) write(render({ ...h, tenant, covenant }, format));
            }
          }
        }
      } catch (err) {
        const message = `the export stopped early: ${(err as Error)?.message ?? "a covenant could not be read"}; ask again`;
        write(format === "csv" ? `# error: ${message}\n` : `${JSON.stringify({ error: { type: "export_incomplete", message } })}\n`);
      }
      controller.close();
    },
  });
  const type = format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson";
  return new Response(body, { headers: { "content-type": type, "cache-control": "no-store", "content-disposition": `attachment; filename="usage.${format === "csv" ? "csv" : "jsonl"}"` } });
}

export const usageExport = newRouter()
  .openapi(tenantExportRoute, async (c) => {
    const q = c.req.valid("query");
    const p = period(c, q);
    if (p instanceof Response) return p;
    const tenant = c.get("tenant");
    const principal = c.get("principal");
    const covenants = (await covenantIdsOf(c.env, tenant)).filter((id) => mayUseCovenant(principal, id));
    return exportStream(c.env, async function* () { yield { tenant, covenants }; }, p.from, p.to, q.format ?? "csv");
  })
  .openapi(adminExportRoute, async (c) => {
    const q = c.req.valid("query");
    const p = period(c, q);
    if (p instanceof Response) return p;
    const env = c.env;
    const configured = [...new Set((await tenantKeyTable(env)).values())];
    const registry = env.TENANT_REGISTRY.getByName(REGISTRY_NAME);
    async function* tenants() {
      for (const tenant of configured.sort()) yield { tenant, covenants: await covenantIdsOf(env, tenant) };
      for (let after: string | undefined; ; ) {
        const page = await registry.list(after, 100);
        for (const t of page) if (!configured.includes(t.id)) yield { tenant: t.id, covenants: await covenantIdsOf(env, t.id) };
        if (page.length < 100) break;
        after = page[page.length - 1]!.id;
      }
    }
    return exportStream(env, tenants, p.from, p.to, q.format ?? "csv");
  });
