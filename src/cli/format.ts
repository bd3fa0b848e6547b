// Human renderings of store results: one line per event, a header for entity state, and aligned
// key/value lines for stats. Machine output (`--json`) never goes through here.

import type { EntityState, StoredEvent } from '../core/types.js';

/** `position  timestamp  entity_id  event_type v<version>  {compact payload}` (plus `[deleted]`). */
export function formatEvent(event: StoredEvent): string {
  const deleted = event.deleted ? '  [deleted]' : '';
  return `${event.position}  ${event.timestamp}  ${event.entity_id}  ${event.event_type} v${event.version}  ${JSON.stringify(event.payload)}${deleted}`;
}

/** The header line above an entity's state. */
export function formatStateHeader(result: EntityState): string {
  const parts = [
    `entity ${result.entity_id}`,
    `version ${result.version}`,
    `event_count ${result.event_count}`,
    `last_updated ${result.last_updated || '-'}`,
  ];
  if (result.as_of !== null) parts.push(`as_of ${result.as_of}`);
  if (result.deleted) parts.push('[deleted]');
  return parts.join('  ');
}

/**
 * Flattens an object into `key  value` lines with the values aligned. Nested objects become
 * dotted keys (`store.kind`); arrays and other non-scalars are shown as compact JSON.
 */
export function formatKeyValues(value: Record<string, unknown>): string {
  const rows: Array<[string, string]> = [];
  flatten(value, '', rows);
  const width = rows.reduce((max, [key]) => Math.max(max, key.length), 0);
  return rows.map(([key, text]) => `${key.padEnd(width)}  ${text}`).join('\n');
}

function flatten(value: Record<string, unknown>, prefix: string, rows: Array<[string, string]>): void {
  for (const [key, item] of Object.entries(value)) {
    const name = prefix + key;
    if (typeof item === 'object' && item !== null && !Array.isArray(item) && Object.keys(item).length > 0) {
      flatten(item as Record<string, unknown>, `${name}.`, rows);
    } else if (item === undefined) {
      continue;
    } else {
      rows.push([name, renderScalar(item)]);
    }
  }
}

function renderScalar(item: unknown): string {
  // Control characters would garble the terminal; JSON string escaping makes them visible.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (typeof item === 'string') return /[\u0000-\u001f\u007f-\u009f]/.test(item) ? JSON.stringify(item) : item;
  if (typeof item === 'bigint') return String(item);
  return JSON.stringify(item) ?? String(item);
}
