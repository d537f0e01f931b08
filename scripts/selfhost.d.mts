// Types for scripts/selfhost.mjs.
export const OUT: string;
export function build(): Promise<void>;
export type Plan =
  | { errors: string[] }
  | {
      errors: [];
      port: number;
      host: string;
      dataDir: string;
      childEnv: Record<string, string | undefined>;
      settings: string[];
      configText(configDir: string): string;
    };
export function plan(env?: Record<string, string | undefined>, out?: string): Plan;
export function workerdBinary(out?: string): string;
