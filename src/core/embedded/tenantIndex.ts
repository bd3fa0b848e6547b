// The in-memory projection of one tenant's log: a table of its events in position order, with
// row lists by entity and type, per-entity state snapshots, and tombstone history. It answers every
// read of the port for that tenant. It does no I/O and never sees another tenant's events.
//
// The table is columnar. Each row's position, recorded time, entity and type are plain columns;
// the event itself is an object only for rows appended or recovered from the log in this process.
// Rows loaded from segments stay as bytes (SegmentRows) and become objects when read; a bounded
// cache keeps the recently read ones, so hot entities read in microseconds while a reopened
// million-event store holds no million objects.

import { encodeCursor, decodeCursor, queryFingerprint } from '../cursor.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { compareRanked, SearchIndex } from './searchIndex.js';
import type { SegmentRows } from './segmentRows.js';
import { EMPTY_FOLD, evolveState, foldSteps, getPath, jsonEqual, type FoldState } from '../fold.js';
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
  /** Rows of the entity's events, in version order, which is also position order. */
  rows: number[];
  /**
   * The event object of each of those rows: always for rows applied as objects, for segment rows
   * only while cached. Kept per entity, beside `rows`, so reading an entity's events touches
   * memory in one place rather than all over a million-row column.
   */
  objects: (StoredEvent | undefined)[];
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
  rows: number[];
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

const NO_CUT = Number.MAX_SAFE_INTEGER;
/** Segment rows kept as objects after a read (about 40 MB of typical events). */
const DECODED_CACHE_ROWS = 65_536;

export class TenantIndex {
  readonly tenant: string;
  private readonly snapshotEvery: number;

  // --- the table: row i is the tenant's i-th event (control events too), in position order ----
  private readonly positions: number[] = [];
  /** Recorded time of each row in ms, for binary search by time. */
  private readonly recordedMs: number[] = [];
  private readonly rowEntity: EntityRecord[] = [];
  private readonly rowType: TypeRecord[] = [];
  /** Where the row is in its entity's lists (its version - 1). */
  private readonly rowSlot: number[] = [];
  /** Where a segment row's bytes are (null for rows applied as objects), and its row there. */
  private readonly sources: (SegmentRows | null)[] = [];
  private readonly sourceRows: number[] = [];
  /** 0, 1, 2, …: every row as a row list, so every read walks a row list the same way (see allRows). */
  private readonly everyRow: number[] = [];
  /** Segment rows currently cached in `objects`, oldest first (a ring). */
  private readonly decoded = new Int32Array(DECODED_CACHE_ROWS);
  private decodedNext = 0;
  private decodedCount = 0;
  private segmentRowCount = 0;

  /**
   * Rows whose id cannot be found from its time. Store-generated UUIDv7 ids embed the recorded
   * millisecond, so those are found by binary search on time instead, which keeps a million-entry
   * map (and its memory) off the append path.
   */
  private readonly otherIds = new Map<string, number>();
  private lastIdPrefix = '';
  private lastIdPrefixMs = NaN;
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
  private isoMs = NaN;
  private iso = '';
  private readonly waiters = new Set<() => void>();

  constructor(tenant: string, snapshotEvery: number) {
    this.tenant = tenant;
    this.snapshotEvery = snapshotEvery;
  }

  get size(): number {
    return this.positions.length;
  }

  get lastPosition(): number {
    return this.positions.length === 0 ? 0 : this.positions[this.positions.length - 1];
  }

  /** Hash of the last applied event ('' before the first). */
  get headHash(): string {
    const row = this.positions.length - 1;
    if (row < 0) return '';
    return this.objectOf(row)?.hash ?? this.sources[row]!.hash(this.sourceRows[row]);
  }

  // --- rows ------------------------------------------------------------------------------------

  /** The row's event, decoded and cached if it is a segment row that is not cached. */
  private at(row: number): StoredEvent {
    const objects = this.rowEntity[row].objects;
    const slot = this.rowSlot[row];
    const object = objects[slot];
    if (object !== undefined) return object;
    const event = this.decode(row);
    if (this.decodedCount === DECODED_CACHE_ROWS) {
      const evicted = this.decoded[this.decodedNext];
      this.rowEntity[evicted].objects[this.rowSlot[evicted]] = undefined;
    } else {
      this.decodedCount++;
    }
    this.decoded[this.decodedNext] = row;
    this.decodedNext = (this.decodedNext + 1) % DECODED_CACHE_ROWS;
    objects[slot] = event;
    return event;
  }

  private objectOf(row: number): StoredEvent | undefined {
    return this.rowEntity[row].objects[this.rowSlot[row]];
  }

  /** The row's event without caching it: for scans (folds, verification, indexing) that would flush the cache. */
  private peek(row: number): StoredEvent {
    return this.objectOf(row) ?? this.decode(row);
  }

