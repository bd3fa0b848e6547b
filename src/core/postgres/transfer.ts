// Bulk transfer between PostgreSQL and another store, for `allsource migrate --from … --to …`.
// It connects as the owner role (the one that ran the migration): reading every tenant needs the
// owner-only export policy (`app.all_tenants`), which the runtime role does not have. Imported
// events keep their ids, positions, times, versions and hashes, so the integrity hashes of both
// sides can be compared; each hash is checked to continue its tenant's chain before it is written.

import pg from 'pg';
import { InvalidError } from '../errors.js';
import { canonicalEvent, chainHash } from '../hash.js';
import { CONTROL_ENTITY, RESTORE_EVENT, type StoredEvent, type VerifyResult } from '../types.js';
import { writeEvents, type FreshEvent, type HeadRow } from './append.js';
import { applyTransitions } from './control.js';
import { EVENT_COLUMNS, eventOf, type EventRow } from './rows.js';
import { preparedDb, Sessions, storeError, type Db, type TenantHead } from './session.js';
import { verifyTenant } from './verify.js';

export interface PostgresTransfer {
  /** Every tenant with events. */
  tenants(): Promise<string[]>;
  /** How many events the database holds (all tenants). */
  count(): Promise<number>;
  /** Every event of every tenant in position order (then tenant), a page at a time. */
  exportAll(pageSize?: number): AsyncGenerator<StoredEvent[]>;
  /** Writes one tenant's next events (position order) as they are; the tenant must be new or continue. */
  importTenant(tenant: string, events: readonly StoredEvent[]): Promise<void>;
  verify(tenant: string): Promise<VerifyResult>;
  close(): Promise<void>;
}

export async function openPostgresTransfer(url: string): Promise<PostgresTransfer> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  const sessions = new Sessions(pool);
  /** Runs `fn` in a transaction that may read every tenant (the owner's export policy). */
  const allTenants = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    const client = await pool.connect().catch((err: unknown) => {
      throw storeError(err);
    });
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('app.all_tenants', 'on', true)");
      const value = await fn(preparedDb(client));
      await client.query('COMMIT');
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw storeError(err);
    } finally {
      client.release();
    }
  };
  return {
    tenants: () => allTenants(async (db) => (await db.query<{ tenant_id: string }>('SELECT tenant_id FROM tenant_heads WHERE last_position > 0 ORDER BY tenant_id')).rows.map((r) => r.tenant_id)),
    count: () => allTenants(async (db) => (await db.query<{ n: number }>('SELECT count(*) AS n FROM events')).rows[0].n),
    async *exportAll(pageSize = 5000) {
      let after: [number, string] = [0, ''];
      while (true) {
        const rows = await allTenants(async (db) => (await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE (e.position, e.tenant_id) > ($1, $2) ORDER BY e.position, e.tenant_id LIMIT $3`, [...after, pageSize])).rows);
        if (rows.length === 0) return;
        yield rows.map(eventOf);
        const last = rows[rows.length - 1];
        after = [last.position, last.tenant_id];
      }
    },
    async importTenant(tenant, events) {
      if (events.length === 0) return;
      await sessions.write(tenant, (db, head) => importLocked(db, tenant, head, events));
      // New appends draw positions above everything imported.
      const top = events[events.length - 1].position;
      await pool.query("SELECT setval('allsource_positions', GREATEST($1::bigint, (SELECT last_value FROM allsource_positions)))", [top]).catch((err: unknown) => {
        throw storeError(err);
      });
    },
    verify: (tenant) => sessions.read(tenant, (db) => verifyTenant(db, tenant)),
    close: () => pool.end(),
  };
}

async function importLocked(db: Db, tenant: string, head: TenantHead, events: readonly StoredEvent[]): Promise<void> {
  let previous = head.last_hash;
  let lastPosition = head.last_position;
  const fresh: FreshEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.tenant_id !== tenant) throw new InvalidError(`events[${i}].tenant_id`, `is ${JSON.stringify(e.tenant_id)}, not the tenant being imported`);
    if (e.position <= lastPosition) throw new InvalidError(`events[${i}].position`, `must be above ${lastPosition}, the tenant's last position`);
    const payloadJson = JSON.stringify(e.payload);
    const metadataJson = JSON.stringify(e.metadata);
    previous = chainHash(previous, canonicalEvent(e, payloadJson, metadataJson));
    if (previous !== e.hash) throw new InvalidError(`events[${i}].hash`, `does not continue the hash chain of tenant ${JSON.stringify(tenant)} at position ${e.position}`);
    lastPosition = e.position;
    fresh.push({ id: e.id, entity_id: e.entity_id, event_type: e.event_type, payload: e.payload, payloadJson, metadataJson, version: e.version, position: e.position, occurred_ms: Date.parse(e.occurred_at), hash: e.hash });
  }
  // Runs recorded at one instant (the original batches) are written together; a control event ends its run.
  let start = 0;
  for (let i = 0; i < fresh.length; i++) {
    const ms = Date.parse(events[i].timestamp);
    const control = fresh[i].entity_id === CONTROL_ENTITY;
    if (!(control || i + 1 === fresh.length || Date.parse(events[i + 1].timestamp) !== ms)) continue;
    const run = fresh.slice(start, i + 1);
    start = i + 1;
    const entities = [...new Set(run.map((e) => e.entity_id).filter((id) => id !== CONTROL_ENTITY))];
    const heads = new Map<string, HeadRow>();
    const r = await db.query<HeadRow>('SELECT entity_id, version, state::json AS state, deleted, tombstone_touched, live, live_first_ms FROM entity_heads WHERE tenant_id = $1 AND entity_id = ANY($2::text[])', [tenant, entities]);
    for (const row of r.rows) heads.set(row.entity_id, row);
    await writeEvents(db, tenant, head, run, ms, heads);
    if (control) {
      const ids = (fresh[i].payload.event_ids ?? []) as string[];
      const targets = await db.query<{ position: number; entity_id: string; event_type: string }>('SELECT position, entity_id, event_type FROM events WHERE tenant_id = $1 AND id = ANY($2::text[]) ORDER BY position', [tenant, ids]);
      await applyTransitions(db, tenant, head, targets.rows, fresh[i].position, fresh[i].event_type !== RESTORE_EVENT);
    }
  }
}
