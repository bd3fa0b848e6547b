// The table under a TenantIndex: one tenant's events in position order as columns (position,
// recorded time, entity, type), with row lists by entity and type, per-entity fold snapshots and
// tombstone history, kept current as events are applied. Rows loaded from segments stay as bytes
// (SegmentRows) and become objects when read; a bounded cache keeps the recently read ones, so hot
// entities read in microseconds while a reopened million-event store holds no million objects.
// The reads over it are in tenantIndex.ts.

import type { SearchIndex } from './searchIndex.js';
import type { SegmentRows } from './segmentRows.js';
import { EMPTY_FOLD, foldSteps, type FoldState } from '../fold.js';
import { uuidV7Millis, uuidV7Prefix } from '../ids.js';
import { CONTROL_ENTITY, TOMBSTONE_EVENT, type StoredEvent } from '../types.js';

export interface EntityRecord {
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

export interface TypeRecord {
  event_type: string;
  rows: number[];
  live: number;
}

/** One change of an event's tombstone status, made by the control event at `position`. */
export interface Transition {
  position: number;
  deleted: boolean;
}

/** Payload of `$tombstone` / `$restore` control events. */
export interface ControlPayload {
  event_ids: string[];
  reason: string;
}

/** A cut at no position: everything as of now. */
export const NO_CUT = Number.MAX_SAFE_INTEGER;
/** Segment rows kept as objects after a read (about 40 MB of typical events). */
const DECODED_CACHE_ROWS = 65_536;

export abstract class EventTable {
  readonly tenant: string;
  protected readonly snapshotEvery: number;

  // --- the table: row i is the tenant's i-th event (control events too), in position order ----
  protected readonly positions: number[] = [];
  /** Recorded time of each row in ms, for binary search by time. */
  protected readonly recordedMs: number[] = [];
  protected readonly rowEntity: EntityRecord[] = [];
  protected readonly rowType: TypeRecord[] = [];
  /** Where the row is in its entity's lists (its version - 1). */
  private readonly rowSlot: number[] = [];
  /** Where a segment row's bytes are (null for rows applied as objects), and its row there. */
  private readonly sources: (SegmentRows | null)[] = [];
  private readonly sourceRows: number[] = [];
  /** 0, 1, 2, …: every row as a row list, so every read walks a row list the same way (see allRows). */
  protected readonly everyRow: number[] = [];
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
  protected readonly entityRecords = new Map<string, EntityRecord>();
  protected readonly typeRecords = new Map<string, TypeRecord>();
  protected readonly transitions = new Map<string, Transition[]>();
  protected sortedEntityIds: string[] | null = null;
  protected sortedTypes: string[] | null = null;
  protected liveEvents = 0;
  protected controlEvents = 0;
  protected tombstonedEvents = 0;
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
  protected at(row: number): StoredEvent {
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
  protected peek(row: number): StoredEvent {
    return this.objectOf(row) ?? this.decode(row);
  }

  protected decode(row: number): StoredEvent {
    const ms = this.recordedMs[row];
    return this.sources[row]!.event(this.sourceRows[row], this.tenant, this.rowEntity[row].entity_id, this.rowType[row].event_type, this.positions[row], this.isoOf(ms), ms);
  }

  protected idOf(row: number): string {
    return this.objectOf(row)?.id ?? this.sources[row]!.id(this.sourceRows[row]);
  }

  protected versionOf(row: number): number {
    return this.objectOf(row)?.version ?? this.sources[row]!.version(this.sourceRows[row]);
  }

  /** Recorded time of the row as text (the rows of one batch share one instant, so the last is kept). */
  protected timestampOf(row: number): string {
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
  protected allRows(): readonly number[] {
    for (let row = this.everyRow.length; row < this.positions.length; row++) this.everyRow.push(row);
    return this.everyRow;
  }

  /** The entity's events at versions start + 1 .. end, from its own object list where cached. */
  protected entityEvents(entity: EntityRecord, start: number, end: number): StoredEvent[] {
    const out = new Array<StoredEvent>(end - start);
    for (let i = start; i < end; i++) out[i - start] = entity.objects[i] ?? this.at(entity.rows[i]);
    return out;
  }

  protected rowsToEvents(rows: readonly number[]): StoredEvent[] {
    const out = new Array<StoredEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.at(rows[i]);
    return out;
  }

  /** The committed event with this id, tombstoned or not. */
  findById(id: string): StoredEvent | undefined {
    const row = this.findRow(id);
    return row < 0 ? undefined : this.at(row);
  }

  protected findRow(id: string): number {
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
  protected searchIndex: SearchIndex | null = null;


  /**
   * Folds the entity's events that `current` does not cover yet, keeping a snapshot every N. The
   * events up to each snapshot boundary are folded in one step, with one copy of the state.
   */
  protected catchUp(entity: EntityRecord): void {
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
  protected isDeletedAt(row: number, cutPosition: number): boolean {
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
  protected firstIndexAtOrAfter(ms: number): number {
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
  protected countRecordedAtOrBefore(rows: readonly number[], ms: number): number {
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
}

/** The event as a read that includes tombstoned events shows it. */
export function markDeleted(event: StoredEvent): StoredEvent {
  return Object.freeze({ ...event, deleted: true as const });
}
