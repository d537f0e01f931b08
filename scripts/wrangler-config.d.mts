// Types for scripts/wrangler-config.mjs.
export interface ResolvedWranglerConfig {
  name: string;
  main?: string;
  compatibility_date?: string;
  compatibility_flags: string[];
  vars: Record<string, unknown>;
  secrets?: { required?: string[] };
  durable_objects: { bindings: Array<{ name: string; class_name: string; script_name?: string }> };
  migrations: Array<{ tag: string; new_sqlite_classes?: string[]; new_classes?: string[] }>;
  assets?: { directory?: string; binding?: string };
}
export function readWranglerConfig(configPath: string, env: string | undefined): ResolvedWranglerConfig;
