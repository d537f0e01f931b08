/**
 * The one seam for what Hosted.AI's integration document leaves open.
 *
 * What the document states is implemented as written, elsewhere in this folder (`mapping.ts`,
 * `client.ts`): `POST /api/v1/allocations` with `{pool_id, requirements: {min_tflops,
 * min_vram_mb, max_vram_mb}, duration_seconds, preemptible}` and `metadata` carrying `tenant_id`
 * and `workload_id`; `POST /api/v1/inference/{allocation_id}` with `{model, prompt, max_tokens,
 * temperature}`; `GET /api/v1/allocations/{allocation_id}/metrics` answering `{gpu_utilization,
 * memory_used_mb, inference_count, average_latency_ms}`; and a JWT obtained by an auth request and
 * reused.
 *
 * Everything else the connector needs is an ASSUMPTION, and every one of them is in this file,
 * marked as such: the auth request's path and shapes, the pool listing, the allocation listing and
 * lookup, release, every response body the document does not show (the allocation granted, the
 * inference answer, the release receipt), the error shape, and streaming inference. Paths, field
 * names and the meanings of error types are data (`HostedAiAssumptions`), overridable per
 * deployment with `HOSTEDAI_ASSUMPTIONS` (a JSON object of the sections to change); a real
 * Hosted.AI whose bodies differ in shape, not only in names, means editing the readers below, and
 * nothing outside this file.
 */
import type { PoolTier } from "../../schema";
import type { PoolSnapshot } from "../../policy";
import { UpstreamError } from "../errors";
import type { UpstreamStreamEvent } from "../stream";
import { PROVIDER } from "./errors";

export interface HostedAiAssumptions {
  /**
   * ASSUMPTION — authentication. The document says Homeskillet "sends an auth request, receives a
   * JWT"; we assume `POST {path}` with the API key in a JSON body, answered with the token and
   * its lifetime in seconds.
   */
  auth: {
    path: string;
    apiKeyField: string;
    tokenField: string;
    expiresInField: string;
    /** When the answer states no lifetime: assume this many seconds. */
    defaultExpiresInS: number;
  };
  /** ASSUMPTION — the pool listing ("query_available_pools" in the document's algorithm): `GET {path}` → `{[listField]: WirePool[]}`. */
  pools: {
    path: string;
    listField: string;
    /**
     * A listing that states no preemptible price: preemptible capacity is assumed to cost this
     * share of the on-demand price (1: no discount assumed, so placement never prefers it for price).
     */
    preemptiblePriceFactor: number;
  };
  /**
   * ASSUMPTION — the caller's allocations: `GET {listPath}` → `{[listField]: WireAllocation[]}`
   * (live ones only), and `GET {getPath}` → one. Used to reconcile after a restart.
   */
  allocations: { listPath: string; listField: string; getPath: string };
  /** ASSUMPTION — release ("Release Resources" in the letter): `{method} {path}` → a ReleaseResponse. */
  release: { method: string; path: string };
  /**
   * ASSUMPTION — streaming inference: the document's inference body plus `{[flag]: true}`,
   * answered with server-sent events `token` / `done` / `error` (see hostedAiStreamEvents).
   */
  stream: { flag: string };
  /**
   * ASSUMPTION — errors: a JSON body with the error's type and message at these dotted field paths, and
   * `Retry-After` in seconds. Types listed in `capacityTypes` (with a 503, or 429) mean a full pool;
   * statuses in `goneStatuses` mean the allocation is gone (expired, released, preempted); a 401
   * means the JWT was refused.
   */
  errors: { typeAt: string; messageAt: string; capacityTypes: string[]; goneStatuses: number[]; preemptedTypes: string[] };
}

/** {allocation_id} in a path is replaced by the (encoded) allocation id. */
export const ALLOCATION_ID = "{allocation_id}";

