// Rows of the events table as the port's StoredEvent, and the small pieces of SQL every read
// shares: the selected columns and the tombstone test as of a cut position.

import { deepFreeze } from '../fold.js';
import type { JsonObject, StoredEvent } from '../types.js';

/** Columns of an event, in the order eventOf reads them. */
export const EVENT_COLUMNS = 'e.tenant_id, e.position, e.id, e.entity_id, e.event_type, e.version, e.recorded_ms, e.occurred_ms, e.payload, e.metadata, e.hash';

export interface EventRow {
  tenant_id: string;
  position: number;
  id: string;
  entity_id: string;
  event_type: string;
  version: number;
  recorded_ms: number;
  occurred_ms: number;
  payload: string;
  metadata: string | null;
  hash: string;
  deleted?: boolean;
}

/** ISO form of a stored instant (the same normalized form EmbeddedCore writes). */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** A frozen StoredEvent from a row (marked `deleted` when the row says it is tombstoned at the read's cut). */
export function eventOf(row: EventRow): StoredEvent {
  const event: {
    id: string;
    tenant_id: string;
    entity_id: string;
    event_type: string;
    payload: JsonObject;
    metadata: JsonObject | null;
    timestamp: string;
    occurred_at: string;
    version: number;
    position: number;
    hash: string;
    deleted?: true;
  } = {
    id: row.id,
    tenant_id: row.tenant_id,
    entity_id: row.entity_id,
    event_type: row.event_type,
    payload: deepFreeze(JSON.parse(row.payload) as JsonObject),
    metadata: row.metadata === null ? null : deepFreeze(JSON.parse(row.metadata) as JsonObject),
    timestamp: isoOf(row.recorded_ms),
    occurred_at: isoOf(row.occurred_ms),
    version: row.version,
    position: row.position,
    hash: row.hash,
  };
  if (row.deleted === true) event.deleted = true;
  return Object.freeze(event);
}

/**
 * SQL true when event `e` is tombstoned as seen from a read cut at position `cutParam` (a
 * placeholder such as `$2`): the latest status change at or before the cut says deleted.
 */
export function deletedAt(cutParam: string): string {
  return `COALESCE((SELECT t.deleted FROM tombstones t WHERE t.tenant_id = e.tenant_id AND t.target_position = e.position AND t.control_position <= ${cutParam} ORDER BY t.control_position DESC LIMIT 1), false)`;
}

/** A position beyond every real one: "no cut". */
export const NO_CUT = Number.MAX_SAFE_INTEGER;

/** Escapes a prefix for LIKE … ESCAPE '\'. */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}
