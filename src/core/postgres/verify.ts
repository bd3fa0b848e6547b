// Integrity check of one tenant's log on PostgreSQL: the same hash chain EmbeddedCore verifies,
// recomputed page by page in position order from the stored JSON texts.

import { canonicalEvent, chainHash } from '../hash.js';
import type { VerifyResult } from '../types.js';
import { isoOf, type EventRow } from './rows.js';
import type { Db } from './session.js';

const PAGE = 5000;

/** An event row without what the chain does not cover (the tenant is the query's, tombstones are not hashed). */
type ChainRow = Omit<EventRow, 'tenant_id' | 'deleted'>;

export async function verifyTenant(db: Db, tenant: string): Promise<VerifyResult> {
  let previous = '';
  let checked = 0;
  let after = 0;
  while (true) {
    const r = await db.query<ChainRow>(
      'SELECT position, id, entity_id, event_type, version, recorded_ms, occurred_ms, payload, metadata, hash FROM events WHERE tenant_id = $1 AND position > $2 ORDER BY position LIMIT $3',
      [tenant, after, PAGE],
    );
    for (const row of r.rows) {
      const e = { id: row.id, tenant_id: tenant, entity_id: row.entity_id, event_type: row.event_type, timestamp: isoOf(row.recorded_ms), occurred_at: isoOf(row.occurred_ms), version: row.version, position: row.position };
      // Re-serialized like EmbeddedCore does, so a payload whose stored text was edited is caught too.
      const payloadJson = JSON.stringify(JSON.parse(row.payload));
      const metadataJson = row.metadata === null ? 'null' : JSON.stringify(JSON.parse(row.metadata));
      const expected = chainHash(previous, canonicalEvent(e, payloadJson, metadataJson));
      if (expected !== row.hash) {
        return {
          ok: false,
          checked,
          head_hash: previous || null,
          first_broken_position: row.position,
          message: `hash chain broken at position ${row.position} (event ${row.id}): the stored event or its hash was altered`,
        };
      }
      previous = row.hash;
      checked++;
    }
    if (r.rows.length < PAGE) break;
    after = r.rows[r.rows.length - 1].position;
  }
  return { ok: true, checked, head_hash: previous || null, first_broken_position: null, message: `${checked} events verified` };
}
