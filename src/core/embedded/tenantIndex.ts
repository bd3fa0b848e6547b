// The in-memory projection of one tenant's log: events in position order plus indexes by id,
// entity and type, per-entity state snapshots, and tombstone history. It answers every read of the
// port for that tenant. It does no I/O and never sees another tenant's events.

import { encodeCursor, decodeCursor, queryFingerprint } from '../cursor.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { compareRanked, SearchIndex } from './searchIndex.js';
import { EMPTY_FOLD, evolveState, getPath, jsonEqual, type FoldState } from '../fold.js';
import { canonicalEvent, chainHash } from '../hash.js';
import { uuidV7Millis, uuidV7Prefix } from '../ids.js';
import { formatInstant } from '../time.js';
import {
  CONTROL_ENTITY,
  TOMBSTONE_EVENT,
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

interface EntityRecord {
  entity_id: string;
  /** In version order, which is also position order. */
  events: StoredEvent[];
  /** snapshots[k] is the fold after version (k + 1) * snapshotEvery (tombstones ignored). */
  snapshots: FoldState[];
  /** The fold after the first `folded` events (tombstones ignored). */
  current: FoldState;
  /** How many events `current` and `snapshots` cover; recovery defers folding, reads catch up. */
  folded: number;
  /** Events not tombstoned now. */
  live: number;
  /** Once any event of the entity was tombstoned, folds take the slow path that checks each event. */
  tombstoneTouched: boolean;
}

interface TypeRecord {
  event_type: string;
  events: StoredEvent[];
  live: number;
}

/** One change of an event's tombstone status, made by the control event at `position`. */
interface Transition {
  position: number;
  deleted: boolean;
}

/** Payload of `$tombstone` / `$restore` control events. */
export interface ControlPayload {
  event_ids: string[];
  reason: string;
}

/** First index in `events` (position-ordered) whose position is >= `position`. */
function lowerBoundByPosition(events: readonly StoredEvent[], position: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid].position < position) lo = mid + 1;
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

/** Up to `limit` matching events after `after` from several position-ordered lists, merged by position. */
function mergeAfter(lists: readonly (readonly StoredEvent[])[], after: number, limit: number, matches: (e: StoredEvent) => boolean): StoredEvent[] {
  const next = lists.map((list) => lowerBoundByPosition(list, after + 1));
  const out: StoredEvent[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let k = 0; k < lists.length; k++) {
      if (next[k] < lists[k].length && (best < 0 || lists[k][next[k]].position < lists[best][next[best]].position)) best = k;
    }
    if (best < 0) break;
    const e = lists[best][next[best]++];
    if (matches(e)) out.push(e);
  }
  return out;
}

const NO_CUT = Number.MAX_SAFE_INTEGER;

export class TenantIndex {
  readonly tenant: string;
  private readonly snapshotEvery: number;
  /** Every event of the tenant (control events too), in position order. */
  private readonly events: StoredEvent[] = [];
  /** Recorded time of `events[i]` in ms, for binary search by time. */
  private readonly recordedMs: number[] = [];
  /**
   * Events whose id cannot be found from its time. Store-generated UUIDv7 ids embed the recorded
   * millisecond, so those are found by binary search on time instead, which keeps a million-entry
   * map (and its memory) off the append path.
   */
  private readonly otherIds = new Map<string, StoredEvent>();
  private lastIdPrefix = '';
  private readonly entityRecords = new Map<string, EntityRecord>();
  private readonly typeRecords = new Map<string, TypeRecord>();
  private readonly transitions = new Map<string, Transition[]>();
  private sortedEntityIds: string[] | null = null;
  private sortedTypes: string[] | null = null;
  private liveEvents = 0;
  private controlEvents = 0;
  private tombstonedEvents = 0;
  private lastTimestamp = '';
  private lastMs = 0;
  /** Hash of the last applied event ('' before the first). */
  headHash = '';
  private readonly waiters = new Set<() => void>();

  constructor(tenant: string, snapshotEvery: number) {
    this.tenant = tenant;
    this.snapshotEvery = snapshotEvery;
  }

  get size(): number {
    return this.events.length;
  }

  get lastPosition(): number {
    return this.events.length === 0 ? 0 : this.events[this.events.length - 1].position;
  }

  /** The committed event with this id, tombstoned or not. */
  findById(id: string): StoredEvent | undefined {
    const found = this.otherIds.get(id);
    if (found !== undefined) return found;
    const ms = uuidV7Millis(id);
    if (ms === undefined) return undefined;
    for (let i = this.firstIndexAtOrAfter(ms); i < this.events.length && this.recordedMs[i] === ms; i++) {
      if (this.events[i].id === id) return this.events[i];
    }
    return undefined;
  }

