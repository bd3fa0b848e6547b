// allsource's public API: the EventStore port, its error family, the embedded adapter, HttpCore
// (the port over a remote Core) with the admin client, and Prime
// (graph, vectors and recall over any EventStore) with its embedders.
export * from './core/types.js';
export * from './core/errors.js';
export { openEmbeddedCore, type EmbeddedCore, type EmbeddedCoreOptions, type Durability } from './core/embedded/index.js';
export { createPrimeService, type PrimeServiceOptions } from './prime/service.js';
export type * from './prime/types.js';
export { createEmbedderFromEnv, createHashEmbedder, createOpenAiEmbedder, type Embedder, type EmbedderInfo, type EmbedderKind } from './embed/index.js';
export { openHttpCore, HttpCore, CoreAdminClient, type HttpCoreOptions, type CreatedKey, type KeyRecord, type TenantRecord } from './core/http/index.js';
