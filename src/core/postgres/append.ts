// The append transaction of PostgresCore. With the tenant's head row locked, it checks
// idempotency and expected versions against what is committed, draws positions, chains hashes
// from the head (the same canonical form and hash as EmbeddedCore), folds each touched entity's
// state in JS with the embedded fold (RFC 7396; PostgreSQL's `||` is not merge-patch), and writes
// the events, then entity heads, type counts, snapshots and the new head, in two statements. The
// JS work that needs no answer is done while a statement is on the wire (the lookup, the insert).

import { checkExpectedVersion, conflictOnId, sameContent } from '../appendChecks.js';
import { evolveState, isDeletionType, jsonEqual, type FoldState } from '../fold.js';
import { canonicalEvent, chainHash } from '../hash.js';
import type { UuidV7Generator } from '../ids.js';
import { payloadWords } from '../embedded/searchIndex.js';
import { CONTROL_ENTITY, type AppendResult, type AppendedEvent, type JsonObject } from '../types.js';
import type { PreparedEvent } from '../validate.js';
import { boolArray, int4Array, int8Array, textArray, tsvectorArray, type TsvectorEntry } from './binary.js';
import { isoOf } from './rows.js';
import { SNAPSHOT_EVERY } from './schema.js';
import type { Db, TenantHead } from './session.js';

/** What the append path needs from its core. */
export interface AppendDeps {
  now: () => number;
  ids: UuidV7Generator;
}

interface ExistingRow {
  id: string;
  entity_id: string;
  event_type: string;
  payload: string;
  metadata: string | null;
  version: number;
  position: number;
  recorded_ms: number;
  occurred_ms: number;
}

export interface HeadRow {
  entity_id: string;
  version: number;
  /** Read as `state::json`, so the driver parses it (inside the lookup's one JSON document, once). */
  state: JsonObject | null;
  deleted: boolean;
  tombstone_touched: boolean;
  live: number;
  live_first_ms: number | null;
}

/** An event ready to be written: everything assigned. */
export interface FreshEvent {
  id: string;
  entity_id: string;
  event_type: string;
  payload: JsonObject;
  payloadJson: string;
  metadataJson: string;
  version: number;
  position: number;
  occurred_ms: number;
  hash: string;
  /** The payload's search entry, when it was made ahead (while the lookup ran); else writeEvents makes it. */
  search?: SearchEntry;
}

/** What search keeps of a payload: its tsvector and its word count. */
export interface SearchEntry {
  vector: TsvectorEntry;
  length: number;
}

/** One append call of a group: its prepared events and whether it is a dry run. */
export interface AppendCall {
  prepared: PreparedEvent[];
  dryRun: boolean;
}

/** Per call of a group: its result, or the typed error that rejects it alone. */
export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/** An id already recorded, or assigned earlier in this group: what a retry must match, and its result. */
interface KnownId {
  entity_id: string;
  event_type: string;
  payload: JsonObject;
  metadata: JsonObject | null;
  /** The recorded occurred_at; undefined while an event of this group still awaits its timestamp (then `given`). */
  occurred_at: string | undefined;
  given: string | undefined;
  result: () => AppendedEvent;
}

/** Runs inside a write transaction holding the head lock: one call (the control path). */
export async function appendLocked(db: Db, tenant: string, head: TenantHead, prepared: PreparedEvent[], dryRun: boolean, deps: AppendDeps): Promise<AppendResult> {
  const [outcome] = await appendGroup(db, tenant, head, [{ prepared, dryRun }], deps);
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}

/**
 * Appends the calls of a group in order inside one transaction (group commit: concurrent appends
 * to a tenant from this process share its lock, round trips and commit). Each call is checked
 * against what is committed and what earlier calls of the group wrote; a call that conflicts fails
 * alone and writes nothing, the others go on.
 */