  /** The entity's latest committed version (0 when it has no events). */
  entityVersion(entityId: string): number {
    return this.entityRecords.get(entityId)?.events.length ?? 0;
  }

  /**
   * Adds one committed event (in position order). The entity's state fold is deferred: reads catch
   * it up on demand, and `foldPending` does it in the background, off the append path.
   */
  apply(event: StoredEvent): void {
    // Events of a batch share one timestamp string, so parsing it once per batch is enough.
    if (event.timestamp !== this.lastTimestamp) {
      this.lastTimestamp = event.timestamp;
      this.lastMs = Date.parse(event.timestamp);
      this.lastIdPrefix = uuidV7Prefix(this.lastMs);
    }
    this.events.push(event);
    this.recordedMs.push(this.lastMs);
    if (!(event.id.length === 36 && event.id.startsWith(this.lastIdPrefix) && event.id.charCodeAt(14) === 0x37 /* '7' */)) {
      this.otherIds.set(event.id, event);
    }
    this.headHash = event.hash;

    let entity = this.entityRecords.get(event.entity_id);
    if (entity === undefined) {
      entity = { entity_id: event.entity_id, events: [], snapshots: [], current: EMPTY_FOLD, folded: 0, live: 0, tombstoneTouched: false };
      this.entityRecords.set(event.entity_id, entity);
      this.sortedEntityIds = null;
    }
    entity.events.push(event);
    entity.live++;
    let type = this.typeRecords.get(event.event_type);
    if (type === undefined) {
      type = { event_type: event.event_type, events: [], live: 0 };
      this.typeRecords.set(event.event_type, type);
      this.sortedTypes = null;
    }
    type.events.push(event);
    type.live++;

    if (event.entity_id === CONTROL_ENTITY) {
      this.controlEvents++;
      this.applyControl(event);
      return;
    }
    this.liveEvents++;
    this.unfolded.add(entity);
    this.searchIndex?.add(event);
  }

