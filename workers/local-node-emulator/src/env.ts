import type { LocalDevice } from "./device";

/** Bindings from wrangler.toml `[vars]`, secrets and the Durable Object namespace. */
export interface Env {
  DEVICE: DurableObjectNamespace<LocalDevice>;
  MODELS?: string;
  LATENCY_SCALE?: string;
  SEED?: string;
  ACCESS_CLIENT_ID?: string;
  ACCESS_CLIENT_SECRET?: string;
  API_KEY?: string;
  /** The fault configuration in force at start and after a reset (the body of PUT /admin/faults). */
  FAULTS_JSON?: string;
}

/** The node's configuration, parsed once per request from plain-string bindings. */
export interface NodeConfig {
  /** Servable model ids; the first is loaded at startup and answers requests that name no model. */
  models: string[];
  latencyScale: number;
  seed: string;
  accessClientId: string | undefined;
  accessClientSecret: string | undefined;
  apiKey: string | undefined;
}

const FALLBACK_MODELS = ["gemma-2b-it"];

export function readConfig(env: Env): NodeConfig {
  const models = (env.MODELS ?? "")
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  return {
    models: models.length > 0 ? models : FALLBACK_MODELS,
    latencyScale: parseScale(env.LATENCY_SCALE),
    seed: env.SEED?.trim() || "0",
    accessClientId: nonEmpty(env.ACCESS_CLIENT_ID),
    accessClientSecret: nonEmpty(env.ACCESS_CLIENT_SECRET),
    apiKey: nonEmpty(env.API_KEY),
  };
}

export function startupModel(config: NodeConfig): string {
  // readConfig guarantees at least one model.
  return config.models[0] ?? FALLBACK_MODELS[0]!;
}

/** A misconfigured scale falls back to real time rather than failing every request. */
export function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 1;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : 1;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
