// The reads of PostgresCore: queries, get, entity state with time travel, listings and stats.
// Each runs inside a tenant-scoped read transaction (session.ts) and answers exactly what
// EmbeddedCore answers: the same filters, cursors, tombstone visibility and fold.

import { decodeCursor, encodeCursor, queryFingerprint } from '../cursor.js';
import { NotFoundError } from '../errors.js';
import { EMPTY_FOLD, evolveState, foldSteps, type FoldState } from '../fold.js';
import { CONTROL_ENTITY, type EntitiesResult, type EntityState, type EventTypesResult, type JsonObject, type QueryResult, type StoredEvent, type TenantStats } from '../types.js';
import type { CheckedFilter } from '../validate.js';
import { deletedAt, EVENT_COLUMNS, eventOf, isoOf, likePrefix, NO_CUT, type EventRow } from './rows.js';
import type { Db, TenantHead } from './session.js';

/** Highest position recorded at or before `ms` (0 when none): recorded time never decreases with position. */
export async function positionAsOf(db: Db, tenant: string, ms: number): Promise<number> {
  const r = await db.query<{ position: number }>('SELECT position FROM events WHERE tenant_id = $1 AND recorded_ms <= $2 ORDER BY recorded_ms DESC, position DESC LIMIT 1', [tenant, ms]);
  return r.rows[0]?.position ?? 0;
}

