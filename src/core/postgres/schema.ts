// The PostgreSQL schema of PostgresCore and the migration that creates it. Migrations run as the
// owner role (`allsource migrate --postgres URL`); the Core itself connects as a runtime role that
// owns nothing and cannot bypass row-level security, so every row it can see or write is the
// tenant named by `app.tenant_id` for the current transaction.

import pg from 'pg';
import { InvalidError, UnavailableError } from '../errors.js';

/** Bumped when the schema changes; the Core refuses to run on a schema it does not know. */
export const SCHEMA_VERSION = 2;

/**
 * What brings a database of version N-1 to version N, in place, keyed by N (the tables themselves
 * are created by the DDL below, already in the newest form). Each step is idempotent, and runs in
 * the migration's transaction, so a failed upgrade leaves the old version as it was.
 */
const UPGRADES: Record<number, string> = {
  // 2: entity heads leave a fifth of each page free, so rewriting a head (every append to an
  // entity) is mostly a HOT update on the same page: no new primary-key entry, a smaller WAL
  // record, less bloat. (Half free made a batch's head rewrites cheaper still, but made single
  // appends pay for pruning on nearly every page access.) Pages written before keep their fill
  // until their rows move; VACUUM FULL entity_heads repacks them.
  2: 'ALTER TABLE entity_heads SET (fillfactor = 80)',
};

/** Tables that hold tenant rows; each one gets the same RLS policy. */
export const TENANT_TABLES = ['tenant_heads', 'events', 'entity_heads', 'type_heads', 'state_snapshots', 'tombstones'] as const;

/** Snapshot an entity's fold every this many versions, bounding an as_of fold to that many steps. */
export const SNAPSHOT_EVERY = 32;

/** The channel appends notify on (payload: the tenant id), for long-polling watches. */
export const NOTIFY_CHANNEL = 'allsource_events';

const DDL = `
CREATE TABLE IF NOT EXISTS allsource_schema (version integer NOT NULL);

-- Positions come from one store-wide sequence, drawn while the tenant's head row is locked, so
-- within a tenant they increase in commit order (a reader never finds a lower one appearing later).
CREATE SEQUENCE IF NOT EXISTS allsource_positions AS bigint;

-- One row per tenant: the end of its log (locked FOR UPDATE by every write) and its counters.
CREATE TABLE IF NOT EXISTS tenant_heads (
  tenant_id text COLLATE "C" PRIMARY KEY,
  last_position bigint NOT NULL DEFAULT 0,
  last_hash text NOT NULL DEFAULT '',
  last_ms bigint NOT NULL DEFAULT 0,
  first_ms bigint,
  live_events bigint NOT NULL DEFAULT 0,
  tombstoned_events bigint NOT NULL DEFAULT 0,
  search_docs bigint NOT NULL DEFAULT 0,
  search_length bigint NOT NULL DEFAULT 0,
  has_tombstones boolean NOT NULL DEFAULT false
);

-- The log. payload and metadata are kept as the exact JSON text that was hashed (JSONB would
-- reorder keys and break the hash chain); the GIN index parses them to JSONB for equality filters.
CREATE TABLE IF NOT EXISTS events (
  tenant_id text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  event_type text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  recorded_ms bigint NOT NULL,
  occurred_ms bigint NOT NULL,
  payload text NOT NULL,
  metadata text,
  hash text NOT NULL,
  -- Search: the payload's words with their counts (as positions 1..n), the word count, and the
  -- tenant's running document count and word total up to this event (BM25 statistics as of a cut).
  search tsvector,
  search_len integer,
  search_docs bigint,
  search_total bigint,
  PRIMARY KEY (tenant_id, position),
  UNIQUE (tenant_id, entity_id, version),
  UNIQUE (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS events_type ON events (tenant_id, event_type, position);
CREATE INDEX IF NOT EXISTS events_recorded ON events (tenant_id, recorded_ms, position);
CREATE INDEX IF NOT EXISTS events_payload ON events USING gin ((payload::jsonb) jsonb_path_ops);
CREATE INDEX IF NOT EXISTS events_search ON events USING gin (search);

-- Latest fold and listing summary of each entity (control events have none). Rewritten by every
-- append to the entity: a fifth of each page is left free for those updates to stay on it (HOT).
CREATE TABLE IF NOT EXISTS entity_heads (
  tenant_id text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  state text,
  deleted boolean NOT NULL,
  tombstone_touched boolean NOT NULL DEFAULT false,
  live integer NOT NULL,
  live_version integer NOT NULL,
  live_first_ms bigint,
  live_last_ms bigint,
  live_last_id text,
  live_last_type text,
  live_deleted boolean NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, entity_id)
) WITH (fillfactor = 80);

CREATE TABLE IF NOT EXISTS type_heads (
  tenant_id text COLLATE "C" NOT NULL,
  event_type text COLLATE "C" NOT NULL,
  live bigint NOT NULL,
  last_live_ms bigint,
  PRIMARY KEY (tenant_id, event_type)
);

-- The fold of an entity after every SNAPSHOT_EVERY-th version (tombstones ignored), for as_of reads.
CREATE TABLE IF NOT EXISTS state_snapshots (
  tenant_id text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  state text,
  deleted boolean NOT NULL,
  PRIMARY KEY (tenant_id, entity_id, version)
);

-- Every change of an event's tombstone status, by the control event that made it.
CREATE TABLE IF NOT EXISTS tombstones (
  tenant_id text COLLATE "C" NOT NULL,
  target_position bigint NOT NULL,
  control_position bigint NOT NULL,
  deleted boolean NOT NULL,
  PRIMARY KEY (tenant_id, target_position, control_position)
);
`;

