// Types for scripts/selfhost-config.mjs.
export const SETTING_PREFIXES: string[];
export const SCRIPT_SETTINGS: Set<string>;
export function settingNames(env: Record<string, string | undefined>): string[];
export function resolveFileSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): { env: Record<string, string | undefined>; errors: string[] };
export function uniqueKeyFor(className: string): string;
export function capnpString(s: string): string;
export function moduleType(file: string): "ESModule" | "CommonJS" | "CompiledWasm" | "Data" | "Text" | undefined;
export interface HeaderRule {
  pattern: string;
  headers: [string, string][];
}
export function parseHeadersFile(text: string): HeaderRule[];
export interface AssetManifest {
  files: Record<string, string>;
  headers: HeaderRule[];
}
export function assetManifest(files: string[], headersText?: string): AssetManifest;
export interface WorkerdConfigInput {
  compatibilityDate: string;
  compatibilityFlags: string[];
  modules: Array<{ name: string; type: string; path: string }>;
  durableObjects: Array<{ binding: string; className: string }>;
  settings: string[];
  dataDir: string;
  assetsDir: string;
  manifest: AssetManifest;
  routerPath: string;
  listen: string;
}
export function workerdConfig(o: WorkerdConfigInput): string;