export async function appendGroup(db: Db, tenant: string, head: TenantHead, calls: readonly AppendCall[], deps: AppendDeps): Promise<AppendOutcome[]> {
  const clientIds = new Set<string>();
  const entityIds = new Set<string>();
  let wanted = 0;
  let control = false;
  for (const call of calls) {
    if (!call.dryRun) wanted += call.prepared.length;
    for (const p of call.prepared) {
      if (p.id !== undefined) clientIds.add(p.id);
      if (p.entity_id !== CONTROL_ENTITY) entityIds.add(p.entity_id);
      else control = true;
    }
  }
  // Every part of the answer is JSON (positions too: JSON.parse reads a thousand numbers faster
  // than the driver's array parser), and the id lists go in binary like the write's columns.
  const pending = db.query<{ positions: number[] | null; existing: ExistingRow[]; heads: HeadRow[]; control_version: number | null }>(
    `SELECT
       (SELECT json_agg(n ORDER BY n) FROM (SELECT nextval('allsource_positions') AS n FROM generate_series(1, $4::int)) s) AS positions,
       (SELECT coalesce(json_agg(x), '[]') FROM (SELECT id, entity_id, event_type, payload, metadata, version, position, recorded_ms, occurred_ms FROM events WHERE tenant_id = $1 AND id = ANY($2::text[])) x) AS existing,
       (SELECT coalesce(json_agg(h), '[]') FROM (SELECT entity_id, version, state::json AS state, deleted, tombstone_touched, live, live_first_ms FROM entity_heads WHERE tenant_id = $1 AND entity_id = ANY($3::text[])) h) AS heads,
       (SELECT max(version) FROM events WHERE tenant_id = $1 AND entity_id = $5 AND $6) AS control_version`,
    [tenant, textArray([...clientIds]), textArray([...entityIds]), wanted, CONTROL_ENTITY, control],
  );
  // The lookup is on the wire (the driver writes it synchronously): while PostgreSQL answers, index
  // the payloads' words, which needs nothing from the answer. A duplicate found later wastes its entry.
  const search = new Map<PreparedEvent, SearchEntry>();
  try {
    for (const call of calls) {
      if (call.dryRun) continue;
      for (const p of call.prepared) if (p.entity_id !== CONTROL_ENTITY) search.set(p, searchEntryOf(p.payload));
    }
  } catch (err) {
    await pending.catch(() => undefined);
    throw err;
  }
  const row = (await pending).rows[0];
  const heads = new Map<string, HeadRow>();
  for (const h of row.heads) heads.set(h.entity_id, h);
  const known = new Map<string, KnownId>();
  for (const e of row.existing) {
    const result: AppendedEvent = { id: e.id, entity_id: e.entity_id, event_type: e.event_type, version: e.version, position: Number(e.position), timestamp: isoOf(Number(e.recorded_ms)), occurred_at: isoOf(Number(e.occurred_ms)), duplicate: true };
    known.set(e.id, { entity_id: e.entity_id, event_type: e.event_type, payload: JSON.parse(e.payload) as JsonObject, metadata: e.metadata === null ? null : (JSON.parse(e.metadata) as JsonObject), occurred_at: result.occurred_at, given: undefined, result: () => result });
  }
  /** Entity versions as of the group so far (committed, then what earlier calls wrote). */
  const versions = new Map<string, number>();
  const versionOf = (entity: string): number => versions.get(entity) ?? (entity === CONTROL_ENTITY ? (row.control_version ?? 0) : (heads.get(entity)?.version ?? 0));

  interface Planned {
    call: AppendCall;
    results: Array<AppendedEvent | undefined>;
    /** Indexes of the events to write, with their versions. */
    fresh: number[];
    versions: number[];
    /** Results filled in once the group's events have positions. */
    deferred: Array<[number, () => AppendedEvent]>;
  }
  const outcomes = new Array<AppendOutcome | undefined>(calls.length);
  const planned: Array<Planned | undefined> = new Array(calls.length);
  for (let c = 0; c < calls.length; c++) {
    const call = calls[c];
    const plan: Planned = { call, results: new Array(call.prepared.length), fresh: [], versions: new Array(call.prepared.length), deferred: [] };
    // The call's own view: committed + earlier calls, plus its own events so far (merged only if it passes).
    const ownIds = new Map<string, number>();
    const ownVersions = new Map<string, number>();
    try {
      for (let i = 0; i < call.prepared.length; i++) {
        const p = call.prepared[i];
        if (p.id !== undefined) {
          const earlier = ownIds.get(p.id);
          if (earlier !== undefined) {
            if (!sameContent(call.prepared[earlier], p)) throw conflictOnId(p.id, i);
            plan.deferred.push([i, () => ({ ...plan.results[earlier]!, duplicate: true })]);
            continue;
          }
          ownIds.set(p.id, i);
          const found = known.get(p.id);
          if (found !== undefined) {
            if (!sameKnown(found, p)) throw conflictOnId(p.id, i);
            plan.deferred.push([i, found.result]);
            continue;
          }
        }
        const current = ownVersions.get(p.entity_id) ?? versionOf(p.entity_id);
        checkExpectedVersion(p, i, current);
        plan.versions[i] = current + 1;
        ownVersions.set(p.entity_id, current + 1);
        plan.fresh.push(i);
      }
    } catch (error) {
      outcomes[c] = { ok: false, error };
      continue;
    }
    planned[c] = plan;
    if (call.dryRun) continue;
    for (const [entity, version] of ownVersions) versions.set(entity, version);
    for (const i of plan.fresh) {
      const p = call.prepared[i];
      if (p.id !== undefined) known.set(p.id, { entity_id: p.entity_id, event_type: p.event_type, payload: p.payload, metadata: p.metadata, occurred_at: undefined, given: p.occurred_at, result: () => ({ ...plan.results[i]!, duplicate: true }) });
    }
  }

  // Pass 2: ids, positions (drawn under the lock, so increasing in commit order), time, hashes.
  const writing = planned.filter((plan): plan is Planned => plan !== undefined && !plan.call.dryRun && plan.fresh.length > 0);
  if (writing.length > 0) {
    const ms = Math.max(deps.now(), head.last_ms);
    const timestamp = isoOf(ms);
    let generated = 0;
    for (const plan of writing) for (const i of plan.fresh) if (plan.call.prepared[i].id === undefined) generated++;
    const newIds = generated > 0 ? deps.ids.batch(ms, generated) : [];
    let nextId = 0;
    const positions = (row.positions ?? []).map(Number);
    let nextPosition = 0;
    let previous = head.last_hash;
    const events: FreshEvent[] = [];
    for (const plan of writing) {
      for (const i of plan.fresh) {
        const p = plan.call.prepared[i];
        const id = p.id ?? newIds[nextId++];
        const occurred_at = p.occurred_at ?? timestamp;
        const e = { id, tenant_id: tenant, entity_id: p.entity_id, event_type: p.event_type, timestamp, occurred_at, version: plan.versions[i], position: positions[nextPosition++] };
        previous = chainHash(previous, canonicalEvent(e, p.payloadJson, p.metadataJson));
        events.push({ id, entity_id: p.entity_id, event_type: p.event_type, payload: p.payload, payloadJson: p.payloadJson, metadataJson: p.metadataJson, version: e.version, position: e.position, occurred_ms: Date.parse(occurred_at), hash: previous, search: search.get(p) });
        plan.results[i] = { id, entity_id: p.entity_id, event_type: p.event_type, version: e.version, position: e.position, timestamp, occurred_at, duplicate: false };
      }
    }
    await writeEvents(db, tenant, head, events, ms, heads);
  }
  for (let c = 0; c < calls.length; c++) {
    const plan = planned[c];
    if (plan === undefined) continue;
    if (plan.call.dryRun) {
      // Report what would be written, with no id, position or time assigned.
      for (const i of plan.fresh) {
        const p = plan.call.prepared[i];
        plan.results[i] = { id: p.id ?? '', entity_id: p.entity_id, event_type: p.event_type, version: 0, position: 0, timestamp: '', occurred_at: p.occurred_at ?? '', duplicate: false };
      }
    }
    for (const [i, result] of plan.deferred) plan.results[i] = result();
    const last = plan.call.dryRun || plan.fresh.length === 0 ? 0 : plan.results[plan.fresh[plan.fresh.length - 1]]!.position;
    outcomes[c] = { ok: true, result: { events: plan.results as AppendedEvent[], last_position: last, dry_run: plan.call.dryRun } };
  }
  return outcomes as AppendOutcome[];
}