  private decode(row: number): StoredEvent {
    const ms = this.recordedMs[row];
    return this.sources[row]!.event(this.sourceRows[row], this.tenant, this.rowEntity[row].entity_id, this.rowType[row].event_type, this.positions[row], this.isoOf(ms), ms);
  }

  private idOf(row: number): string {
    return this.objectOf(row)?.id ?? this.sources[row]!.id(this.sourceRows[row]);
  }

  private versionOf(row: number): number {
    return this.objectOf(row)?.version ?? this.sources[row]!.version(this.sourceRows[row]);
  }

  /** Recorded time of the row as text (the rows of one batch share one instant, so the last is kept). */
  private timestampOf(row: number): string {
    return this.objectOf(row)?.timestamp ?? this.isoOf(this.recordedMs[row]);
  }

  private isoOf(ms: number): string {
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }

  /** The list of every row, extended on demand: reads over all events are rare, appends are not. */
  private allRows(): readonly number[] {
    for (let row = this.everyRow.length; row < this.positions.length; row++) this.everyRow.push(row);
    return this.everyRow;
  }

  /** The entity's events at versions start + 1 .. end, from its own object list where cached. */
  private entityEvents(entity: EntityRecord, start: number, end: number): StoredEvent[] {
    const out = new Array<StoredEvent>(end - start);
    for (let i = start; i < end; i++) out[i - start] = entity.objects[i] ?? this.at(entity.rows[i]);
    return out;
  }

  private rowsToEvents(rows: readonly number[]): StoredEvent[] {
    const out = new Array<StoredEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.at(rows[i]);
    return out;
  }

  /** The committed event with this id, tombstoned or not. */
  findById(id: string): StoredEvent | undefined {
    const row = this.findRow(id);
    return row < 0 ? undefined : this.at(row);
  }

  private findRow(id: string): number {
    const found = this.otherIds.get(id);
    if (found !== undefined) return found;
    const ms = uuidV7Millis(id);
    if (ms === undefined) return -1;
    for (let row = this.firstIndexAtOrAfter(ms); row < this.positions.length && this.recordedMs[row] === ms; row++) {
      if (this.idOf(row) === id) return row;
    }
    return -1;
  }

  /** The entity's latest committed version (0 when it has no events). */
  entityVersion(entityId: string): number {
    return this.entityRecords.get(entityId)?.rows.length ?? 0;
  }

  /**
   * Adds one committed event (in position order). The entity's state fold is deferred: reads catch
   * it up on demand, and `foldPending` does it in the background, off the append path. Events
   * `recovered` at open are folded only when read (or when their entity is written again): folding
   * every entity of a reopened store would rebuild state nobody may ask for.
   */
  apply(event: StoredEvent, recovered = false): void {
    // Events of a batch share one timestamp string, so parsing it once per batch is enough.
    if (event.timestamp !== this.lastTimestamp) {
      this.lastTimestamp = event.timestamp;
      this.lastMs = Date.parse(event.timestamp);
    }
    const row = this.addRow(event.entity_id, event.event_type, event.position, this.lastMs, event, null, 0);
    if (!(event.id.length === 36 && event.id.startsWith(this.idPrefix(this.lastMs)) && event.id.charCodeAt(14) === 0x37 /* '7' */)) {
      this.otherIds.set(event.id, row);
    }
    this.afterRow(row, !recovered);
  }

  /** Adds one committed segment row (in position order), leaving its event as bytes until read. */
  applyRow(rows: SegmentRows, sourceRow: number, entityId: string, eventType: string, position: number, recordedMs: number): void {
    const row = this.addRow(entityId, eventType, position, recordedMs, undefined, rows, sourceRow);
    this.segmentRowCount++;
    if (!rows.idHasPrefix(sourceRow, this.idPrefix(recordedMs))) this.otherIds.set(rows.id(sourceRow), row);
    this.afterRow(row, false);
  }

  private idPrefix(ms: number): string {
    if (ms !== this.lastIdPrefixMs) {
      this.lastIdPrefixMs = ms;
      this.lastIdPrefix = uuidV7Prefix(ms);
    }
    return this.lastIdPrefix;
  }

