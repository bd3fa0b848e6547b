// The checks every EventStore's append makes the same way, so EmbeddedCore and PostgresCore
// agree on what a retry is and word their conflicts alike: a repeated id must carry the same
// content, and an expected_version must be the entity's current one.

import { ConflictError } from './errors.js';
import { jsonEqual } from './fold.js';
import type { PreparedEvent } from './validate.js';

/** Whether two events of one call under the same id carry the same content. */
export function sameContent(a: PreparedEvent, b: PreparedEvent): boolean {
  return a.entity_id === b.entity_id && a.event_type === b.event_type && jsonEqual(a.payload, b.payload) && jsonEqual(a.metadata, b.metadata) && a.occurred_at === b.occurred_at;
}

export function conflictOnId(id: string, index: number): ConflictError {
  return new ConflictError(
    `events[${index}].id: an event with id ${JSON.stringify(id)} was already recorded with different content; use a new id for a new event`,
    { field: `events[${index}].id`, details: { id } },
  );
}

/** Throws when event `index` expects a version of its entity other than `current`. */
export function checkExpectedVersion(p: PreparedEvent, index: number, current: number): void {
  if (p.expected_version === undefined || p.expected_version === current) return;
  throw new ConflictError(
    `events[${index}].expected_version: entity ${JSON.stringify(p.entity_id)} is at version ${current}, not ${p.expected_version}; read it again and retry`,
    { field: `events[${index}].expected_version`, details: { entity_id: p.entity_id, expected: p.expected_version, actual: current } },
  );
}