/** PostgreSQL caps a tsvector at 1 MB; stay well below it. */
const TSVECTOR_BUDGET = 900_000;

/**
 * A tsvector of counted words: each word with positions 1..count (at most 256, PostgreSQL's cap),
 * which is how search reads the term frequency back. A payload near the 1 MiB limit made of many
 * distinct words could overflow a tsvector: its words then go in without counts (each counts
 * once), and past the budget the rest are not indexed.
 */
function tsvectorOf(words: string[]): TsvectorEntry {
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const entry = { words: [...counts.keys()], counts: [...counts.values()].map((count) => Math.min(count, 256)) };
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: under that bound (every ordinary payload)
  // nothing is near the cap, and the exact byte counts are not needed.
  let bound = 0;
  for (let i = 0; i < entry.words.length; i++) bound += 3 * entry.words[i].length + 8 + 2 * entry.counts[i];
  if (bound <= TSVECTOR_BUDGET) return entry;
  let size = 0;
  for (let i = 0; i < entry.words.length; i++) size += Buffer.byteLength(entry.words[i]) + 8 + 2 * entry.counts[i];
  const withCounts = size <= TSVECTOR_BUDGET;
  let used = 0;
  let kept = 0;
  for (; kept < entry.words.length; kept++) {
    used += Buffer.byteLength(entry.words[kept]) + 8 + (withCounts ? 2 * entry.counts[kept] : 0);
    if (used > TSVECTOR_BUDGET) break;
  }
  return { words: entry.words.slice(0, kept), counts: withCounts ? entry.counts.slice(0, kept) : new Array<number>(kept).fill(0) };
}

