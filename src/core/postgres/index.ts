// The PostgreSQL adapter's public face: open a migrated database as an EventStore, and migrate it.
export { openPostgresCore, type PostgresCore, type PostgresCoreOptions } from './postgresCore.js';
export { migrateSchema, SCHEMA_VERSION, type MigrateResult } from './schema.js';