  /** Built on the tenant's first search, then maintained by apply(). */
  private searchIndex: SearchIndex | null = null;

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
      this.searchIndex = new SearchIndex();
      for (const event of this.events) if (event.entity_id !== CONTROL_ENTITY) this.searchIndex.add(event);
    }
    const ranked = this.searchIndex.score(o.query, cut, (e) => {
      if (o.entity_id !== undefined && e.entity_id !== o.entity_id) return false;
      if (o.event_type !== undefined && e.event_type !== o.event_type) return false;
      return o.include_deleted || !this.isDeletedAt(e, cut);
    });
    let start = 0;
    if (after !== undefined) {
      const last = { score: after.score, event: { position: after.position } as StoredEvent };
      while (start < ranked.length && compareRanked(ranked[start], last) <= 0) start++;
    }
    const page = ranked.slice(start, start + o.limit);
    const hasMore = start + o.limit < ranked.length;
    const hits = page.map(({ event, score }) => ({ event: this.isDeletedAt(event, cut) ? markDeleted(event) : event, score }));
    const lastHit = page.at(-1);
    const next_cursor = hasMore && lastHit ? encodeCursor({ k: `${cut}:${lastHit.score}:${lastHit.event.position}`, q: fingerprint() }) : null;
    return { hits, next_cursor, has_more: hasMore };
  }

  /** Folds the entity's events that `current` does not cover yet, keeping a snapshot every N. */
  private catchUp(entity: EntityRecord): void {
    const events = entity.events;
    while (entity.folded < events.length) {
      entity.current = evolveState(entity.current, events[entity.folded]);
      entity.folded++;
      if (entity.folded % this.snapshotEvery === 0) entity.snapshots.push(entity.current);
    }
  }

  /**
   * Folds entities whose fold was deferred, stopping after about `budget` events so a caller can
   * spread the work over event-loop turns. Returns true when nothing is left.
   */
  foldPending(budget: number): boolean {
    for (const entity of this.unfolded) {
      if (budget <= 0) return false;
      budget -= entity.events.length - entity.folded;
      this.catchUp(entity);
      this.unfolded.delete(entity);
    }
    return true;
  }

  /** Entities with events not yet folded into `current`. */
  private readonly unfolded = new Set<EntityRecord>();

  private applyControl(control: StoredEvent): void {
    const deleted = control.event_type === TOMBSTONE_EVENT;
    const ids = (control.payload as unknown as ControlPayload).event_ids;
    for (const id of ids) {
      const target = this.findById(id);
      if (target === undefined || target.entity_id === CONTROL_ENTITY) continue;
      if (this.isDeletedAt(target, NO_CUT) === deleted) continue;
      let history = this.transitions.get(id);
      if (history === undefined) this.transitions.set(id, (history = []));
      history.push({ position: control.position, deleted });
      const delta = deleted ? -1 : 1;
      const entity = this.entityRecords.get(target.entity_id)!;
      entity.live += delta;
      entity.tombstoneTouched = true;
      this.typeRecords.get(target.event_type)!.live += delta;
      this.liveEvents += delta;
      this.tombstonedEvents -= delta;
    }
  }

  /** Whether `event` is tombstoned as seen from a read cut at `cutPosition`. */
  private isDeletedAt(event: StoredEvent, cutPosition: number): boolean {
    const history = this.transitions.get(event.id);
    if (history === undefined) return false;
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i].position <= cutPosition) return history[i].deleted;
    }
    return false;
  }

  /** Wakes long-polling watchers; the core calls it after a committed batch is applied. */
  notify(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves on the next notify() or after `ms`, whichever is first. */
  waitForEvents(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  // --- time cuts -------------------------------------------------------------------------------

  /** Index of the first event recorded at or after `ms`. */
  private firstIndexAtOrAfter(ms: number): number {
    let lo = 0;
    let hi = this.recordedMs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recordedMs[mid] < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Highest position recorded at or before `ms` (0 when none). */
  positionAsOf(ms: number): number {
    const i = this.firstIndexAtOrAfter(ms + 1) - 1;
    return i < 0 ? 0 : this.events[i].position;
  }

  // --- reads -----------------------------------------------------------------------------------

  getById(id: string, includeDeleted: boolean): StoredEvent {
    const event = this.findById(id);
    if (event === undefined) throw new NotFoundError(`event ${JSON.stringify(id)} not found`, { field: 'id' });
    if (this.isDeletedAt(event, NO_CUT)) {
      if (!includeDeleted) throw new NotFoundError(`event ${JSON.stringify(id)} is deleted (tombstoned); pass include_deleted to read it`, { field: 'id' });
      return markDeleted(event);
    }
    return event;
  }

  query(f: CheckedFilter): QueryResult {
    const after = f.cursor === undefined ? undefined : (decodeCursor(f.cursor, queryFingerprint(f.fingerprintParts), 'filter.cursor', 'number') as number);

    // Position window from the time bounds and the cursor.
    let low = 0;
    let high = NO_CUT;
    if (f.as_of !== undefined) high = Math.min(high, this.positionAsOf(f.as_of));
    if (f.until !== undefined) high = Math.min(high, this.positionAsOf(f.until));
    if (f.since !== undefined) {
      const i = this.firstIndexAtOrAfter(f.since);
      low = Math.max(low, i < this.events.length ? this.events[i].position : NO_CUT);
    }
    const cut = f.as_of === undefined ? NO_CUT : high;
    if (after !== undefined) {
      if (f.order === 'asc') low = Math.max(low, after + 1);
      else high = Math.min(high, after - 1);
    }

    // The narrowest list that holds every candidate.
    let candidates: readonly StoredEvent[];
    if (f.entity_id !== undefined) candidates = this.entityRecords.get(f.entity_id)?.events ?? [];
    else if (f.event_type !== undefined) candidates = this.typeRecords.get(f.event_type)?.events ?? [];
    else candidates = this.events;
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
      let page: StoredEvent[];
      let hasMore: boolean;
      if (f.order === 'asc') {
        const from = lowerBoundByPosition(candidates, low);
        const to = lowerBoundByPosition(candidates, high === NO_CUT ? NO_CUT : high + 1);
        hasMore = to - from > f.limit;
        page = candidates.slice(from, Math.min(to, from + f.limit));
      } else {
        const to = lowerBoundByPosition(candidates, high === NO_CUT ? NO_CUT : high + 1);
        const from = lowerBoundByPosition(candidates, low);
        hasMore = to - from > f.limit;
        page = candidates.slice(Math.max(from, to - f.limit), to).reverse();
      }
      const next_cursor = hasMore ? encodeCursor({ k: page[page.length - 1].position, q: queryFingerprint(f.fingerprintParts) }) : null;
      return { events: page, next_cursor, has_more: hasMore };
    }

    const out: StoredEvent[] = [];
    let hasMore = false;
    const accept = (e: StoredEvent): boolean => {
      if (f.entity_id !== undefined && e.entity_id !== f.entity_id) return false;
      if (f.event_type !== undefined && e.event_type !== f.event_type) return false;
      if (!wantControl && e.entity_id === CONTROL_ENTITY) return false;
      if (f.entity_prefix !== undefined && !e.entity_id.startsWith(f.entity_prefix)) return false;
      if (f.event_type_prefix !== undefined && !e.event_type.startsWith(f.event_type_prefix)) return false;
      if (f.occurred_since !== undefined || f.occurred_until !== undefined) {
        const occurred = Date.parse(e.occurred_at);
        if (f.occurred_since !== undefined && occurred < f.occurred_since) return false;
        if (f.occurred_until !== undefined && occurred > f.occurred_until) return false;
      }
      if (f.payload_equals !== undefined) {
        for (const { path, value } of f.payload_equals) if (!jsonEqual(getPath(e.payload, path), value)) return false;
      }
      return true;
    };
    const emit = (e: StoredEvent): boolean => {
      if (!accept(e)) return false;
      if (checkTombstones && this.isDeletedAt(e, cut)) {
        if (!f.include_deleted) return false;
        e = markDeleted(e);
      }
      if (out.length === f.limit) {
        hasMore = true;
        return true;
      }
      out.push(e);
      return false;
    };
    if (low <= high) {
      if (f.order === 'asc') {
        for (let i = lowerBoundByPosition(candidates, low); i < candidates.length && candidates[i].position <= high; i++) {
          if (emit(candidates[i])) break;
        }
      } else {
        for (let i = lowerBoundByPosition(candidates, high + 1) - 1; i >= 0 && candidates[i].position >= low; i--) {
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
    const cut = asOfMs === undefined ? NO_CUT : this.positionAsOf(asOfMs);
    const count = cut === NO_CUT ? entity.events.length : lowerBoundByPosition(entity.events, cut + 1);
    if (count === 0) throw missing();

    if (!entity.tombstoneTouched) {
      this.catchUp(entity);
      let fold: FoldState;
      if (count === entity.events.length) {
        fold = entity.current;
      } else {
        const k = Math.floor(count / this.snapshotEvery);
        fold = k === 0 ? EMPTY_FOLD : entity.snapshots[k - 1];
        for (let i = k * this.snapshotEvery; i < count; i++) fold = evolveState(fold, entity.events[i]);
      }
      const last = entity.events[count - 1];
      return { entity_id: entityId, state: fold.state, version: last.version, last_updated: last.timestamp, event_count: count, deleted: fold.deleted, as_of: asOf };
    }
    // Slow path: some events were tombstoned at some point; fold only those visible at the cut.
    let fold: FoldState = EMPTY_FOLD;
    let folded = 0;
    let last: StoredEvent | undefined;
    for (let i = 0; i < count; i++) {
      const e = entity.events[i];
      if (this.isDeletedAt(e, cut)) continue;
      fold = evolveState(fold, e);
      folded++;
      last = e;
    }
    if (last === undefined) throw missing();
    return { entity_id: entityId, state: fold.state, version: last.version, last_updated: last.timestamp, event_count: folded, deleted: fold.deleted, as_of: asOf };
  }

  /** The newest event of `list` that is not tombstoned now. */
  private lastLive(list: readonly StoredEvent[]): StoredEvent | undefined {
    for (let i = list.length - 1; i >= 0; i--) if (!this.isDeletedAt(list[i], NO_CUT)) return list[i];
    return undefined;
  }

  private firstLive(list: readonly StoredEvent[]): StoredEvent | undefined {
    for (let i = 0; i < list.length; i++) if (!this.isDeletedAt(list[i], NO_CUT)) return list[i];
    return undefined;
  }

  entities(prefix: string | undefined, cursor: string | undefined, limit: number): EntitiesResult {
    if (this.sortedEntityIds === null) this.sortedEntityIds = [...this.entityRecords.keys()].sort();
    const sorted = this.sortedEntityIds;
    const page = pageSorted(sorted, prefix, cursor, limit, 'options.cursor', ['entities', prefix ?? null], (id) => {
      if (id === CONTROL_ENTITY) return undefined;
      const entity = this.entityRecords.get(id)!;
      if (entity.live === 0) return undefined;
      const last = this.lastLive(entity.events)!;
      const first = this.firstLive(entity.events)!;
      if (!entity.tombstoneTouched) this.catchUp(entity);
      const deleted = entity.tombstoneTouched ? this.state(id, undefined).deleted : entity.current.deleted;
      const summary: EntitySummary = {
        entity_id: id,
        event_count: entity.live,
        version: last.version,
        first_event_at: first.timestamp,
        last_event_at: last.timestamp,
        last_event_id: last.id,
        last_event_type: last.event_type,
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
      if (type.live === 0 || type.events[0].entity_id === CONTROL_ENTITY) return undefined;
      return { event_type: name, count: type.live, last_event_at: this.lastLive(type.events)!.timestamp };
    });
    return { event_types: page.items, next_cursor: page.next_cursor, has_more: page.has_more };
  }

  stats(): TenantStats {
    let entities = 0;
    for (const [id, entity] of this.entityRecords) if (entity.live > 0 && id !== CONTROL_ENTITY) entities++;
    let types = 0;
    for (const type of this.typeRecords.values()) if (type.live > 0 && type.events[0].entity_id !== CONTROL_ENTITY) types++;
    return {
      tenant_id: this.tenant,
      events: this.liveEvents,
      tombstoned_events: this.tombstonedEvents,
      entities,
      event_types: types,
      first_event_at: this.events.length === 0 ? null : this.events[0].timestamp,
      last_event_at: this.events.length === 0 ? null : this.events[this.events.length - 1].timestamp,
      last_position: this.lastPosition,
    };
  }

  /** Events after `after` for a watcher (optionally one entity or type), oldest first. */
  /**
   * Live events after `after`, in position order, matching the watch filters; control events only
   * when asked for (`include_control`, or `entity_id: '$control'`).
   */
  eventsAfter(after: number, o: Pick<CheckedWatchOptions, 'limit' | 'entity_id' | 'event_type' | 'event_type_prefix' | 'include_control'>): StoredEvent[] {
    const matches = (e: StoredEvent): boolean => {
      if (e.entity_id === CONTROL_ENTITY) return o.include_control || o.entity_id === CONTROL_ENTITY;
      if (o.entity_id !== undefined && e.entity_id !== o.entity_id) return false;
      if (o.event_type !== undefined && e.event_type !== o.event_type) return false;
      if (o.event_type_prefix !== undefined && !e.event_type.startsWith(o.event_type_prefix)) return false;
      return !this.isDeletedAt(e, NO_CUT);
    };
    // The narrowest position-ordered lists that hold every match; several are merged by position.
    const lists: (readonly StoredEvent[])[] = [];
    if (o.entity_id !== undefined) lists.push(this.entityRecords.get(o.entity_id)?.events ?? []);
    else if (o.event_type !== undefined) lists.push(this.typeRecords.get(o.event_type)?.events ?? []);
    else if (o.event_type_prefix !== undefined) {
      for (const [type, record] of this.typeRecords) if (type.startsWith(o.event_type_prefix)) lists.push(record.events);
    } else lists.push(this.events);
    if (o.include_control && o.entity_id !== CONTROL_ENTITY && lists[0] !== this.events) lists.push(this.entityRecords.get(CONTROL_ENTITY)?.events ?? []);
    return mergeAfter(lists, after, o.limit, matches);
  }

  /** The user events a tombstone (`deleting`) or restore would change now. */
  select(selector: CheckedSelector, deleting: boolean): StoredEvent[] {
    let candidates: Iterable<StoredEvent>;
    if (selector.ids !== undefined) {
      const found: StoredEvent[] = [];
      for (const id of selector.ids) {
        const e = this.findById(id);
        if (e !== undefined) found.push(e);
      }
      found.sort((a, b) => a.position - b.position);
      candidates = found;
    } else if (selector.entity_id !== undefined) {
      candidates = this.entityRecords.get(selector.entity_id)?.events ?? [];
    } else {
      candidates = this.typeRecords.get(selector.event_type!)?.events ?? [];
    }
    const out: StoredEvent[] = [];
    for (const e of candidates) {
      if (e.entity_id === CONTROL_ENTITY) continue;
      if (selector.entity_id !== undefined && e.entity_id !== selector.entity_id) continue;
      if (selector.event_type !== undefined && e.event_type !== selector.event_type) continue;
      if (selector.since !== undefined || selector.until !== undefined) {
        const ms = Date.parse(e.timestamp);
        if (selector.since !== undefined && ms < selector.since) continue;
        if (selector.until !== undefined && ms > selector.until) continue;
      }
      if (this.isDeletedAt(e, NO_CUT) === deleting) continue;
      out.push(e);
    }
    return out;
  }

  /** Recomputes the hash chain over every event and reports the first position that does not match. */
  verify(): VerifyResult {
    let previous = '';
    let checked = 0;
    for (const e of this.events) {
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

function markDeleted(event: StoredEvent): StoredEvent {
  return Object.freeze({ ...event, deleted: true as const });
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
