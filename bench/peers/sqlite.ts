// The SQLite peer — what a user would pick instead of allsource: better-sqlite3 with
// journal_mode=WAL and synchronous=FULL, one `events` table with an index on
// (tenant_id, entity_id, version) and a unique index on (tenant_id, id) for idempotency keys.
// A batch is one transaction over a prepared INSERT; versions come from a per-entity counter in
// JS (seeded lazily from MAX(version), so it is also correct on an existing file); ids are the
// same UUIDv7s allsource makes; state folds payloads with the same RFC 7396 merge-patch.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { evolveState, EMPTY_FOLD, type FoldState } from '../../src/core/fold.js';
import { UuidV7Generator } from '../../src/core/ids.js';
import type { AppendedEvent, JsonObject, NewEvent, StoredEvent } from '../../src/index.js';
import type { BenchPeer } from './peer.js';

export const SQLITE_FILE = 'events.db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  timestamp TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  payload TEXT NOT NULL,
  metadata TEXT
);
CREATE INDEX IF NOT EXISTS events_entity ON events (tenant_id, entity_id, version);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events (tenant_id, id);
`;

// tenant_id is the query's own argument, so it is not fetched back (no handicap for the peer).
const COLUMNS = 'position, entity_id, event_type, id, version, timestamp, occurred_at, payload, metadata';

interface Row {
  position: number;
  entity_id: string;
  event_type: string;
  id: string;
  version: number;
  timestamp: string;
  occurred_at: string;
  payload: string;
  metadata: string | null;
}

/** Opens (or creates) the database file with the settings the benchmark compares against. */
export function openSqliteDatabase(dir: string): Database.Database {
  const db = new Database(join(dir, SQLITE_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  return db;
}

/** The read statement of the entity-read scenario (shared with the reopen child). */
export function prepareEntityQuery(db: Database.Database): (tenant: string, entityId: string, limit: number) => StoredEvent[] {
  const stmt = db.prepare<[string, string, number], Row>(
    `SELECT ${COLUMNS} FROM events WHERE tenant_id = ? AND entity_id = ? ORDER BY version LIMIT ?`,
  );
  return (tenant, entityId, limit) => stmt.all(tenant, entityId, limit).map((row) => toStoredEvent(tenant, row));
}

function toStoredEvent(tenant: string, row: Row): StoredEvent {
  return {
    id: row.id,
    tenant_id: tenant,
    entity_id: row.entity_id,
    event_type: row.event_type,
    payload: JSON.parse(row.payload) as JsonObject,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as JsonObject),
    timestamp: row.timestamp,
    occurred_at: row.occurred_at,
    version: row.version,
    position: row.position,
    hash: '',
  };
}

export async function openSqlitePeer(dir: string): Promise<BenchPeer> {
  const db = openSqliteDatabase(dir);
  const insert = db.prepare<[string, string, string, string, number, string, string, string, string | null]>(
    'INSERT INTO events (tenant_id, entity_id, event_type, id, version, timestamp, occurred_at, payload, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const maxVersion = db.prepare<[string, string], { v: number | null }>(
    'SELECT MAX(version) AS v FROM events WHERE tenant_id = ? AND entity_id = ?',
  );
  const foldAll = db.prepare<[string, string], { event_type: string; payload: string; version: number }>(
    'SELECT event_type, payload, version FROM events WHERE tenant_id = ? AND entity_id = ? ORDER BY version',
  );
  const foldAsOf = db.prepare<[string, string, string], { event_type: string; payload: string; version: number }>(
    'SELECT event_type, payload, version FROM events WHERE tenant_id = ? AND entity_id = ? AND timestamp <= ? ORDER BY version',
  );
  const entityQuery = prepareEntityQuery(db);

  const versions = new Map<string, number>(); // `${tenant}\0${entity}` -> last version
  const ids = new UuidV7Generator();
  let lastMs = 0;

  const insertBatch = db.transaction((tenant: string, events: NewEvent[], ms: number, timestamp: string) => {
    const pending = new Map<string, number>();
    const out: AppendedEvent[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const key = `${tenant}\u0000${e.entity_id}`;
      let current = pending.get(key) ?? versions.get(key);
      if (current === undefined) current = maxVersion.get(tenant, e.entity_id)?.v ?? 0;
      const version = current + 1;
      pending.set(key, version);
      const id = e.id ?? ids.next(ms);
      const occurredAt = e.occurred_at ?? timestamp;
      const info = insert.run(
        tenant, e.entity_id, e.event_type, id, version, timestamp, occurredAt,
        JSON.stringify(e.payload), e.metadata == null ? null : JSON.stringify(e.metadata),
      );
      out[i] = {
        id, entity_id: e.entity_id, event_type: e.event_type, version, position: Number(info.lastInsertRowid),
        timestamp, occurred_at: occurredAt, duplicate: false,
      };
    }
    return { out, pending };
  });

  return {
    name: 'sqlite',
    dir,
    async append(tenant, events) {
      const ms = Math.max(lastMs, Date.now());
      lastMs = ms;
      const { out, pending } = insertBatch(tenant, events, ms, new Date(ms).toISOString());
      for (const [key, version] of pending) versions.set(key, version); // only after the commit
      return { events: out, last_position: out.length ? out[out.length - 1].position : 0, dry_run: false };
    },
    async query(tenant, entityId, limit) {
      return entityQuery(tenant, entityId, limit);
    },
    async state(tenant, entityId, asOf) {
      const rows = asOf === undefined ? foldAll.all(tenant, entityId) : foldAsOf.all(tenant, entityId, asOf);
      let fold: FoldState = EMPTY_FOLD;
      for (const row of rows) fold = evolveState(fold, { event_type: row.event_type, payload: JSON.parse(row.payload) as JsonObject });
      return { state: fold.state, version: rows.length ? rows[rows.length - 1].version : 0, event_count: rows.length };
    },
    async settle() {},
    async close() {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}
