// EmbeddedCore: the in-process, durable EventStore behind `npx allsource`. Appends go to a
// write-ahead log with group commit (concurrent appends share one fsync); sealed logs are rolled
// into immutable Parquet segments off the append path; every read is answered from per-tenant
// in-memory indexes rebuilt from segments + log on open.

import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ForbiddenError, InvalidError, NotFoundError, UnavailableError } from '../errors.js';
import { deepFreeze } from '../fold.js';
import {
  CONTROL_ENTITY,
  LIMITS,
  RESTORE_EVENT,
  TOMBSTONE_EVENT,
  type AppendOptions,
  type AppendResult,
  type AsOfOptions,
  type EntitiesResult,
  type EntityState,
  type EventStore,
  type EventTypesResult,
  type ListOptions,
  type NewEvent,
  type QueryFilter,
  type QueryResult,
  type SearchOptions,
  type SearchResult,
  type StoreHealth,
  type StoredEvent,
  type TenantStats,
  type TombstoneResult,
  type TombstoneSelector,
  type VerifyResult,
  type WatchOptions,
  type WatchResult,
} from '../types.js';
import {
  checkAsOfOptions,
  checkFilter,
  checkAppendCall,
  checkId,
  checkListOptions,
  checkSearchOptions,
  checkSelector,
  checkTenant,
  checkWatchOptions,
  prepareEvent,
  type PreparedEvent,
} from '../validate.js';
import { ActiveLog, WAL_DIR, walName } from './activeLog.js';
import { WritePath } from './writePath.js';
import { DirectoryLock } from './lock.js';
import { replayLogs } from './logReplay.js';
import { manifestText, readError, writeError } from './openErrors.js';
import { readManifest, writeManifest, type Manifest } from './manifest.js';
import { EMBEDDED_DEFAULTS, type Durability, type EmbeddedCoreOptions } from './options.js';
import { SegmentRoller } from './segmentRoller.js';
import { loadSegments } from './segmentLoader.js';
import { TenantIndex, type ControlPayload } from './tenantIndex.js';

export interface EmbeddedCore extends EventStore {
  readonly dataDir: string;
  /** Seal the active log and roll it into a segment now; resolves when the manifest names it. */
  rollNow(): Promise<void>;
  /** Resolves when no write is being flushed and no segment roll is in progress. */
  idle(): Promise<void>;
  /** The tenants with at least one event (admin: migrations and exports). */
  tenants(): string[];
  /**
   * Writes already-recorded events as they are (ids, positions, times, versions, hashes), for
   * migrating a log into this store. Positions must be above every position already here and
   * increasing; each event's tenant must have no events yet or have been imported in this way up
   * to the previous event, and each hash must continue its tenant's chain.
   */
  importEvents(events: readonly StoredEvent[]): Promise<void>;
}

/** Opens (creating if needed) a data directory as an EventStore. */
export async function openEmbeddedCore(options: EmbeddedCoreOptions): Promise<EmbeddedCore> {
  if (typeof options?.dataDir !== 'string' || options.dataDir.length === 0) throw new InvalidError('dataDir', 'is required');
  const durability = options.durability ?? EMBEDDED_DEFAULTS.durability;
  if (durability !== 'fsync' && durability !== 'none') throw new InvalidError('durability', 'must be "fsync" or "none"');
  if (options.readOnly === true) return openReadOnly(options, durability);
  const core = new EmbeddedCoreImpl(options, durability);
  await core.open();
  return core;
}

/** Opens read-only attempts before giving up on a directory a writer keeps rolling under it. */
const READ_ONLY_ATTEMPTS = 5;

/**
 * A read-only open takes no lock, so a writer may roll a log into a segment (a new manifest, the
 * log deleted) while it reads. The manifest is read again afterwards: if it changed, or a file
 * vanished in between, the open starts over on the new state.
 */