function searchEntryOf(payload: JsonObject): SearchEntry {
  const words = payloadWords(payload);
  return { vector: tsvectorOf(words), length: words.length };
}

/**
 * Writes assigned events and everything derived from them (entity folds and summaries, type
 * counts, snapshots, search statistics, the tenant head) in two statements. `heads` holds the
 * current head rows of the touched entities. Watchers are told after the commit (listener.ts).
 */
export async function writeEvents(db: Db, tenant: string, head: TenantHead, events: FreshEvent[], ms: number, heads: ReadonlyMap<string, HeadRow>): Promise<void> {
  const n = events.length;
  const cols = {
    position: new Array<number>(n), id: new Array<string>(n), entity: new Array<string>(n), type: new Array<string>(n), version: new Array<number>(n),
    occurred: new Array<number>(n), payload: new Array<string>(n), metadata: new Array<string | null>(n), hash: new Array<string>(n),
    search: new Array<TsvectorEntry | null>(n), searchLen: new Array<number | null>(n), docs: new Array<number | null>(n), total: new Array<number | null>(n),
  };
  let docs = head.search_docs;
  let total = head.search_length;
  let live = 0;
  for (let k = 0; k < n; k++) {
    const e = events[k];
    cols.position[k] = e.position;
    cols.id[k] = e.id;
    cols.entity[k] = e.entity_id;
    cols.type[k] = e.event_type;
    cols.version[k] = e.version;
    cols.occurred[k] = e.occurred_ms;
    cols.payload[k] = e.payloadJson;
    cols.metadata[k] = e.metadataJson === 'null' ? null : e.metadataJson;
    cols.hash[k] = e.hash;
    if (e.entity_id === CONTROL_ENTITY) {
      cols.search[k] = null;
      cols.searchLen[k] = cols.docs[k] = cols.total[k] = null;
      continue;
    }
    live++;
    const entry = e.search ?? searchEntryOf(e.payload);
    docs++;
    total += entry.length;
    cols.search[k] = entry.vector;
    cols.searchLen[k] = entry.length;
    cols.docs[k] = docs;
    cols.total[k] = total;
  }
  // The event rows first (every array in PostgreSQL's binary format, binary.ts: no literal to
  // build here or to parse there). They are most of the server's work, so the folds below are
  // computed while it inserts them and their indexes; the second statement waits in the driver's
  // queue and goes out as soon as the first is done. Both run in the caller's transaction.
  const inserting = db.query(
    `INSERT INTO events (tenant_id, recorded_ms, position, id, entity_id, event_type, version, occurred_ms, payload, metadata, hash, search, search_len, search_docs, search_total)
     SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::tsvector[], $13::int[], $14::bigint[], $15::bigint[])`,
    [
      tenant, ms, int8Array(cols.position), textArray(cols.id), textArray(cols.entity), textArray(cols.type), int4Array(cols.version), int8Array(cols.occurred),
      textArray(cols.payload), textArray(cols.metadata), textArray(cols.hash), tsvectorArray(cols.search), int4Array(cols.searchLen), int8Array(cols.docs), int8Array(cols.total),
    ],
  );
  let derived: Promise<unknown>;
  try {
    derived = writeDerived(db, tenant, events, ms, heads, { live, docs, total });
  } catch (err) {
    await inserting.catch(() => undefined);
    throw err;
  }
  // If the insert fails the second statement fails too (the transaction is aborted): the first error is the one thrown.
  await Promise.all([inserting, derived]);
  const last = events[n - 1];
  head.last_position = last.position;
  head.last_hash = last.hash;
  head.last_ms = ms;
  head.first_ms ??= ms;
  head.live_events += live;
  head.search_docs = docs;
  head.search_length = total;
}

