// The Core over the network: HttpCore (the EventStore port as a REST client) and the admin
// client. The server itself (fastify) is loaded from ./server.js only by what runs it.
export { openHttpCore, HttpCore, type HttpCoreOptions } from './httpCore.js';
export { CoreAdminClient } from './adminClient.js';
export type { CreatedKey, KeyRecord, TenantRecord } from './keys.js';
