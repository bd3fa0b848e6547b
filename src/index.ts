// allsource's public API: the EventStore port, its error family, the embedded adapter, HttpCore
// (the port over a remote Core) with the admin client, PostgresCore (loaded on first use, so
// `pg` stays unloaded for embedded users), and Prime
// (graph, vectors and recall over any EventStore) with its embedders.
export * from './core/types.js';
export * from './core/errors.js';
export { openEmbeddedCore, type EmbeddedCore, type EmbeddedCoreOptions, type Durability } from './core/embedded/index.js';
export { createPrimeService, type PrimeServiceOptions } from './prime/service.js';
export type * from './prime/types.js';
export { createEmbedderFromEnv, createHashEmbedder, createOpenAiEmbedder, type Embedder, type EmbedderInfo, type EmbedderKind } from './embed/index.js';
export { openHttpCore, HttpCore, CoreAdminClient, type HttpCoreOptions, type CreatedKey, type KeyRecord, type TenantRecord } from './core/http/index.js';
export type { PostgresCore, PostgresCoreOptions, MigrateResult } from './core/postgres/index.js';

/** Opens a migrated PostgreSQL database as an EventStore (see `allsource migrate --postgres`). */
export async function openPostgresCore(options: import('./core/postgres/index.js').PostgresCoreOptions): Promise<import('./core/postgres/index.js').PostgresCore> {
  return (await import('./core/postgres/index.js')).openPostgresCore(options);
}

/** Creates or upgrades the PostgreSQL schema as the owner role, granting `runtimeRole` what the Core needs. */
export async function migratePostgres(url: string, options: { runtimeRole?: string } = {}): Promise<import('./core/postgres/index.js').MigrateResult> {
  return (await import('./core/postgres/index.js')).migrateSchema(url, options);
}