async function openReadOnly(options: EmbeddedCoreOptions, durability: Durability): Promise<EmbeddedCore> {
  for (let attempt = 1; ; attempt++) {
    const before = manifestText(options.dataDir);
    const core = new EmbeddedCoreImpl(options, durability);
    let vanished = false;
    try {
      await core.open();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === READ_ONLY_ATTEMPTS) throw readError(options.dataDir, err);
      vanished = true;
    }
    if (!vanished && manifestText(options.dataDir) === before) return core;
    await core.close();
    if (attempt === READ_ONLY_ATTEMPTS) throw new UnavailableError(`data directory ${options.dataDir} kept changing while it was opened read-only (a writer is rolling its logs); retry`);
  }
}

const SEGMENT_DIR = 'segments';
/** Events folded per background slice: about half a millisecond of work. */
const FOLD_SLICE_EVENTS = 1000;
/** How long writes must pause before the background folds entities with only a few pending events. */
const QUIET_FOLD_MS = 5;
/** On close, a log holding at least this much is rolled so the next open reads columns, not log records. */
const CLOSE_ROLL_BYTES = 4 * 1024 * 1024;

function segmentName(seq: number): string {
  return `${String(seq).padStart(12, '0')}.parquet`;
}

class EmbeddedCoreImpl implements EmbeddedCore {
  readonly dataDir: string;
  private readonly durability: Durability;
  /** Nothing is written to the directory (see EmbeddedCoreOptions.readOnly). */
  private readonly readOnly: boolean;
  private readonly maxPayloadBytes: number;
  private readonly snapshotEvery: number;
  private readonly walRollBytes: number;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly roller: SegmentRoller;
  /** Roll and read segments in worker threads (the default) rather than in-process. */
  private readonly useWorkers: boolean;
  private readonly openedAt = Date.now();

  private lock: DirectoryLock | null = null;
  private manifest: Manifest = { format: 1, segments: [], rolled_wal_seq: 0 };
  private readonly indexes = new Map<string, TenantIndex>();
  private readonly writes: WritePath;

  /** Recovery: the next position to apply (anything below it was applied already). */
  private nextPosition = 1;
  private readonly wal: ActiveLog;

