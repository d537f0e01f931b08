import type { CovenantObject } from "./covenant";
import type { TenantDirectory, TenantRegistry } from "./tenancy";
import type { McpSession, McpTickets } from "./mcp";
import type { MetricsIndex, TracingEnv } from "./telemetry";
import type { KeyLimiter } from "./limits";

/** Bindings and configuration of the gateway worker (see wrangler.toml). */
export interface Env extends TracingEnv {
  COVENANT: DurableObjectNamespace<CovenantObject>;
  TENANTS: DurableObjectNamespace<TenantDirectory>;
  /** The deployment's tenant list and audit log (one object, `deployment`). */
  TENANT_REGISTRY: DurableObjectNamespace<TenantRegistry>;
  MCP_SESSION: DurableObjectNamespace<McpSession>;
  /** One per tenant: the tenant's unused MCP WebSocket tickets (src/mcp/tickets.ts). */
  MCP_TICKETS: DurableObjectNamespace<McpTickets>;
  METRICS_INDEX: DurableObjectNamespace<MetricsIndex>;
  /** One per limited key (`<tenant>:<key id>`): the key's rate, concurrency and dollar limits (src/limits). */
  KEY_LIMITER: DurableObjectNamespace<KeyLimiter>;
  /** The built static assets (the operator dashboard's page); served before the worker runs. */
  ASSETS?: Fetcher;
  HOSTEDAI_BASE_URL: string;
  HOSTEDAI_API_KEY?: string;
  /** JSON overrides of what the connector assumes where the integration document is silent (src/providers/hostedai/assumptions.ts). */
  HOSTEDAI_ASSUMPTIONS?: string;
  /** Optional service binding to a Hosted.AI deployment (the emulator in tests). */
  HOSTEDAI?: Fetcher;
  LOCAL_NODE_URL?: string;
  LOCAL_NODE?: Fetcher;
  /** How many strikes of one covenant may be on the local node at once (1–1024, default 128); the rest wait in turn. */
  LOCAL_NODE_MAX_CONCURRENCY?: string;
  LOCAL_NODE_ACCESS_CLIENT_ID?: string;
  LOCAL_NODE_ACCESS_CLIENT_SECRET?: string;
  /** JSON object: tenant id → API key (plain, or `sha256:<hex>` of the key). */
  HOMESKILLET_TENANT_KEYS?: string;
  /** A key for the tenant `dev`, for local development. */
  HOMESKILLET_DEV_KEY?: string;
  /**
   * Key for operator routes (`GET /metrics`, the dashboard). Must differ from every tenant key.
   * When unset, HOMESKILLET_DEV_KEY serves in local development only; elsewhere the routes are off.
   */
  HOMESKILLET_OPERATOR_KEY?: string;
  /** `development` for the local config; anything else (or unset) is a deployment with its stricter rules. */
  HOMESKILLET_ENV?: string;
  /** Days a covenant keeps each strike's ledger row before it rolls up into hourly aggregates (7). */
  HOMESKILLET_LEDGER_RAW_DAYS?: string;
  /** Days hourly usage aggregates are kept (400). */
  HOMESKILLET_LEDGER_AGGREGATE_DAYS?: string;
  /** Days audit entries are kept (400 by default). */
  HOMESKILLET_AUDIT_RETENTION_DAYS?: string;
  /** Seconds an isolate may keep using what it learned of an issued key (5 by default): the bound on revocation. */
  HOMESKILLET_KEY_CACHE_S?: string;
  /** Origins browsers may call the API from, comma-separated; unset: CORS off. `*` allows any. */
  HOMESKILLET_CORS_ORIGINS?: string;
  /** `off` stops the covenant objects recording metrics (an operator switch, e.g. to measure their cost). */
  HOMESKILLET_METRICS?: string;
  /** Which log lines are written: `info` (every request and upstream call, the default), `warn` (failures only), `off`. */
  HOMESKILLET_LOG_LEVEL?: string;
}