function policySql(table: string): string {
  // FORCE applies the policy to the table owner too; only superusers and BYPASSRLS roles escape it,
  // which is why the Core refuses to run as one.
  return `
ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ${table};
CREATE POLICY tenant_isolation ON ${table}
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Reading across tenants, for \`allsource migrate --from postgres://…\` only: the owner role, and
-- only in a transaction that asks for it. The runtime role has no such policy.
DROP POLICY IF EXISTS owner_export ON ${table};
CREATE POLICY owner_export ON ${table} FOR SELECT TO CURRENT_USER
  USING (current_setting('app.all_tenants', true) = 'on');`;
}

export interface MigrateResult {
  version: number;
  created: boolean;
  /** The version an existing schema was upgraded from (null when it was created or already current). */
  upgraded_from: number | null;
  granted: string | null;
}

/** Creates (or confirms) the schema, as the connected (owner) role; grants `runtimeRole` what the Core needs. */
export async function migrateSchema(url: string, options: { runtimeRole?: string } = {}): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new UnavailableError(`cannot connect to PostgreSQL: ${(err as Error).message}`, { cause: err });
  }
  try {
    await client.query('BEGIN');
    // One migrator at a time (several nodes may run migrate on deploy).
    await client.query('SELECT pg_advisory_xact_lock(7243911)');
    const existing = await client.query<{ exists: boolean }>("SELECT to_regclass('allsource_schema') IS NOT NULL AS exists");
    let created = false;
    let upgraded_from: number | null = null;
    let version: number | undefined;
    if (existing.rows[0].exists) {
      const row = await client.query<{ version: number }>('SELECT version FROM allsource_schema');
      version = row.rows[0]?.version;
      if (version !== undefined && version > SCHEMA_VERSION) {
        throw new UnavailableError(`the database schema is version ${version}, newer than this allsource (${SCHEMA_VERSION}); upgrade allsource`);
      }
    }
    await client.query(DDL);
    for (const table of TENANT_TABLES) await client.query(policySql(table));
    if (version === undefined) {
      await client.query('INSERT INTO allsource_schema (version) VALUES ($1)', [SCHEMA_VERSION]);
      created = true;
    } else if (version < SCHEMA_VERSION) {
      for (let next = version + 1; next <= SCHEMA_VERSION; next++) await client.query(UPGRADES[next]);
      await client.query('UPDATE allsource_schema SET version = $1', [SCHEMA_VERSION]);
      upgraded_from = version;
    }
    let granted: string | null = null;
    if (options.runtimeRole !== undefined) {
      const role = options.runtimeRole;
      const found = await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [role]);
      if (found.rows.length === 0) throw new InvalidError('runtime-role', `role ${JSON.stringify(role)} does not exist; create it first (CREATE ROLE ${role} LOGIN PASSWORD '…')`);
      if (found.rows[0].rolsuper || found.rows[0].rolbypassrls) throw new InvalidError('runtime-role', `role ${JSON.stringify(role)} is a superuser or has BYPASSRLS, so row-level security would not apply to it`);
      const ident = client.escapeIdentifier(role);
      await client.query(`GRANT USAGE ON SCHEMA public TO ${ident}`);
      await client.query(`GRANT SELECT ON allsource_schema TO ${ident}`);
      await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${TENANT_TABLES.join(', ')} TO ${ident}`);
      await client.query(`GRANT USAGE, SELECT, UPDATE ON SEQUENCE allsource_positions TO ${ident}`);
      granted = role;
    }
    await client.query('COMMIT');
    return { version: SCHEMA_VERSION, created, upgraded_from, granted };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