  private readonly sealedSeqs: number[] = [];
  private rolling: Promise<void> | null = null;
  private lastRollError: string | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: EmbeddedCoreOptions, durability: Durability) {
    this.dataDir = options.dataDir;
    this.durability = durability;
    this.readOnly = options.readOnly === true;
    this.maxPayloadBytes = options.maxPayloadBytes ?? LIMITS.defaultMaxPayloadBytes;
    this.snapshotEvery = options.snapshotEvery ?? EMBEDDED_DEFAULTS.snapshotEvery;
    this.walRollBytes = options.walRollBytes ?? EMBEDDED_DEFAULTS.walRollBytes;
    this.log = options.log ?? ((line) => process.stderr.write(`allsource: ${line}\n`));
    this.now = options.now ?? Date.now;
    this.useWorkers = options.rollInWorker ?? EMBEDDED_DEFAULTS.rollInWorker;
    this.roller = new SegmentRoller({ inWorker: this.useWorkers });
    this.wal = new ActiveLog(this.dataDir, durability, this.walRollBytes);
    this.writes = new WritePath(
      {
        indexes: this.indexes,
        indexFor: (tenant) => this.indexFor(tenant),
        now: this.now,
        log: this.log,
        committed: () => {
          this.lastCommitAt = performance.now();
          this.scheduleFolds();
        },
        seal: () => this.sealActiveWal(),
      },
      this.wal,
      this.walRollBytes,
    );
  }

  // --- open and recovery -----------------------------------------------------------------------

  async open(): Promise<void> {
    if (this.readOnly) {
      // A directory that does not exist (yet) reads as empty: a read-only open creates nothing.
      try {
        await this.recover();
      } catch (err) {
        void this.roller.close();
        throw err;
      }
      return;
    }
    try {
      mkdirSync(join(this.dataDir, WAL_DIR), { recursive: true });
      mkdirSync(join(this.dataDir, SEGMENT_DIR), { recursive: true });
      this.lock = DirectoryLock.acquire(this.dataDir);
    } catch (err) {
      void this.roller.close();
      throw writeError(this.dataDir, err);
    }
    try {
      await this.recover();
    } catch (err) {
      this.lock.release();
      this.lock = null;
      void this.roller.close();
      throw writeError(this.dataDir, err);
    }
  }

  /** The names in a directory of the store; a read-only open reads a missing one as empty. */
  private listDir(dir: string): string[] {
    try {
      return readdirSync(dir);
    } catch (err) {
      if (this.readOnly && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async recover(): Promise<void> {
    this.manifest = readManifest(this.dataDir);
    const segmentDir = join(this.dataDir, SEGMENT_DIR);
    const walDir = join(this.dataDir, WAL_DIR);
    const listed = new Set(this.manifest.segments.map((s) => s.file));
    // A segment not in the manifest was being written when the process stopped; its log is still
    // here. Only a writer removes it; a reader simply does not read it.
    if (!this.readOnly) {
      for (const name of readdirSync(segmentDir)) {
        if (!listed.has(name)) unlinkSync(join(segmentDir, name));
      }
    }
    await loadSegments(
      this.manifest.segments.map((segment) => join(segmentDir, segment.file)),
      (rows, row, tenant, entity, type, position, recordedMs) => {
        // Positions only grow; anything at or below the last applied one was already recovered.
        if (position < this.nextPosition) return;
        this.recoveredIndex(tenant).applyRow(rows, row, entity, type, position, recordedMs);
        this.nextPosition = position + 1;
        this.lastRecoveredMs = recordedMs;
      },
      { inWorker: this.useWorkers },
    );

    const { live, activeEnd } = replayLogs({
      walDir,
      names: this.listDir(walDir),
      rolledSeq: this.manifest.rolled_wal_seq,
      readOnly: this.readOnly,
      log: this.log,
      apply: (event) => this.applyRecovered(event),
    });
    this.writes.resume(this.nextPosition - 1, this.lastRecoveredMs);
    this.lastRecoveredIndex = null;

    // Every log but the newest is sealed and waits to be rolled; the newest takes new appends.
    if (this.readOnly) {
      // Nothing is opened for writing, and no roll starts; health still names the active log.
      this.wal.describe(live.length === 0 ? this.manifest.rolled_wal_seq + 1 : live[live.length - 1], live.length === 0 ? 0 : activeEnd);
      this.sealedSeqs.push(...live.slice(0, -1));
    } else if (live.length === 0) {
      this.wal.start(this.manifest.rolled_wal_seq + 1);
    } else {
      this.sealedSeqs.push(...live.slice(0, -1));
      this.wal.resume(live[live.length - 1], activeEnd);
    }
    if (this.sealedSeqs.length > 0) this.kickRoller();
  }

  /**
   * Folds entity states left pending by appends and recovery, a slice per event-loop turn. The
   * slices run while the loop is otherwise idle (e.g. waiting for an fsync), so reads find warm
   * snapshots without the append path paying for the fold. While writes keep arriving, a slice
   * folds only entities with a snapshot's worth of pending events (one state copy for several
   * events); the rest are folded once writes pause for QUIET_FOLD_MS.
   */
  private scheduleFolds(delayMs = 0): void {
    if (this.foldScheduled) return;
    this.foldScheduled = true;
    const slice = (): void => {
      this.foldScheduled = false;
      if (this.closed) return;
      // Commits come first: a queued batch is about to be flushed, so fold on a later turn.
      if (this.writes.pending) {
        this.scheduleFolds();
        return;
      }
      const all = performance.now() - this.lastCommitAt >= QUIET_FOLD_MS;
      for (const index of this.indexes.values()) {
        if (!index.foldPending(FOLD_SLICE_EVENTS, all)) {
          this.scheduleFolds();
          return;
        }
      }
      if (!all) {
        for (const index of this.indexes.values()) {
          if (index.foldsPending) {
            this.scheduleFolds(QUIET_FOLD_MS);
            return;
          }
        }
      }
    };
    if (delayMs === 0) setImmediate(slice);
    else setTimeout(slice, delayMs).unref();
  }

  /** When the last batch was committed (performance.now()). */
  private lastCommitAt = -Infinity;
  private foldScheduled = false;

  /** Applies an event recovered from the log (segment rows are applied by the loader's visitor). */
  private applyRecovered(event: StoredEvent): void {
    // Positions only grow; anything at or below the last applied one was already recovered.
    if (event.position < this.nextPosition) return;
    this.recoveredIndex(event.tenant_id).apply(event, true);
    this.nextPosition = event.position + 1;
    // The events of a batch share one timestamp string: parse it once.
    if (event.timestamp !== this.lastRecoveredTimestamp) {
      this.lastRecoveredTimestamp = event.timestamp;
      this.lastRecoveredMs = Date.parse(event.timestamp);
    }
  }

  /** Recovery applies events in runs of one tenant; remembering the last index skips a map lookup per event. */
  private recoveredIndex(tenant: string): TenantIndex {
    let index = this.lastRecoveredIndex;
    if (index === null || index.tenant !== tenant) index = this.lastRecoveredIndex = this.indexFor(tenant);
    return index;
  }

  private lastRecoveredIndex: TenantIndex | null = null;
  /** Recorded time of the last recovered event: recorded times never decrease in position order. */
  private lastRecoveredMs = 0;
  private lastRecoveredTimestamp = '';

  private indexFor(tenant: string): TenantIndex {
    let index = this.indexes.get(tenant);
    if (index === undefined) {
      index = new TenantIndex(tenant, this.snapshotEvery);
      this.indexes.set(tenant, index);
    }
    return index;
  }

  /** The tenant's index for a read; an unknown tenant reads as empty without being registered. */
  private readIndex(tenant: string): TenantIndex {
    return this.indexes.get(tenant) ?? new TenantIndex(tenant, this.snapshotEvery);
  }

  private ensureUsable(): void {
    if (this.closed) throw new UnavailableError('the store is closed');
  }

  private ensureWritable(): void {
    this.ensureUsable();
    if (this.readOnly) throw new ForbiddenError(`the store at ${this.dataDir} was opened read-only; it takes no writes`);
    const failure = this.writes.failure;
    if (failure !== null) {
      throw new UnavailableError(`the store stopped accepting writes after a disk error (${failure.message}); reopen it`, { cause: failure });
    }
  }

  // --- append ----------------------------------------------------------------------------------

  // --- append ----------------------------------------------------------------------------------

  async append(tenant: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.ensureWritable();
    const { dry_run } = checkAppendCall(tenant, events, options);
    const prepared = new Array<PreparedEvent>(events.length);
    for (let i = 0; i < events.length; i++) prepared[i] = prepareEvent(events[i], i, this.maxPayloadBytes);
    return this.writes.appendPrepared(tenant, prepared, dry_run);
  }

  // --- segments --------------------------------------------------------------------------------

  /** Starts a new log file and queues the sealed one for rolling. Called between flushes only. */
  private async sealActiveWal(): Promise<void> {
    const sealed = await this.wal.seal();
    if (sealed === null) return;
    this.sealedSeqs.push(sealed);
    this.kickRoller();
  }

  private kickRoller(): void {
    if (this.rolling !== null) return;
    this.rolling = this.rollSealed().finally(() => (this.rolling = null));
  }

  private async rollSealed(): Promise<void> {
    while (this.sealedSeqs.length > 0) {
      const seq = this.sealedSeqs[0];
      const walPath = join(this.dataDir, WAL_DIR, walName(seq));
      const file = segmentName(seq);
      try {
        const result = await this.roller.roll([walPath], join(this.dataDir, SEGMENT_DIR, file));
        if (result.rows > 0) {
          this.manifest.segments.push({ file, rows: result.rows, bytes: result.bytes, first_position: result.first_position, last_position: result.last_position });
        }
        this.manifest.rolled_wal_seq = seq;
        writeManifest(this.dataDir, this.manifest);
        if (result.rows === 0) unlinkIfExists(join(this.dataDir, SEGMENT_DIR, file));
        unlinkSync(walPath);
        this.sealedSeqs.shift();
        this.lastRollError = null;
      } catch (err) {
        // The log stays and is replayed on open; the roll is retried on the next seal or close.
        this.lastRollError = (err as Error).message;
        this.log(`rolling ${walPath} into a segment failed (the log is kept): ${this.lastRollError}`);
        return;
      }
    }
  }

  async rollNow(): Promise<void> {
    this.ensureWritable();
    await this.idle();
    await this.sealActiveWal();
    this.kickRoller();
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.writes.flushing !== null || this.rolling !== null) {
      await this.writes.flushing;
      await this.rolling;
    }
  }

  // --- migration --------------------------------------------------------------------------------

  async importEvents(events: readonly StoredEvent[]): Promise<void> {
    this.ensureWritable();
    await this.writes.importEvents(events);
  }

  tenants(): string[] {
    this.ensureUsable();
    return [...this.indexes.keys()].filter((tenant) => (this.indexes.get(tenant)?.size ?? 0) > 0);
  }

  // --- reads -----------------------------------------------------------------------------------

  async query(tenant: string, filter?: QueryFilter): Promise<QueryResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const checked = checkFilter(filter);
    return this.readIndex(tenant).query(checked);
  }

  async get(tenant: string, id: string, options: { include_deleted?: boolean } = {}): Promise<StoredEvent> {
    this.ensureUsable();
    checkTenant(tenant);
    checkId(id, 'id', { allowReserved: true });
    const index = this.indexes.get(tenant);
    if (index === undefined) throw new NotFoundError(`event ${JSON.stringify(id)} not found`, { field: 'id' });
    return index.getById(id, options?.include_deleted === true);
  }

  async state(tenant: string, entityId: string, options: AsOfOptions = {}): Promise<EntityState> {
    this.ensureUsable();
    checkTenant(tenant);
    checkId(entityId, 'entity_id');
    const asOf = checkAsOfOptions(options);
    const index = this.indexes.get(tenant);
    if (index === undefined) throw new NotFoundError(`entity ${JSON.stringify(entityId)} has no events`, { field: 'entity_id' });
    return index.state(entityId, asOf);
  }

  async search(tenant: string, options: SearchOptions): Promise<SearchResult> {
    this.ensureUsable();
    checkTenant(tenant);
    return this.readIndex(tenant).search(checkSearchOptions(options));
  }

  async entities(tenant: string, options?: ListOptions): Promise<EntitiesResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkListOptions(options);
    return this.readIndex(tenant).entities(o.prefix, o.cursor, o.limit);
  }

  async eventTypes(tenant: string, options?: ListOptions): Promise<EventTypesResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkListOptions(options);
    return this.readIndex(tenant).eventTypes(o.prefix, o.cursor, o.limit);
  }

  async stats(tenant: string): Promise<TenantStats> {
    this.ensureUsable();
    checkTenant(tenant);
    return this.readIndex(tenant).stats();
  }

  async watch(tenant: string, options?: WatchOptions): Promise<WatchResult> {
    this.ensureUsable();
    checkTenant(tenant);
    const o = checkWatchOptions(options);
    const index = this.indexFor(tenant);
    const after = o.after ?? index.lastPosition;
    const deadline = Date.now() + o.timeout_ms;
    while (true) {
      const events = index.eventsAfter(after, o);
      if (events.length > 0) return { events, last_position: events[events.length - 1].position, timed_out: false };
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) {
        // Nothing matched up to the tenant's end, so a watcher may safely continue from there.
        return { events: [], last_position: Math.max(after, index.lastPosition), timed_out: true };
      }
      await index.waitForEvents(remaining);
    }
  }

  // --- tombstones ------------------------------------------------------------------------------

  tombstone(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, true);
  }

  restore(tenant: string, selector: TombstoneSelector): Promise<TombstoneResult> {
    return this.control(tenant, selector, false);
  }

  /** Records a `$tombstone` or `$restore` control event naming the affected ids, in the tenant's own log. */
  private async control(tenant: string, raw: TombstoneSelector, deleting: boolean): Promise<TombstoneResult> {
    this.ensureWritable();
    checkTenant(tenant);
    const selector = checkSelector(raw);
    const targets = this.indexes.get(tenant)?.select(selector, deleting) ?? [];
    const event_ids = targets.map((e) => e.id);
    const shown = event_ids.slice(0, 1000);
    const base = { count: event_ids.length, event_ids: shown, event_ids_truncated: shown.length < event_ids.length, dry_run: selector.dry_run };
    if (selector.dry_run || event_ids.length === 0) return { ...base, position: null };
    const payload: ControlPayload = deepFreeze({ event_ids, reason: selector.reason });
    const payloadJson = JSON.stringify(payload);
    const result = await this.writes.appendPrepared(
      tenant,
      [
        {
          entity_id: CONTROL_ENTITY,
          event_type: deleting ? TOMBSTONE_EVENT : RESTORE_EVENT,
          payload: payload as never,
          payloadJson,
          metadata: null,
          metadataJson: 'null',
          id: undefined,
          occurred_at: undefined,
          expected_version: undefined,
        },
      ],
      false,
    );
    return { ...base, position: result.last_position };
  }

  // --- integrity, health, close ----------------------------------------------------------------

  async verify(tenant: string): Promise<VerifyResult> {
    this.ensureUsable();
    checkTenant(tenant);
    return this.readIndex(tenant).verify();
  }

  async health(): Promise<StoreHealth> {
    this.ensureUsable();
    let segmentBytes = 0;
    let segmentRows = 0;
    for (const s of this.manifest.segments) {
      segmentBytes += s.bytes;
      segmentRows += s.rows;
    }
    // How events are held in memory: as objects, or as segment bytes decoded when read.
    const events = { rows: 0, segment_rows: 0, decoded_rows: 0, folds_pending: false };
    for (const index of this.indexes.values()) {
      const held = index.memory();
      events.rows += held.rows;
      events.segment_rows += held.segment_rows;
      events.decoded_rows += held.decoded_rows;
      events.folds_pending ||= index.foldsPending;
    }
    return {
      ok: this.writes.failure === null,
      kind: 'embedded',
      data_dir: this.dataDir,
      read_only: this.readOnly,
      durability: this.durability,
      last_position: this.writes.lastPosition,
      tenants: this.indexes.size,
      wal: { active_file: this.wal.name, bytes: this.wal.bytes, sealed_waiting: this.sealedSeqs.length },
      segments: { count: this.manifest.segments.length, rows: segmentRows, bytes: segmentBytes, rolling: this.rolling !== null, last_error: this.lastRollError },
      events,
      write_error: this.writes.failure?.message ?? null,
      uptime_ms: Date.now() - this.openedAt,
    };
  }

  close(): Promise<void> {
    if (this.closing === null) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    // Long-polling watchers answer now (timed out) instead of holding close up.
    for (const index of this.indexes.values()) index.notify();
    try {
      while (this.writes.flushing !== null) await this.writes.flushing;
      // A read-only store never wrote, so it has nothing to seal, roll or trim.
      if (!this.readOnly) {
        if (this.writes.failure === null && this.wal.bytes >= CLOSE_ROLL_BYTES) await this.sealActiveWal();
        await this.idle();
        if (this.writes.failure === null) await this.wal.trim();
      }
    } finally {
      await this.wal.close().catch(() => undefined);
      await this.roller.close();
      this.lock?.release();
      this.lock = null;
    }
  }
}

function unlinkIfExists(path: string): void {
  if (existsSync(path)) unlinkSync(path);
}