export const DEFAULT_ASSUMPTIONS: HostedAiAssumptions = {
  auth: { path: "/api/v1/auth/token", apiKeyField: "api_key", tokenField: "access_token", expiresInField: "expires_in", defaultExpiresInS: 3600 },
  pools: { path: "/api/v1/pools", listField: "pools", preemptiblePriceFactor: 1 },
  allocations: { listPath: "/api/v1/allocations?status=active", listField: "allocations", getPath: `/api/v1/allocations/${ALLOCATION_ID}` },
  release: { method: "DELETE", path: `/api/v1/allocations/${ALLOCATION_ID}` },
  stream: { flag: "stream" },
  errors: {
    typeAt: "error.type",
    messageAt: "error.message",
    capacityTypes: ["capacity_exhausted"],
    goneStatuses: [404, 409, 410],
    preemptedTypes: ["allocation_preempted"],
  },
};

/**
 * The assumptions in force: the defaults, with the sections `HOSTEDAI_ASSUMPTIONS` (JSON) changes
 * merged field by field. A malformed override is a deployment error: it throws, naming the field.
 */
export function assumptionsFrom(json: string | object | undefined): HostedAiAssumptions {
  if (json === undefined || (typeof json === "string" && json.trim() === "")) return DEFAULT_ASSUMPTIONS;
  let raw: unknown = json;
  if (typeof json === "string") {
    try {
      raw = JSON.parse(json);
    } catch {
      throw new Error("HOSTEDAI_ASSUMPTIONS is not valid JSON");
    }
  }
  if (!isRecord(raw)) throw new Error("HOSTEDAI_ASSUMPTIONS must be a JSON object");
  const merged: Record<string, Record<string, unknown>> = {};
  for (const [section, defaults] of Object.entries(DEFAULT_ASSUMPTIONS) as [string, Record<string, unknown>][]) {
    const change = raw[section];
    if (change !== undefined && !isRecord(change)) throw new Error(`HOSTEDAI_ASSUMPTIONS.${section} must be an object`);
    merged[section] = { ...defaults };
    for (const [field, value] of Object.entries(change ?? {})) {
      const path = `HOSTEDAI_ASSUMPTIONS.${section}.${field}`;
      if (!(field in defaults)) throw new Error(`${path} is not a known setting`);
      const want = defaults[field];
      const ok = Array.isArray(want)
        ? Array.isArray(value) && value.every((v) => typeof v === typeof want[0])
        : typeof value === typeof want && (typeof value !== "number" || (Number.isFinite(value) && value >= 0));
      if (!ok) throw new Error(`${path} must be ${Array.isArray(want) ? `an array of ${typeof want[0]}s` : `a ${typeof want}`}`);
      if (typeof value === "string" && /[pP]ath$/.test(field) && !value.startsWith("/")) {
        throw new Error(`${path} must be a path starting with /`);
      }
      merged[section]![field] = value;
    }
  }
  for (const section of Object.keys(raw)) {
    if (!(section in DEFAULT_ASSUMPTIONS)) throw new Error(`HOSTEDAI_ASSUMPTIONS.${section} is not a known section`);
  }
  return merged as unknown as HostedAiAssumptions;
}

/** A path with the allocation id in place. */
export function allocationPath(template: string, allocationId: string): string {
  return template.split(ALLOCATION_ID).join(encodeURIComponent(allocationId));
}

// ---- response bodies the document does not show (ASSUMPTION: the emulator's shapes) ----

/** ASSUMPTION — a pool in the listing. */
export interface WirePool {
  id: string;
  /** The pool type: the document's `standard`, `premium`, `dedicated`. */
  tier: PoolTier;
  region: string;
  gpu_model: string;
  gpu_count: number;
  vram_mb_per_gpu: number;
  tflops_per_gpu: number;
  total_vram_mb: number;
  free_vram_mb: number;
  total_tflops: number;
  free_tflops: number;
  price_per_gpu_hour: number;
  /** What a GPU-hour costs in preemptible allocations (absent: see pools.preemptiblePriceFactor). */
  preemptible_price_per_gpu_hour?: number;
  status: "available" | "degraded" | "down";
}