  private addRow(entityId: string, eventType: string, position: number, ms: number, object: StoredEvent | undefined, source: SegmentRows | null, sourceRow: number): number {
    const row = this.positions.length;
    let entity = this.entityRecords.get(entityId);
    if (entity === undefined) {
      entity = { entity_id: entityId, rows: [], objects: [], snapshots: [], current: EMPTY_FOLD, folded: 0, live: 0, tombstoneTouched: false };
      this.entityRecords.set(entityId, entity);
      this.sortedEntityIds = null;
    }
    let type = this.typeRecords.get(eventType);
    if (type === undefined) {
      type = { event_type: eventType, rows: [], live: 0 };
      this.typeRecords.set(eventType, type);
      this.sortedTypes = null;
    }
    this.positions.push(position);
    this.recordedMs.push(ms);
    this.rowEntity.push(entity);
    this.rowType.push(type);
    this.rowSlot.push(entity.rows.length);
    this.sources.push(source);
    this.sourceRows.push(sourceRow);
    entity.rows.push(row);
    entity.objects.push(object);
    entity.live++;
    type.rows.push(row);
    type.live++;
    return row;
  }

  private afterRow(row: number, foldSoon: boolean): void {
    const entity = this.rowEntity[row];
    if (entity.entity_id === CONTROL_ENTITY) {
      this.controlEvents++;
      this.applyControl(this.peek(row));
      return;
    }
    this.liveEvents++;
    if (foldSoon) {
      this.unfolded.add(entity);
      if (entity.rows.length - entity.folded >= this.snapshotEvery) this.ripe.add(entity);
    }
    this.searchIndex?.add(row, this.peek(row).payload);
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

  /**
   * Folds the entity's events that `current` does not cover yet, keeping a snapshot every N. The
   * events up to each snapshot boundary are folded in one step, with one copy of the state.
   */
  private catchUp(entity: EntityRecord): void {
    const rows = entity.rows;
    while (entity.folded < rows.length) {
      const from = entity.folded;
      const boundary = (Math.floor(from / this.snapshotEvery) + 1) * this.snapshotEvery;
      const end = Math.min(boundary, rows.length);
      entity.current = foldSteps(entity.current, end - from, (i) => entity.objects[from + i] ?? this.decode(rows[from + i]));
      entity.folded = end;
      if (end === boundary) entity.snapshots.push(entity.current);
    }
  }

  /**
   * Folds entities whose fold was deferred, stopping after about `budget` events so a caller can
   * spread the work over event-loop turns. While writes are arriving (`all` false) only entities
   * with a snapshot's worth of pending events are folded, so each fold step covers several events;
   * the rest wait for a quiet moment (or a read, which catches up on demand). Returns true when
   * nothing of what was asked is left.
   */
  foldPending(budget: number, all: boolean): boolean {
    const entities = all ? this.unfolded : this.ripe;
    for (const entity of entities) {
      if (budget <= 0) return false;
      budget -= entity.rows.length - entity.folded;
      this.catchUp(entity);
      this.unfolded.delete(entity);
      this.ripe.delete(entity);
    }
    return true;
  }

  /** Whether some entity has events not yet folded into `current`. */
  get foldsPending(): boolean {
    return this.unfolded.size > 0;
  }

  /** How the table holds its rows: all of them, those kept as segment bytes, and those of them decoded now. */
  memory(): { rows: number; segment_rows: number; decoded_rows: number } {
    return { rows: this.positions.length, segment_rows: this.segmentRowCount, decoded_rows: this.decodedCount };
  }

  /** Entities with events not yet folded into `current`. */
  private readonly unfolded = new Set<EntityRecord>();
  /** Those of them with at least `snapshotEvery` pending events. */
  private readonly ripe = new Set<EntityRecord>();

  private applyControl(control: StoredEvent): void {
    const deleted = control.event_type === TOMBSTONE_EVENT;
    const ids = (control.payload as unknown as ControlPayload).event_ids;
    for (const id of ids) {
      const target = this.findRow(id);
      if (target < 0 || this.rowEntity[target].entity_id === CONTROL_ENTITY) continue;
      if (this.isDeletedAt(target, NO_CUT) === deleted) continue;
      let history = this.transitions.get(id);
      if (history === undefined) this.transitions.set(id, (history = []));
      history.push({ position: control.position, deleted });
      const delta = deleted ? -1 : 1;
      const entity = this.rowEntity[target];
      entity.live += delta;
      entity.tombstoneTouched = true;
      this.rowType[target].live += delta;
      this.liveEvents += delta;
      this.tombstonedEvents -= delta;
    }
  }

  /** Whether the row's event is tombstoned as seen from a read cut at `cutPosition`. */
  private isDeletedAt(row: number, cutPosition: number): boolean {
    if (this.transitions.size === 0) return false;
    const history = this.transitions.get(this.idOf(row));
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

  /** How many of `rows` (position-ordered) were recorded at or before `ms`. */
  private countRecordedAtOrBefore(rows: readonly number[], ms: number): number {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recordedMs[rows[mid]] <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Highest position recorded at or before `ms` (0 when none). */
  positionAsOf(ms: number): number {
    const i = this.firstIndexAtOrAfter(ms + 1) - 1;
    return i < 0 ? 0 : this.positions[i];
  }

  // --- reads -----------------------------------------------------------------------------------

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
