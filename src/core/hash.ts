// The canonical form of an event and the per-tenant hash chain over it. Each event's hash is
// sha256 over the previous event's hash (same tenant) and its canonical form, so verify() can name
// the first altered position. The canonical form doubles as the event's record in the write-ahead
// log, so it is built once per append.

import { hash } from 'node:crypto';

/** Lines of a canonical event; its log record adds one more line, the hash. */
export const CANONICAL_LINES = 10;

/**
 * The canonical form: the recorded fields, one per line, payload and metadata as JSON text.
 * Unambiguous because ids and types cannot contain control characters and JSON.stringify never
 * emits a raw newline.
 */
export function canonicalEvent(
  e: { id: string; tenant_id: string; entity_id: string; event_type: string; timestamp: string; occurred_at: string; version: number; position: number },
  payloadJson: string,
  metadataJson: string,
): string {
  return (
    e.id + '\n' + e.tenant_id + '\n' + e.entity_id + '\n' + e.event_type + '\n' + e.timestamp + '\n' + e.occurred_at + '\n' +
    e.version + '\n' + e.position + '\n' + metadataJson + '\n' + payloadJson
  );
}

/** The next link of a chain. `previous` is '' for a tenant's first event. */
export function chainHash(previous: string, canonical: string): string {
  return hash('sha256', previous + '\n' + canonical, 'hex');
}