/** ASSUMPTION — the answer to `POST /api/v1/allocations` (the document shows only the request). */
export interface WireAllocation {
  allocation_id: string;
  pool_id: string;
  gpu_id: string;
  status: "active" | "released" | "expired" | "preempted";
  vram_mb: number;
  tflops: number;
  preemptible: boolean;
  duration_seconds: number;
  created_at: string;
  expires_at: string;
  price_per_hour: number;
  metadata?: Record<string, string>;
}

/** ASSUMPTION — the answer to `POST /api/v1/inference/{allocation_id}` (the document shows only the request). */
export interface InferenceResponse {
  allocation_id: string;
  model: string;
  text: string;
  finish_reason: "stop" | "length";
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  latency_ms: number;
  /** What this inference was billed. */
  cost_usd: number;
}

/** ASSUMPTION — the release receipt: what holding the allocation was billed. */
export interface ReleaseResponse {
  allocation_id: string;
  status: string;
  billed_seconds: number;
  cost_usd: number;
}

function badResponse(what: string): UpstreamError {
  return new UpstreamError(PROVIDER, 200, "bad_response", `${PROVIDER} sent ${what}`);
}

/** The JWT and its lifetime from the auth answer. */
export function readToken(a: HostedAiAssumptions, body: unknown): { token: string; expiresInS: number } {
  const token = isRecord(body) ? body[a.auth.tokenField] : undefined;
  if (typeof token !== "string" || token === "") throw badResponse(`no ${a.auth.tokenField} in its token answer`);
  const expires = (body as Record<string, unknown>)[a.auth.expiresInField];
  return { token, expiresInS: typeof expires === "number" && expires > 0 ? expires : a.auth.defaultExpiresInS };
}

function listAt<T>(body: unknown, field: string, what: string, check: (item: unknown) => boolean): T[] {
  const list = isRecord(body) ? body[field] : undefined;
  if (!Array.isArray(list)) throw badResponse(`no ${field} list in its ${what} answer`);
  if (!list.every(check)) throw badResponse(`a malformed entry in its ${what} answer`);
  return list as T[];
}

/** The listed pools, each with a preemptible price (the listing's, or the assumed share of on-demand). */
export function readPools(a: HostedAiAssumptions, body: unknown): WirePool[] {
  return listAt<WirePool>(body, a.pools.listField, "pool listing", (p) => isRecord(p) && typeof p.id === "string").map((p) =>
    typeof p.preemptible_price_per_gpu_hour === "number" ? p : { ...p, preemptible_price_per_gpu_hour: p.price_per_gpu_hour * a.pools.preemptiblePriceFactor },
  );
}

export function readAllocations(a: HostedAiAssumptions, body: unknown): WireAllocation[] {
  return listAt<WireAllocation>(body, a.allocations.listField, "allocation listing", isAllocation);
}

export function readAllocation(body: unknown): WireAllocation {
  if (!isAllocation(body)) throw badResponse("an allocation without an allocation_id");
  return body;
}

export function readInference(body: unknown): InferenceResponse {
  if (!isRecord(body) || typeof body.text !== "string") throw badResponse("an inference answer without text");
  return body as unknown as InferenceResponse;
}

export function readRelease(body: unknown): ReleaseResponse {
  if (!isRecord(body) || typeof body.cost_usd !== "number") throw badResponse("a release receipt without cost_usd");
  return body as unknown as ReleaseResponse;
}

/** What the policy core reads of a listed pool. */
export function toPoolSnapshot(p: WirePool): PoolSnapshot {
  return {
    id: p.id,
    tier: p.tier,
    status: p.status,
    vramMbPerGpu: p.vram_mb_per_gpu,
    tflopsPerGpu: p.tflops_per_gpu,
    freeVramMb: p.free_vram_mb,
    freeTflops: p.free_tflops,
    pricePerGpuHour: p.price_per_gpu_hour,
    preemptiblePricePerGpuHour: p.preemptible_price_per_gpu_hour ?? p.price_per_gpu_hour,
  };
}

