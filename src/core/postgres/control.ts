// Tombstones and restores on PostgreSQL. Like EmbeddedCore, each one is a `$tombstone` or
// `$restore` control event in the tenant's own log naming the affected ids; the status changes are
// also kept as rows (tombstones table) so reads can ask "deleted as of position P" in SQL, and the
// listing summaries of the touched entities and types are recomputed in the same transaction.

import { deepFreeze, isDeletionType } from '../fold.js';
import { CONTROL_ENTITY, RESTORE_EVENT, TOMBSTONE_EVENT, type JsonObject, type TombstoneResult } from '../types.js';
import type { CheckedSelector, PreparedEvent } from '../validate.js';
import { appendLocked, type AppendDeps } from './append.js';
import { Params } from './reads.js';
import { deletedAt, NO_CUT } from './rows.js';
import type { Db, TenantHead } from './session.js';

export async function controlLocked(db: Db, tenant: string, head: TenantHead, selector: CheckedSelector, deleting: boolean, deps: AppendDeps): Promise<TombstoneResult> {
  const p = new Params();
  const where = [`e.tenant_id = ${p.add(tenant)}`, `e.entity_id <> ${p.add(CONTROL_ENTITY)}`];
  if (selector.ids !== undefined) where.push(`e.id = ANY(${p.add([...selector.ids])}::text[])`);
  if (selector.entity_id !== undefined) where.push(`e.entity_id = ${p.add(selector.entity_id)}`);
  if (selector.event_type !== undefined) where.push(`e.event_type = ${p.add(selector.event_type)}`);
  if (selector.since !== undefined) where.push(`e.recorded_ms >= ${p.add(selector.since)}`);
  if (selector.until !== undefined) where.push(`e.recorded_ms <= ${p.add(selector.until)}`);
  const deletedNow = head.has_tombstones ? deletedAt(p.add(NO_CUT)) : 'false';
  where.push(deleting ? `NOT ${deletedNow}` : deletedNow);
  const targets = await db.query<{ position: number; id: string; entity_id: string; event_type: string }>(
    `SELECT e.position, e.id, e.entity_id, e.event_type FROM events e WHERE ${where.join(' AND ')} ORDER BY e.position`,
    p.values,
  );
  const event_ids = targets.rows.map((r) => r.id);
  const shown = event_ids.slice(0, 1000);
  const base = { count: event_ids.length, event_ids: shown, event_ids_truncated: shown.length < event_ids.length, dry_run: selector.dry_run };
  if (selector.dry_run || event_ids.length === 0) return { ...base, position: null };

  const payload = deepFreeze({ event_ids, reason: selector.reason }) as unknown as JsonObject;
  const control: PreparedEvent = {
    entity_id: CONTROL_ENTITY,
    event_type: deleting ? TOMBSTONE_EVENT : RESTORE_EVENT,
    payload,
    payloadJson: JSON.stringify(payload),
    metadata: null,
    metadataJson: 'null',
    id: undefined,
    occurred_at: undefined,
    expected_version: undefined,
  };
  const appended = await appendLocked(db, tenant, head, [control], false, deps);
  await applyTransitions(db, tenant, head, targets.rows, appended.last_position, deleting);
  return { ...base, position: appended.last_position };
}

/**
 * Records the status changes a control event at `position` made to `targets`, moves the tenant's
 * live and tombstoned counts, and recomputes the summaries of the touched entities and types.
 */
export async function applyTransitions(db: Db, tenant: string, head: TenantHead, targets: ReadonlyArray<{ position: number; entity_id: string; event_type: string }>, position: number, deleting: boolean): Promise<void> {
  const delta = deleting ? -targets.length : targets.length;
  await db.query(
    `WITH t AS (INSERT INTO tombstones (tenant_id, target_position, control_position, deleted) SELECT $1, unnest($2::bigint[]), $3, $4)
     UPDATE tenant_heads SET live_events = live_events + $5, tombstoned_events = tombstoned_events - $5, has_tombstones = true WHERE tenant_id = $1`,
    [tenant, targets.map((r) => r.position), position, deleting, delta],
  );
  head.has_tombstones = true;
  head.live_events += delta;
  head.tombstoned_events -= delta;
  await refreshSummaries(db, tenant, [...new Set(targets.map((r) => r.entity_id))], [...new Set(targets.map((r) => r.event_type))]);
}

/** Recomputes the listing summaries (live counts, first and last live event) of entities and types. */
async function refreshSummaries(db: Db, tenant: string, entities: string[], types: string[]): Promise<void> {
  const live = await db.query<{ entity_id: string; id: string; event_type: string; version: number; recorded_ms: number }>(
    `SELECT e.entity_id, e.id, e.event_type, e.version, e.recorded_ms FROM events e
     WHERE e.tenant_id = $1 AND e.entity_id = ANY($2::text[]) AND NOT ${deletedAt('$3')} ORDER BY e.entity_id, e.version`,
    [tenant, entities, NO_CUT],
  );
  const byEntity = new Map<string, typeof live.rows>();
  for (const row of live.rows) {
    let list = byEntity.get(row.entity_id);
    if (list === undefined) byEntity.set(row.entity_id, (list = []));
    list.push(row);
  }
  const u = { entity: [] as string[], live: [] as number[], version: [] as number[], first: [] as (number | null)[], last: [] as (number | null)[], id: [] as (string | null)[], type: [] as (string | null)[], deleted: [] as boolean[] };
  for (const entity of entities) {
    const rows = byEntity.get(entity) ?? [];
    const first = rows[0];
    const last = rows[rows.length - 1];
    u.entity.push(entity);
    u.live.push(rows.length);
    u.version.push(last?.version ?? 0);
    u.first.push(first?.recorded_ms ?? null);
    u.last.push(last?.recorded_ms ?? null);
    u.id.push(last?.id ?? null);
    u.type.push(last?.event_type ?? null);
    // The fold of the live events is deleted exactly when the last of them is a deletion.
    u.deleted.push(last !== undefined && isDeletionType(last.event_type));
  }
  await db.query(
    `WITH te AS (
       SELECT e.event_type, count(*) AS live, max(e.recorded_ms) AS last_ms FROM events e
       WHERE e.tenant_id = $1 AND e.event_type = ANY($10::text[]) AND e.entity_id <> $11 AND NOT ${deletedAt('$12')} GROUP BY e.event_type
     ), ut AS (
       UPDATE type_heads h SET live = coalesce(te.live, 0), last_live_ms = te.last_ms
       FROM unnest($10::text[]) AS x(event_type) LEFT JOIN te ON te.event_type = x.event_type
       WHERE h.tenant_id = $1 AND h.event_type = x.event_type
     )
     UPDATE entity_heads h SET tombstone_touched = true, live = x.live, live_version = x.version, live_first_ms = x.first, live_last_ms = x.last, live_last_id = x.id, live_last_type = x.type, live_deleted = x.deleted
     FROM unnest($2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::bool[]) AS x(entity_id, live, version, first, last, id, type, deleted)
     WHERE h.tenant_id = $1 AND h.entity_id = x.entity_id`,
    [tenant, u.entity, u.live, u.version, u.first, u.last, u.id, u.type, u.deleted, types, CONTROL_ENTITY, NO_CUT],
  );
}
