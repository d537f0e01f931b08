/** The Durable Object name of a tenant's covenant: tenant scoping is part of the identity. */
export function covenantObjectName(tenant: string, covenantId: string): string {
  return `${tenant}:${covenantId}`;
}