// ---- errors (ASSUMPTION: the shape, and what each status and type means) ----

/**
 * Turns a non-2xx answer into the connector's canonical UpstreamError: a full pool is
 * (503, `capacity_exhausted`), a preempted allocation (409, `allocation_preempted`), a refused
 * JWT 401, whatever the upstream calls them. A body that is not the assumed JSON (a proxy's or
 * tunnel's page, which names internal hosts) goes to the operator's log only.
 */
export async function hostedAiErrorFrom(a: HostedAiAssumptions, res: Response): Promise<UpstreamError> {
  let type = `http_${res.status}`;
  let message = `${PROVIDER} answered ${res.status} ${res.statusText}`.trim();
  let detail: string | undefined;
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as unknown;
    const t = at(body, a.errors.typeAt);
    const m = at(body, a.errors.messageAt);
    if (typeof t === "string") type = t;
    if (typeof m === "string") message = m;
  } catch {
    if (text) detail = text.slice(0, 200);
  }
  const retryAfter = Number(res.headers.get("retry-after"));
  let status = res.status;
  if (a.errors.capacityTypes.includes(type)) {
    type = "capacity_exhausted";
    status = 503;
  } else if (a.errors.preemptedTypes.includes(type)) {
    type = "allocation_preempted";
    status = 409;
  } else if (a.errors.goneStatuses.includes(status) && ![404, 409, 410].includes(status)) {
    status = 410;
  }
  return new UpstreamError(PROVIDER, status, type, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined, detail);
}

// ---- streaming (ASSUMPTION: server-sent events token / done / error) ----

/**
 * The streaming inference events: `token`, then `done`, or `error`. A token event may carry the
 * usage and cost so far (as the emulator sends them, like vLLM's continuous usage): they are what
 * a stream that breaks was billed. Without them the gateway estimates that part's cost from the
 * slice's price and the time it streamed. A real Hosted.AI stream plugs in by mapping its own
 * events onto these.
 */
export function hostedAiStreamEvents(m: { event?: string; data: string }, a: HostedAiAssumptions = DEFAULT_ASSUMPTIONS): UpstreamStreamEvent[] {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(m.data) as Record<string, unknown>;
  } catch {
    return [{ type: "error", errorType: "bad_response", message: "stream event is not JSON" }];
  }
  switch (m.event) {
    case "token": {
      const usage = data.usage as InferenceResponse["usage"] | undefined;
      return [
        {
          type: "token",
          text: String(data.text ?? ""),
          ...(usage && typeof usage.completion_tokens === "number" ? { usage } : {}),
          ...(typeof data.cost_usd === "number" ? { costUsd: data.cost_usd } : {}),
        },
      ];
    }
    case "done":
      return [
        {
          type: "done",
          finishReason: data.finish_reason === "length" ? "length" : "stop",
          usage: data.usage as InferenceResponse["usage"],
          costUsd: typeof data.cost_usd === "number" ? data.cost_usd : undefined,
        },
      ];
    case "error": {
      const t = at(data, a.errors.typeAt);
      const msg = at(data, a.errors.messageAt);
      const type = typeof t === "string" ? t : "upstream_error";
      return [
        {
          type: "error",
          errorType: a.errors.preemptedTypes.includes(type) ? "allocation_preempted" : a.errors.capacityTypes.includes(type) ? "capacity_exhausted" : type,
          message: typeof msg === "string" ? msg : "the upstream ended the stream with an error",
        },
      ];
    }
    default:
      return [];
  }
}

// ---- helpers ----

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isAllocation(v: unknown): v is WireAllocation {
  return isRecord(v) && typeof v.allocation_id === "string" && v.allocation_id !== "";
}

/** The value at a dotted path (`error.type`), or undefined. */
function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split(".")) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}
