// The Core over the network: HttpCore (the EventStore port as a REST client), the admin client and
// the MCP edge's quota gate. The server itself (fastify) is loaded from ./server.js only by what runs it.
export { openHttpCore, HttpCore, type HttpCoreOptions } from './httpCore.js';
export { CoreAdminClient } from './adminClient.js';
export type { CreatedKey, KeyRecord, TenantRecord } from './keys.js';
export type { LeaseResult, QuotaRecord } from './quotas.js';
export { createQuotaGate, type QuotaGate, type QuotaGateOptions, type QuotaTake } from './quotaGate.js';
