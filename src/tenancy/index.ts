// Tenancy: tenants, their API keys and quotas (TenantDirectory, one per tenant), the deployment's
// tenant list and audit log (TenantRegistry), and the audit outbox every changing object uses.
export { TenantDirectory, MCP_SESSION_TTL_MS, type Actor, type Done, type QuotaName, type Refused } from "./directory";
export { TenantRegistry, REGISTRY_NAME, type RegisteredTenant } from "./registry";
export { KEY_PREFIX, KeyStore, keyView } from "./key-store";
export { AUDIT_RETENTION_DAYS, AuditOutbox, AuditStore, auditEntry, retentionDays, validCursor, type AuditPage, type NewAuditEntry } from "./audit";