/**
 * Folds the touched entities (the embedded fold) and sends what derives from the events: entity
 * heads, type counts, snapshots, and the tenant head. Synchronous up to the send, so a fault here
 * is thrown before anything is queued.
 */
function writeDerived(db: Db, tenant: string, events: FreshEvent[], ms: number, heads: ReadonlyMap<string, HeadRow>, counts: { live: number; docs: number; total: number }): Promise<unknown> {
  const folds = new Map<string, { fold: FoldState; head: HeadRow | undefined; count: number; last: FreshEvent }>();
  const types = new Map<string, number>();
  const snapshots: { entity: string[]; version: number[]; state: (string | null)[]; deleted: boolean[] } = { entity: [], version: [], state: [], deleted: [] };
  for (const e of events) {
    if (e.entity_id === CONTROL_ENTITY) continue;
    types.set(e.event_type, (types.get(e.event_type) ?? 0) + 1);
    let f = folds.get(e.entity_id);
    if (f === undefined) {
      const h = heads.get(e.entity_id);
      f = { fold: { state: h?.state ?? null, deleted: h?.deleted ?? false }, head: h, count: 0, last: e };
      folds.set(e.entity_id, f);
    }
    f.fold = evolveState(f.fold, e);
    f.count++;
    f.last = e;
    if (e.version % SNAPSHOT_EVERY === 0) {
      snapshots.entity.push(e.entity_id);
      snapshots.version.push(e.version);
      snapshots.state.push(f.fold.state === null ? null : JSON.stringify(f.fold.state));
      snapshots.deleted.push(f.fold.deleted);
    }
  }
  const eh = newHeadColumns();
  for (const [entity, f] of folds) {
    eh.entity.push(entity);
    eh.version.push(f.last.version);
    eh.state.push(f.fold.state === null ? null : JSON.stringify(f.fold.state));
    eh.deleted.push(f.fold.deleted);
    const oldLive = f.head?.live ?? 0;
    eh.live.push(oldLive + f.count);
    eh.firstMs.push(oldLive > 0 && f.head?.live_first_ms != null ? Number(f.head.live_first_ms) : ms);
    eh.lastId.push(f.last.id);
    eh.lastType.push(f.last.event_type);
    eh.liveDeleted.push(isDeletionType(f.last.event_type));
  }
  const last = events[events.length - 1];
  return db.query(
    `WITH eh AS (
       INSERT INTO entity_heads (tenant_id, live_last_ms, entity_id, version, state, deleted, live, live_version, live_first_ms, live_last_id, live_last_type, live_deleted)
       SELECT $1, $2, u.entity_id, u.version, u.state, u.deleted, u.live, u.version, u.first_ms, u.last_id, u.last_type, u.live_deleted
       FROM unnest($3::text[], $4::int[], $5::text[], $6::bool[], $7::int[], $8::bigint[], $9::text[], $10::text[], $11::bool[]) AS u(entity_id, version, state, deleted, live, first_ms, last_id, last_type, live_deleted)
       ON CONFLICT (tenant_id, entity_id) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state, deleted = EXCLUDED.deleted, live = EXCLUDED.live,
         live_version = EXCLUDED.live_version, live_first_ms = EXCLUDED.live_first_ms, live_last_ms = EXCLUDED.live_last_ms, live_last_id = EXCLUDED.live_last_id,
         live_last_type = EXCLUDED.live_last_type, live_deleted = EXCLUDED.live_deleted
     ), th AS (
       INSERT INTO type_heads (tenant_id, last_live_ms, event_type, live) SELECT $1, $2, * FROM unnest($12::text[], $13::bigint[])
       ON CONFLICT (tenant_id, event_type) DO UPDATE SET live = type_heads.live + EXCLUDED.live, last_live_ms = EXCLUDED.last_live_ms
     ), sn AS (
       INSERT INTO state_snapshots (tenant_id, entity_id, version, state, deleted) SELECT $1, * FROM unnest($14::text[], $15::int[], $16::text[], $17::bool[])
     )
     UPDATE tenant_heads SET last_position = $18, last_hash = $19, last_ms = $2, first_ms = COALESCE(first_ms, $2), live_events = live_events + $20, search_docs = $21, search_length = $22
     WHERE tenant_id = $1`,
    [
      tenant, ms, ...headParams(eh),
      textArray([...types.keys()]), int8Array([...types.values()]),
      textArray(snapshots.entity), int4Array(snapshots.version), textArray(snapshots.state), boolArray(snapshots.deleted),
      last.position, last.hash, counts.live, counts.docs, counts.total,
    ],
  );
}

