// Bindings as wrangler.toml declares them, and their interpretation. Vars arrive as strings;
// a value that cannot be read falls back to the documented default rather than failing a request.
import type { HostedAiCluster } from "./cluster";

export interface Env {
  CLUSTER: DurableObjectNamespace<HostedAiCluster>;
  HOSTEDAI_API_KEYS?: string;
  JWT_SECRET?: string;
  TOKEN_TTL_SECONDS?: string;
  LATENCY_SCALE?: string;
  TIME_SCALE?: string;
  SEED?: string;
  POOLS_JSON?: string;
  /** The fault configuration in force at start and after a reset (the body of PUT /admin/faults). */
  FAULTS_JSON?: string;
  ADMIN_KEY?: string;
}

export const DEFAULT_JWT_SECRET = "dev-hostedai-emulator-jwt-secret";
export const MAX_TIME_SCALE = 1_000_000;
/** Slower than this and emulated expiries would land past the end of representable time. */
export const MIN_TIME_SCALE = 0.000_001;
export const MAX_LATENCY_SCALE = 1_000;

/** The part of the configuration that /admin/config can change at run time. */
export interface RuntimeConfig {
  latency_scale: number;
  time_scale: number;
}

export function runtimeConfigFromEnv(env: Env): RuntimeConfig {
  return {
    latency_scale: readNumber(env.LATENCY_SCALE, 1, (n) => n >= 0 && n <= MAX_LATENCY_SCALE),
    time_scale: readNumber(env.TIME_SCALE, 1, (n) => n >= MIN_TIME_SCALE && n <= MAX_TIME_SCALE),
  };
}

export function apiKeys(env: Env): string[] {
  return (env.HOSTEDAI_API_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

export function jwtSecret(env: Env): string {
  const secret = env.JWT_SECRET?.trim();
  return secret ? secret : DEFAULT_JWT_SECRET;
}

export function tokenTtlSeconds(env: Env): number {
  return Math.floor(readNumber(env.TOKEN_TTL_SECONDS, 3600, (n) => n >= 1 && n <= 31_536_000));
}

export function seed(env: Env): string {
  return env.SEED?.trim() || "42";
}

function readNumber(raw: string | undefined, fallback: number, valid: (n: number) => boolean): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  return Number.isFinite(n) && valid(n) ? n : fallback;
}