/** SQL building with numbered parameters. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export async function queryEvents(db: Db, tenant: string, head: TenantHead | null, f: CheckedFilter): Promise<QueryResult> {
  const after = f.cursor === undefined ? undefined : (decodeCursor(f.cursor, queryFingerprint(f.fingerprintParts), 'filter.cursor', 'number') as number);
  if (head === null) return { events: [], next_cursor: null, has_more: false };
  const p = new Params();
  const where = [`e.tenant_id = ${p.add(tenant)}`];
  const cut = f.as_of === undefined ? NO_CUT : await positionAsOf(db, tenant, f.as_of);
  if (cut !== NO_CUT) where.push(`e.position <= ${p.add(cut)}`);
  if (f.entity_id !== undefined) where.push(`e.entity_id = ${p.add(f.entity_id)}`);
  if (f.entity_id !== CONTROL_ENTITY) where.push(`e.entity_id <> ${p.add(CONTROL_ENTITY)}`);
  if (f.entity_prefix !== undefined) where.push(`e.entity_id LIKE ${p.add(likePrefix(f.entity_prefix))} ESCAPE '\\'`);
  if (f.event_type !== undefined) where.push(`e.event_type = ${p.add(f.event_type)}`);
  if (f.event_type_prefix !== undefined) where.push(`e.event_type LIKE ${p.add(likePrefix(f.event_type_prefix))} ESCAPE '\\'`);
  if (f.since !== undefined) where.push(`e.recorded_ms >= ${p.add(f.since)}`);
  if (f.until !== undefined) where.push(`e.recorded_ms <= ${p.add(f.until)}`);
  if (f.occurred_since !== undefined) where.push(`e.occurred_ms >= ${p.add(f.occurred_since)}`);
  if (f.occurred_until !== undefined) where.push(`e.occurred_ms <= ${p.add(f.occurred_until)}`);
  for (const { path, value } of f.payload_equals ?? []) {
    // Containment finds candidates through the GIN index (objects all along the path); the path
    // read then checks equality exactly (containment alone would accept a longer array or object).
    let nested: unknown = value;
    for (let i = path.length - 1; i >= 0; i--) nested = { [path[i]]: nested };
    where.push(`e.payload::jsonb @> ${p.add(JSON.stringify(nested))}::jsonb AND e.payload::jsonb #> ${p.add(path)}::text[] = ${p.add(JSON.stringify(value))}::jsonb`);
  }
  if (after !== undefined) where.push(f.order === 'asc' ? `e.position > ${p.add(after)}` : `e.position < ${p.add(after)}`);
  let deletedColumn = 'false AS deleted';
  if (head.has_tombstones) {
    const deleted = deletedAt(p.add(cut));
    if (f.include_deleted) deletedColumn = `${deleted} AS deleted`;
    else where.push(`NOT ${deleted}`);
  }
  const r = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS}, ${deletedColumn} FROM events e WHERE ${where.join(' AND ')} ORDER BY e.position ${f.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${p.add(f.limit + 1)}`,
    p.values,
  );
  const hasMore = r.rows.length > f.limit;
  const events = (hasMore ? r.rows.slice(0, f.limit) : r.rows).map(eventOf);
  const next_cursor = hasMore ? encodeCursor({ k: events[events.length - 1].position, q: queryFingerprint(f.fingerprintParts) }) : null;
  return { events, next_cursor, has_more: hasMore };
}

export async function getEvent(db: Db, tenant: string, head: TenantHead | null, id: string, includeDeleted: boolean): Promise<StoredEvent> {
  const missing = new NotFoundError(`event ${JSON.stringify(id)} not found`, { field: 'id' });
  if (head === null) throw missing;
  const r = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS}, ${head.has_tombstones ? deletedAt('$3') : 'false'} AS deleted FROM events e WHERE e.tenant_id = $1 AND e.id = $2`, head.has_tombstones ? [tenant, id, NO_CUT] : [tenant, id]);
  const row = r.rows[0];
  if (row === undefined) throw missing;
  if (row.deleted && !includeDeleted) throw new NotFoundError(`event ${JSON.stringify(id)} is deleted (tombstoned); pass include_deleted to read it`, { field: 'id' });
  return eventOf(row);
}

interface FoldRow {
  event_type: string;
  payload: string;
  version: number;
  recorded_ms: number;
  deleted?: boolean;
}

function parsedStep(row: FoldRow): { event_type: string; payload: JsonObject } {
  return { event_type: row.event_type, payload: JSON.parse(row.payload) as JsonObject };
}

export async function entityState(db: Db, tenant: string, head: TenantHead | null, entityId: string, asOfMs: number | undefined): Promise<EntityState> {
  const asOf = asOfMs === undefined ? null : isoOf(asOfMs);
  const missing = (): NotFoundError => new NotFoundError(`entity ${JSON.stringify(entityId)} has no events${asOf ? ` recorded at or before ${asOf}` : ''}`, { field: 'entity_id' });
  if (head === null || entityId === CONTROL_ENTITY) throw missing();
  const h = await db.query<{ version: number; state: string | null; deleted: boolean; tombstone_touched: boolean; last_ms: number }>(
    'SELECT version, state, deleted, tombstone_touched, live_last_ms AS last_ms FROM entity_heads WHERE tenant_id = $1 AND entity_id = $2',
    [tenant, entityId],
  );
  const entity = h.rows[0];
  if (entity === undefined) throw missing();

  if (!entity.tombstone_touched) {
    // Versions are gapless and recorded times follow them, so "as of" is the last version recorded by then.
    let count = entity.version;
    let lastMs = entity.last_ms;
    if (asOfMs !== undefined) {
      const v = await db.query<{ version: number; recorded_ms: number }>(
        'SELECT version, recorded_ms FROM events WHERE tenant_id = $1 AND entity_id = $2 AND recorded_ms <= $3 ORDER BY version DESC LIMIT 1',
        [tenant, entityId, asOfMs],
      );
      if (v.rows.length === 0) throw missing();
      count = v.rows[0].version;
      lastMs = v.rows[0].recorded_ms;
    }
    let fold: FoldState;
    if (count === entity.version) {
      fold = { state: entity.state === null ? null : (JSON.parse(entity.state) as JsonObject), deleted: entity.deleted };
    } else {
      // The nearest snapshot at or below the version, then the few events after it.
      const r = await db.query<{ snap: { version: number; state: string | null; deleted: boolean } | null; steps: FoldRow[] | null }>(
        `WITH s AS (SELECT version, state, deleted FROM state_snapshots WHERE tenant_id = $1 AND entity_id = $2 AND version <= $3 ORDER BY version DESC LIMIT 1)
         SELECT (SELECT row_to_json(s) FROM s) AS snap,
                (SELECT json_agg(x ORDER BY x.version) FROM (SELECT event_type, payload, version FROM events WHERE tenant_id = $1 AND entity_id = $2 AND version > coalesce((SELECT version FROM s), 0) AND version <= $3) x) AS steps`,
        [tenant, entityId, count],
      );
      const snap = r.rows[0].snap;
      const base: FoldState = snap === null ? EMPTY_FOLD : { state: snap.state === null ? null : (JSON.parse(snap.state) as JsonObject), deleted: snap.deleted };
      const steps = r.rows[0].steps ?? [];
      fold = foldSteps(base, steps.length, (i) => parsedStep(steps[i]));
    }
    return { entity_id: entityId, state: fold.state, version: count, last_updated: isoOf(lastMs), event_count: count, deleted: fold.deleted, as_of: asOf };
  }
  // Slow path: some events were tombstoned at some point; fold only those visible at the cut.
  const cut = asOfMs === undefined ? NO_CUT : await positionAsOf(db, tenant, asOfMs);
  const r = await db.query<FoldRow>(
    `SELECT e.event_type, e.payload, e.version, e.recorded_ms FROM events e WHERE e.tenant_id = $1 AND e.entity_id = $2 AND e.position <= $3 AND NOT ${deletedAt('$3')} ORDER BY e.version`,
    [tenant, entityId, cut],
  );
  if (r.rows.length === 0) throw missing();
  let fold: FoldState = EMPTY_FOLD;
  for (const row of r.rows) fold = evolveState(fold, parsedStep(row));
  const last = r.rows[r.rows.length - 1];
  return { entity_id: entityId, state: fold.state, version: last.version, last_updated: isoOf(last.recorded_ms), event_count: r.rows.length, deleted: fold.deleted, as_of: asOf };
}

export async function listEntities(db: Db, tenant: string, prefix: string | undefined, cursor: string | undefined, limit: number): Promise<EntitiesResult> {
  const fingerprint = queryFingerprint(['entities', prefix ?? null]);
  const after = cursor === undefined ? undefined : (decodeCursor(cursor, fingerprint, 'options.cursor', 'string') as string);
  const p = new Params();
  const where = [`tenant_id = ${p.add(tenant)}`, 'live > 0'];
  if (prefix !== undefined) where.push(`entity_id LIKE ${p.add(likePrefix(prefix))} ESCAPE '\\'`);
  if (after !== undefined) where.push(`entity_id > ${p.add(after)}`);
  const r = await db.query<{ entity_id: string; live: number; live_version: number; live_first_ms: number; live_last_ms: number; live_last_id: string; live_last_type: string; live_deleted: boolean }>(
    `SELECT entity_id, live, live_version, live_first_ms, live_last_ms, live_last_id, live_last_type, live_deleted FROM entity_heads WHERE ${where.join(' AND ')} ORDER BY entity_id LIMIT ${p.add(limit + 1)}`,
    p.values,
  );
  const hasMore = r.rows.length > limit;
  const entities = (hasMore ? r.rows.slice(0, limit) : r.rows).map((row) => ({
    entity_id: row.entity_id,
    event_count: row.live,
    version: row.live_version,
    first_event_at: isoOf(row.live_first_ms),
    last_event_at: isoOf(row.live_last_ms),
    last_event_id: row.live_last_id,
    last_event_type: row.live_last_type,
    deleted: row.live_deleted,
  }));
  return { entities, next_cursor: hasMore ? encodeCursor({ k: entities[entities.length - 1].entity_id, q: fingerprint }) : null, has_more: hasMore };
}

export async function listEventTypes(db: Db, tenant: string, prefix: string | undefined, cursor: string | undefined, limit: number): Promise<EventTypesResult> {
  const fingerprint = queryFingerprint(['event_types', prefix ?? null]);
  const after = cursor === undefined ? undefined : (decodeCursor(cursor, fingerprint, 'options.cursor', 'string') as string);
  const p = new Params();
  const where = [`tenant_id = ${p.add(tenant)}`, 'live > 0'];
  if (prefix !== undefined) where.push(`event_type LIKE ${p.add(likePrefix(prefix))} ESCAPE '\\'`);
  if (after !== undefined) where.push(`event_type > ${p.add(after)}`);
  const r = await db.query<{ event_type: string; live: number; last_live_ms: number }>(
    `SELECT event_type, live, last_live_ms FROM type_heads WHERE ${where.join(' AND ')} ORDER BY event_type LIMIT ${p.add(limit + 1)}`,
    p.values,
  );
  const hasMore = r.rows.length > limit;
  const event_types = (hasMore ? r.rows.slice(0, limit) : r.rows).map((row) => ({ event_type: row.event_type, count: row.live, last_event_at: isoOf(row.last_live_ms) }));
  return { event_types, next_cursor: hasMore ? encodeCursor({ k: event_types[event_types.length - 1].event_type, q: fingerprint }) : null, has_more: hasMore };
}

export async function tenantStats(db: Db, tenant: string, head: TenantHead | null): Promise<TenantStats> {
  if (head === null || head.last_position === 0) {
    return { tenant_id: tenant, events: 0, tombstoned_events: 0, entities: 0, event_types: 0, first_event_at: null, last_event_at: null, last_position: 0 };
  }
  const r = await db.query<{ entities: number; types: number }>(
    'SELECT (SELECT count(*) FROM entity_heads WHERE tenant_id = $1 AND live > 0) AS entities, (SELECT count(*) FROM type_heads WHERE tenant_id = $1 AND live > 0) AS types',
    [tenant],
  );
  return {
    tenant_id: tenant,
    events: head.live_events,
    tombstoned_events: head.tombstoned_events,
    entities: r.rows[0].entities,
    event_types: r.rows[0].types,
    first_event_at: head.first_ms === null ? null : isoOf(head.first_ms),
    last_event_at: isoOf(head.last_ms),
    last_position: head.last_position,
  };
}
