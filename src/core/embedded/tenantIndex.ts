// The in-memory projection of one tenant's log and every read of the port for that tenant:
// queries, as-of states, search, listings, watches, tombstone selection and verification. The
// table it reads (columns in position order, row lists by entity and type, fold snapshots,
// tombstone history, applying events) is EventTable in eventTable.ts. It does no I/O and never
// sees another tenant's events.

import { encodeCursor, decodeCursor, queryFingerprint } from '../cursor.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { compareRanked, SearchIndex } from './searchIndex.js';
import { EMPTY_FOLD, evolveState, foldSteps, getPath, jsonEqual, type FoldState } from '../fold.js';
import { canonicalEvent, chainHash } from '../hash.js';
import { formatInstant } from '../time.js';
import {
  CONTROL_ENTITY,
  type EntitiesResult,
  type EntityState,
  type EntitySummary,
  type EventTypesResult,
  type QueryResult,
  type SearchResult,
  type StoredEvent,
  type TenantStats,
  type VerifyResult,
} from '../types.js';
import type { CheckedFilter, CheckedSearch, CheckedSelector, CheckedWatchOptions } from '../validate.js';

import { EventTable, markDeleted, NO_CUT } from './eventTable.js';

export type { ControlPayload } from './eventTable.js';

/** First index in `rows` (position-ordered) whose position is >= `position`. */
function lowerBoundByPosition(rows: readonly number[], positions: readonly number[], position: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[rows[mid]] < position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in a sorted string array whose value is > `key` (or >= when `inclusive`). */
function lowerBoundString(sorted: readonly string[], key: string, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < key || (!inclusive && sorted[mid] === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Up to `limit` matching rows after `after` from several position-ordered row lists, merged by position. */
function mergeAfter(lists: readonly (readonly number[])[], positions: readonly number[], after: number, limit: number, matches: (row: number) => boolean): number[] {
  const next = lists.map((list) => lowerBoundByPosition(list, positions, after + 1));
  const out: number[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let k = 0; k < lists.length; k++) {
      if (next[k] < lists[k].length && (best < 0 || positions[lists[k][next[k]]] < positions[lists[best][next[best]]])) best = k;
    }
    if (best < 0) break;
    const row = lists[best][next[best]++];
    if (matches(row)) out.push(row);
  }
  return out;
}

export class TenantIndex extends EventTable {
  // --- reads -----------------------------------------------------------------------------------

  search(o: CheckedSearch): SearchResult {
    const fingerprint = (): string => queryFingerprint(o.fingerprintParts);
    // A cursor pins the cut of the first page, so later writes cannot reshuffle the ranking.
    let after: { cut: number; score: number; position: number } | undefined;
    if (o.cursor !== undefined) {
      const [cut, score, position] = String(decodeCursor(o.cursor, fingerprint(), 'options.cursor', 'string')).split(':').map(Number);
      if (![cut, score, position].every(Number.isFinite)) throw new InvalidError('options.cursor', 'is not a cursor returned by this store');
      after = { cut, score, position };
    }
    const cut = after?.cut ?? (o.as_of === undefined ? this.lastPosition : this.positionAsOf(o.as_of));
    if (this.searchIndex === null) {
      this.searchIndex = new SearchIndex(this.positions);
      for (let row = 0; row < this.positions.length; row++) if (this.rowEntity[row].entity_id !== CONTROL_ENTITY) this.searchIndex.add(row, this.peek(row).payload);
    }
    const ranked = this.searchIndex.score(o.query, cut, (row) => {
      if (o.entity_id !== undefined && this.rowEntity[row].entity_id !== o.entity_id) return false;
      if (o.event_type !== undefined && this.rowType[row].event_type !== o.event_type) return false;
      return o.include_deleted || !this.isDeletedAt(row, cut);
    });
    let start = 0;
    if (after !== undefined) {
      const last = { score: after.score, position: after.position };
      while (start < ranked.length && compareRanked(ranked[start], last) <= 0) start++;
    }
    const page = ranked.slice(start, start + o.limit);
    const hasMore = start + o.limit < ranked.length;
    const hits = page.map(({ row, score }) => ({ event: this.isDeletedAt(row, cut) ? markDeleted(this.at(row)) : this.at(row), score }));
    const lastHit = page.at(-1);
    const next_cursor = hasMore && lastHit ? encodeCursor({ k: `${cut}:${lastHit.score}:${lastHit.position}`, q: fingerprint() }) : null;
    return { hits, next_cursor, has_more: hasMore };
  }

  getById(id: string, includeDeleted: boolean): StoredEvent {
    const row = this.findRow(id);
    if (row < 0) throw new NotFoundError(`event ${JSON.stringify(id)} not found`, { field: 'id' });
    if (this.isDeletedAt(row, NO_CUT)) {
      if (!includeDeleted) throw new NotFoundError(`event ${JSON.stringify(id)} is deleted (tombstoned); pass include_deleted to read it`, { field: 'id' });
      return markDeleted(this.at(row));
    }
    return this.at(row);
  }

  query(f: CheckedFilter): QueryResult {
    const after = f.cursor === undefined ? undefined : (decodeCursor(f.cursor, queryFingerprint(f.fingerprintParts), 'filter.cursor', 'number') as number);
    const positions = this.positions;

    // Position window from the time bounds and the cursor.
    let low = 0;
    let high = NO_CUT;
    if (f.as_of !== undefined) high = Math.min(high, this.positionAsOf(f.as_of));
    if (f.until !== undefined) high = Math.min(high, this.positionAsOf(f.until));
    if (f.since !== undefined) {
      const i = this.firstIndexAtOrAfter(f.since);
      low = Math.max(low, i < positions.length ? positions[i] : NO_CUT);
    }
    const cut = f.as_of === undefined ? NO_CUT : high;
    if (after !== undefined) {
      if (f.order === 'asc') low = Math.max(low, after + 1);
      else high = Math.min(high, after - 1);
    }

    // The narrowest row list that holds every candidate.
    let candidates: readonly number[];
    const entity = f.entity_id === undefined ? undefined : this.entityRecords.get(f.entity_id);
    if (f.entity_id !== undefined) candidates = entity?.rows ?? [];
    else if (f.event_type !== undefined) candidates = this.typeRecords.get(f.event_type)?.rows ?? [];
    else candidates = this.allRows();
    const wantControl = f.entity_id === CONTROL_ENTITY;
    const checkTombstones = this.transitions.size > 0;

    // Fast path: when the candidate list itself is the whole filter, a page is a slice of it.
    const plain =
      !checkTombstones &&
      f.entity_prefix === undefined &&
      f.event_type_prefix === undefined &&
      f.payload_equals === undefined &&
      f.occurred_since === undefined &&
      f.occurred_until === undefined &&
      !(f.entity_id !== undefined && f.event_type !== undefined) &&
      (f.entity_id !== undefined || this.controlEvents === 0);
    if (plain) {
      if (low > high) return { events: [], next_cursor: null, has_more: false };
      // Unbounded ends need no search (most entity reads are unbounded).
      const from = low === 0 ? 0 : lowerBoundByPosition(candidates, positions, low);
      const to = high === NO_CUT ? candidates.length : lowerBoundByPosition(candidates, positions, high + 1);
      const hasMore = to - from > f.limit;
      const [start, end] = f.order === 'asc' ? [from, Math.min(to, from + f.limit)] : [Math.max(from, to - f.limit), to];
      const page = entity !== undefined ? this.entityEvents(entity, start, end) : this.rowsToEvents(candidates.slice(start, end));
      if (f.order === 'desc') page.reverse();
      const next_cursor = hasMore ? encodeCursor({ k: page[page.length - 1].position, q: queryFingerprint(f.fingerprintParts) }) : null;
      return { events: page, next_cursor, has_more: hasMore };
    }

    const out: StoredEvent[] = [];
    let hasMore = false;
    const accept = (row: number): boolean => {
      const entityId = this.rowEntity[row].entity_id;
      const eventType = this.rowType[row].event_type;
      if (f.entity_id !== undefined && entityId !== f.entity_id) return false;
      if (f.event_type !== undefined && eventType !== f.event_type) return false;
      if (!wantControl && entityId === CONTROL_ENTITY) return false;
      if (f.entity_prefix !== undefined && !entityId.startsWith(f.entity_prefix)) return false;
      if (f.event_type_prefix !== undefined && !eventType.startsWith(f.event_type_prefix)) return false;
      if (f.occurred_since !== undefined || f.occurred_until !== undefined) {
        const occurred = Date.parse(this.peek(row).occurred_at);
        if (f.occurred_since !== undefined && occurred < f.occurred_since) return false;
        if (f.occurred_until !== undefined && occurred > f.occurred_until) return false;
      }
      if (f.payload_equals !== undefined) {
        const payload = this.peek(row).payload;
        for (const { path, value } of f.payload_equals) if (!jsonEqual(getPath(payload, path), value)) return false;
      }
      return true;
    };
    const emit = (row: number): boolean => {
      if (!accept(row)) return false;
      let deleted = false;
      if (checkTombstones && this.isDeletedAt(row, cut)) {
        if (!f.include_deleted) return false;
        deleted = true;
      }
      if (out.length === f.limit) {
        hasMore = true;
        return true;
      }
      out.push(deleted ? markDeleted(this.at(row)) : this.at(row));
      return false;
    };
    if (low <= high) {
      if (f.order === 'asc') {
        for (let i = lowerBoundByPosition(candidates, positions, low); i < candidates.length && positions[candidates[i]] <= high; i++) {
          if (emit(candidates[i])) break;
        }
      } else {
        for (let i = lowerBoundByPosition(candidates, positions, high + 1) - 1; i >= 0 && positions[candidates[i]] >= low; i--) {
          if (emit(candidates[i])) break;
        }
      }
    }
    // The fingerprint costs a hash, so it is computed only when a cursor is read or written.
    const next_cursor = hasMore ? encodeCursor({ k: out[out.length - 1].position, q: queryFingerprint(f.fingerprintParts) }) : null;
    return { events: out, next_cursor, has_more: hasMore };
  }

  state(entityId: string, asOfMs: number | undefined): EntityState {
    const entity = this.entityRecords.get(entityId);
    const asOf = asOfMs === undefined ? null : formatInstant(asOfMs);
    const missing = (): NotFoundError =>
      new NotFoundError(`entity ${JSON.stringify(entityId)} has no events${asOf ? ` recorded at or before ${asOf}` : ''}`, { field: 'entity_id' });
    if (entity === undefined || entityId === CONTROL_ENTITY) throw missing();
    const rows = entity.rows;
    // Recorded times never decrease in position order, so the events as of an instant are the
    // entity's rows recorded at or before it: a search of the entity's rows, not of the table.
    const count = asOfMs === undefined ? rows.length : this.countRecordedAtOrBefore(rows, asOfMs);
    if (count === 0) throw missing();

    if (!entity.tombstoneTouched) {
      this.catchUp(entity);
      let fold: FoldState;
      if (count === rows.length) {
        fold = entity.current;
      } else {
        const k = Math.floor(count / this.snapshotEvery);
        fold = k === 0 ? EMPTY_FOLD : entity.snapshots[k - 1];
        const base = k * this.snapshotEvery;
        fold = foldSteps(fold, count - base, (i) => entity.objects[base + i] ?? this.decode(rows[base + i]));
      }
      // Versions are gapless, so the count-th event of the entity is at version `count`.
      return { entity_id: entityId, state: fold.state, version: count, last_updated: this.timestampOf(rows[count - 1]), event_count: count, deleted: fold.deleted, as_of: asOf };
    }
    // Slow path: some events were tombstoned at some point; fold only those visible at the cut.
    const cut = asOfMs === undefined ? NO_CUT : this.positionAsOf(asOfMs);
    let fold: FoldState = EMPTY_FOLD;
    let folded = 0;
    let last = -1;
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      if (this.isDeletedAt(row, cut)) continue;
      fold = evolveState(fold, this.peek(row));
      folded++;
      last = row;
    }
    if (last < 0) throw missing();
    return { entity_id: entityId, state: fold.state, version: this.versionOf(last), last_updated: this.timestampOf(last), event_count: folded, deleted: fold.deleted, as_of: asOf };
  }

  /** The newest row of `rows` whose event is not tombstoned now (-1 when none). */
  private lastLive(rows: readonly number[]): number {
    for (let i = rows.length - 1; i >= 0; i--) if (!this.isDeletedAt(rows[i], NO_CUT)) return rows[i];
    return -1;
  }

  private firstLive(rows: readonly number[]): number {
    for (let i = 0; i < rows.length; i++) if (!this.isDeletedAt(rows[i], NO_CUT)) return rows[i];
    return -1;
  }

  entities(prefix: string | undefined, cursor: string | undefined, limit: number): EntitiesResult {
    if (this.sortedEntityIds === null) this.sortedEntityIds = [...this.entityRecords.keys()].sort();
    const sorted = this.sortedEntityIds;
    const page = pageSorted(sorted, prefix, cursor, limit, 'options.cursor', ['entities', prefix ?? null], (id) => {
      if (id === CONTROL_ENTITY) return undefined;
      const entity = this.entityRecords.get(id)!;
      if (entity.live === 0) return undefined;
      const last = this.lastLive(entity.rows);
      const first = this.firstLive(entity.rows);
      if (!entity.tombstoneTouched) this.catchUp(entity);
      const deleted = entity.tombstoneTouched ? this.state(id, undefined).deleted : entity.current.deleted;
      const summary: EntitySummary = {
        entity_id: id,
        event_count: entity.live,
        version: this.versionOf(last),
        first_event_at: this.timestampOf(first),
        last_event_at: this.timestampOf(last),
        last_event_id: this.idOf(last),
        last_event_type: this.rowType[last].event_type,
        deleted,
      };
      return summary;
    });
    return { entities: page.items, next_cursor: page.next_cursor, has_more: page.has_more };
  }

  eventTypes(prefix: string | undefined, cursor: string | undefined, limit: number): EventTypesResult {
    if (this.sortedTypes === null) this.sortedTypes = [...this.typeRecords.keys()].sort();
    const page = pageSorted(this.sortedTypes, prefix, cursor, limit, 'options.cursor', ['event_types', prefix ?? null], (name) => {
      const type = this.typeRecords.get(name)!;
      if (type.live === 0 || this.rowEntity[type.rows[0]].entity_id === CONTROL_ENTITY) return undefined;
      return { event_type: name, count: type.live, last_event_at: this.timestampOf(this.lastLive(type.rows)) };
    });
    return { event_types: page.items, next_cursor: page.next_cursor, has_more: page.has_more };
  }

  stats(): TenantStats {
    let entities = 0;
    for (const [id, entity] of this.entityRecords) if (entity.live > 0 && id !== CONTROL_ENTITY) entities++;
    let types = 0;
    for (const type of this.typeRecords.values()) if (type.live > 0 && this.rowEntity[type.rows[0]].entity_id !== CONTROL_ENTITY) types++;
    const rows = this.positions.length;
    return {
      tenant_id: this.tenant,
      events: this.liveEvents,
      tombstoned_events: this.tombstonedEvents,
      entities,
      event_types: types,
      first_event_at: rows === 0 ? null : this.timestampOf(0),
      last_event_at: rows === 0 ? null : this.timestampOf(rows - 1),
      last_position: this.lastPosition,
    };
  }

  /**
   * Live events after `after`, in position order, matching the watch filters; control events only
   * when asked for (`include_control`, or `entity_id: '$control'`).
   */
  eventsAfter(after: number, o: Pick<CheckedWatchOptions, 'limit' | 'entity_id' | 'event_type' | 'event_type_prefix' | 'include_control'>): StoredEvent[] {
    const matches = (row: number): boolean => {
      const entityId = this.rowEntity[row].entity_id;
      const eventType = this.rowType[row].event_type;
      if (entityId === CONTROL_ENTITY) return o.include_control || o.entity_id === CONTROL_ENTITY;
      if (o.entity_id !== undefined && entityId !== o.entity_id) return false;
      if (o.event_type !== undefined && eventType !== o.event_type) return false;
      if (o.event_type_prefix !== undefined && !eventType.startsWith(o.event_type_prefix)) return false;
      return !this.isDeletedAt(row, NO_CUT);
    };
    // The narrowest position-ordered lists that hold every match; several are merged by position.
    const lists: (readonly number[])[] = [];
    if (o.entity_id !== undefined) lists.push(this.entityRecords.get(o.entity_id)?.rows ?? []);
    else if (o.event_type !== undefined) lists.push(this.typeRecords.get(o.event_type)?.rows ?? []);
    else if (o.event_type_prefix !== undefined) {
      for (const [type, record] of this.typeRecords) if (type.startsWith(o.event_type_prefix)) lists.push(record.rows);
    } else lists.push(this.allRows());
    if (o.include_control && o.entity_id !== CONTROL_ENTITY && lists[0] !== this.everyRow) lists.push(this.entityRecords.get(CONTROL_ENTITY)?.rows ?? []);
    return this.rowsToEvents(mergeAfter(lists, this.positions, after, o.limit, matches));
  }

  /** The user events a tombstone (`deleting`) or restore would change now. */
  select(selector: CheckedSelector, deleting: boolean): StoredEvent[] {
    let candidates: readonly number[];
    if (selector.ids !== undefined) {
      const found: number[] = [];
      for (const id of selector.ids) {
        const row = this.findRow(id);
        if (row >= 0) found.push(row);
      }
      // Rows are in position order.
      candidates = found.sort((a, b) => a - b);
    } else if (selector.entity_id !== undefined) {
      candidates = this.entityRecords.get(selector.entity_id)?.rows ?? [];
    } else {
      candidates = this.typeRecords.get(selector.event_type!)?.rows ?? [];
    }
    const out: StoredEvent[] = [];
    for (const row of candidates) {
      const entityId = this.rowEntity[row].entity_id;
      if (entityId === CONTROL_ENTITY) continue;
      if (selector.entity_id !== undefined && entityId !== selector.entity_id) continue;
      if (selector.event_type !== undefined && this.rowType[row].event_type !== selector.event_type) continue;
      if (selector.since !== undefined || selector.until !== undefined) {
        const ms = this.recordedMs[row];
        if (selector.since !== undefined && ms < selector.since) continue;
        if (selector.until !== undefined && ms > selector.until) continue;
      }
      if (this.isDeletedAt(row, NO_CUT) === deleting) continue;
      out.push(this.at(row));
    }
    return out;
  }

  /** Recomputes the hash chain over every event and reports the first position that does not match. */
  verify(): VerifyResult {
    let previous = '';
    let checked = 0;
    for (let row = 0; row < this.positions.length; row++) {
      const e = this.peek(row);
      const expected = chainHash(previous, canonicalEvent(e, JSON.stringify(e.payload), JSON.stringify(e.metadata)));
      if (expected !== e.hash) {
        return {
          ok: false,
          checked,
          head_hash: this.headHash || null,
          first_broken_position: e.position,
          message: `hash chain broken at position ${e.position} (event ${e.id}): the stored event or its hash was altered`,
        };
      }
      previous = e.hash;
      checked++;
    }
    return { ok: true, checked, head_hash: this.headHash || null, first_broken_position: null, message: `${checked} events verified` };
  }
}

/** Pages through a sorted key list with an optional prefix and a name cursor; `render` may skip a key. */
function pageSorted<T>(
  sorted: readonly string[],
  prefix: string | undefined,
  cursor: string | undefined,
  limit: number,
  cursorField: string,
  fingerprintParts: unknown[],
  render: (key: string) => T | undefined,
): { items: T[]; next_cursor: string | null; has_more: boolean } {
  let start = prefix === undefined ? 0 : lowerBoundString(sorted, prefix, true);
  if (cursor !== undefined) {
    const last = decodeCursor(cursor, queryFingerprint(fingerprintParts), cursorField, 'string') as string;
    start = Math.max(start, lowerBoundString(sorted, last, false));
  }
  const items: T[] = [];
  let lastKey: string | undefined;
  for (let i = start; i < sorted.length; i++) {
    const key = sorted[i];
    if (prefix !== undefined && !key.startsWith(prefix)) break;
    const item = render(key);
    if (item === undefined) continue;
    if (items.length === limit) {
      return { items, next_cursor: encodeCursor({ k: lastKey!, q: queryFingerprint(fingerprintParts) }), has_more: true };
    }
    items.push(item);
    lastKey = key;
  }
  return { items, next_cursor: null, has_more: false };
}
