// Types for scripts/ports.mjs.
export function tryPort(port: number, host?: string): Promise<number | undefined>;
export function freePort(host?: string): Promise<number>;
export function isAddressInUse(err: unknown): boolean;
export function failedOnTakenPort(err: unknown, ports: readonly number[], host?: string): Promise<boolean>;