/** Columns of entity head rows to write, one array per column. */
function newHeadColumns() {
  return { entity: [] as string[], version: [] as number[], state: [] as (string | null)[], deleted: [] as boolean[], live: [] as number[], firstMs: [] as number[], lastId: [] as string[], lastType: [] as string[], liveDeleted: [] as boolean[] };
}

function headParams(c: ReturnType<typeof newHeadColumns>): Buffer[] {
  return [textArray(c.entity), int4Array(c.version), textArray(c.state), boolArray(c.deleted), int4Array(c.live), int8Array(c.firstMs), textArray(c.lastId), textArray(c.lastType), boolArray(c.liveDeleted)];
}

/** Whether a retried event matches what was recorded under its id (occurred_at only when the retry gives one). */
function sameKnown(known: KnownId, p: PreparedEvent): boolean {
  if (known.entity_id !== p.entity_id || known.event_type !== p.event_type || !jsonEqual(known.payload, p.payload) || !jsonEqual(known.metadata, p.metadata)) return false;
  if (p.occurred_at === undefined) return true;
  // An event of this group without a given occurred_at gets the group's timestamp, unknown yet: a
  // retry naming an instant is then not provably the same, and conflicts as it would once recorded
  // (unless it names what the original gave).
  return known.occurred_at !== undefined ? p.occurred_at === known.occurred_at : p.occurred_at === known.given;
}
