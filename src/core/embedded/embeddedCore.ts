// EmbeddedCore: the in-process, durable EventStore behind `npx allsource`. Appends go to a
// write-ahead log with group commit (concurrent appends share one fsync); sealed logs are rolled
// into immutable Parquet segments off the append path; every read is answered from per-tenant
// in-memory indexes rebuilt from segments + log on open.

import { closeSync, constants as fsConstants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, UnavailableError } from '../errors.js';
import { deepFreeze, jsonEqual } from '../fold.js';
import { canonicalEvent, chainHash } from '../hash.js';
import { UuidV7Generator } from '../ids.js';
import { formatInstant } from '../time.js';
import {
  CONTROL_ENTITY,
  LIMITS,
  RESTORE_EVENT,
  TOMBSTONE_EVENT,
  type AppendOptions,
  type AppendResult,
  type AppendedEvent,
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
import { DirectoryLock } from './lock.js';
import { manifestText, readError, writeError } from './openErrors.js';
import { fsyncDir, readManifest, writeManifest, type Manifest } from './manifest.js';
import { EMBEDDED_DEFAULTS, type Durability, type EmbeddedCoreOptions } from './options.js';
import { SegmentRoller } from './segmentRoller.js';
import { loadSegments } from './segmentLoader.js';
import { TenantIndex, type ControlPayload } from './tenantIndex.js';
import { countRecords, decodeBatch, encodeRecordFrame, FRAME_HEADER_BYTES, scanWal, WAL_MAGIC, WalCorruptionError } from './wal.js';

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

/** A batch waiting for its frame to reach the disk. */
interface PendingBatch {
  tenant: string;
  frame: Buffer;
  events: StoredEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Per-tenant state of the write path, which runs ahead of the indexes by the uncommitted batches. */
interface TenantWriter {
  /** Hash of the last event assigned (committed or not). */
  head: string;
  /** Entities with uncommitted events: their latest assigned version. */
  inflightVersions: Map<string, number>;
  /**
   * Uncommitted events with client-supplied ids, with the promise of their batch, so a retry that
   * arrives while the original is in flight is recognized. Generated ids are unguessable UUIDv7s.
   */
  inflightIds: Map<string, { event: StoredEvent; done: Promise<void> }>;
}

const WAL_DIR = 'wal';
const SEGMENT_DIR = 'segments';
/** The active log is zero-filled this far ahead of the writes. */
const WAL_PREALLOCATE_BYTES = 16 * 1024 * 1024;
/** Events folded per background slice: about half a millisecond of work. */
const FOLD_SLICE_EVENTS = 1000;
/** How long writes must pause before the background folds entities with only a few pending events. */
const QUIET_FOLD_MS = 5;
/** On close, a log holding at least this much is rolled so the next open reads columns, not log records. */
const CLOSE_ROLL_BYTES = 4 * 1024 * 1024;

function walName(seq: number): string {
  return `${String(seq).padStart(12, '0')}.log`;
}

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
  private readonly ids = new UuidV7Generator();
  private readonly roller: SegmentRoller;
  /** Roll and read segments in worker threads (the default) rather than in-process. */
  private readonly useWorkers: boolean;
  private readonly openedAt = Date.now();

  private lock: DirectoryLock | null = null;
  private manifest: Manifest = { format: 1, segments: [], rolled_wal_seq: 0 };
  private readonly indexes = new Map<string, TenantIndex>();
  private readonly writers = new Map<string, TenantWriter>();
  /** Scratch maps of the synchronous first pass of an append (cleared on each use). */
  private readonly scratchIds = new Map<string, number>();
  private readonly scratchVersions = new Map<string, number>();

  private nextPosition = 1;
  private lastRecordedMs = 0;
  private walSeq = 0;
  /** The active log: opened synchronously at open or rotation, switched to a FileHandle by the first flush. */
  private walFileSync: number | null = null;
  private walFile: FileHandle | null = null;
  /** Where the next frame goes. */
  private walBytes = 0;
  /** How far the active log is preallocated with zeros (fdatasync is cheaper when the file size does not change). */
  private walAllocated = 0;
  private walExtending: Promise<void> | null = null;
  private walFrames = 0;

  private queue: PendingBatch[] = [];
  private flushing: Promise<void> | null = null;
  private readonly sealedSeqs: number[] = [];
  private rolling: Promise<void> | null = null;
  private lastRollError: string | null = null;
  private failure: Error | null = null;
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

    const walSeqs = this.listDir(walDir)
      .filter((name) => /^\d{12}\.log$/.test(name))
      .map((name) => Number.parseInt(name, 10))
      .sort((a, b) => a - b);
    const live: number[] = [];
    for (const seq of walSeqs) {
      // Already rolled into a segment: the process stopped between the manifest and the delete.
      if (seq <= this.manifest.rolled_wal_seq) {
        if (!this.readOnly) unlinkSync(join(walDir, walName(seq)));
      } else {
        live.push(seq);
      }
    }
    let activeEnd = WAL_MAGIC.length;
    for (let i = 0; i < live.length; i++) {
      const path = join(walDir, walName(live[i]));
      const image = readFileSync(path);
      const scan = scanWal(image, path);
      const isLast = i === live.length - 1;
      if (scan.tail !== null || scan.validEnd < WAL_MAGIC.length) {
        const before = countRecords(scan.bodies);
        const reason = scan.tail?.reason ?? 'truncated file header';
        // Sealed logs were complete and fsync'd before a newer one was started: damage there is corruption.
        if (!isLast) throw new WalCorruptionError(path, scan.validEnd, `${reason}, in a sealed log that newer logs follow`, before);
        // A complete frame that fails its checksum may have been acknowledged: a person decides.
        if (scan.tail?.kind === 'corrupt') throw new WalCorruptionError(path, scan.tail.offset, scan.tail.reason, before);
        if (this.readOnly) {
          if (scan.tailBytes > 0) this.log(`skipped a torn write of ${scan.tailBytes} bytes at offset ${scan.validEnd} of ${path} (${reason}: an append that never completed, so never acknowledged); read-only, so the file is left as it is`);
        } else {
          this.truncateTail(path, scan.validEnd, scan.tailBytes, reason);
        }
      }
      if (isLast) activeEnd = Math.max(scan.validEnd, WAL_MAGIC.length);
      for (const body of scan.bodies) {
        for (const event of decodeBatch(body)) {
          this.applyRecovered(event);
        }
      }
    }
    for (const index of this.indexes.values()) this.writerFor(index.tenant).head = index.headHash;
    this.lastRecordedMs = this.lastRecoveredMs;
    this.lastRecoveredIndex = null;

    // Every log but the newest is sealed and waits to be rolled; the newest takes new appends.
    if (this.readOnly) {
      // Nothing is opened for writing, and no roll starts; health still names the active log.
      this.walSeq = live.length === 0 ? this.manifest.rolled_wal_seq + 1 : live[live.length - 1];
      this.walBytes = live.length === 0 ? 0 : activeEnd;
      this.sealedSeqs.push(...live.slice(0, -1));
    } else if (live.length === 0) {
      this.startWal(this.manifest.rolled_wal_seq + 1);
    } else {
      this.sealedSeqs.push(...live.slice(0, -1));
      const seq = live[live.length - 1];
      const path = join(walDir, walName(seq));
      this.walSeq = seq;
      this.walBytes = activeEnd;
      this.walAllocated = statSync(path).size;
      this.walFrames = this.walBytes > WAL_MAGIC.length ? 1 : 0;
      this.walFileSync = openSync(path, 'r+');
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
      if (this.queue.length > 0) {
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

  private truncateTail(path: string, validEnd: number, tailBytes: number, reason: string): void {
    const fd = openSync(path, 'r+');
    try {
      if (validEnd < WAL_MAGIC.length) {
        ftruncateSync(fd, 0);
        writeSync(fd, WAL_MAGIC, 0, WAL_MAGIC.length, 0);
      } else {
        ftruncateSync(fd, validEnd);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (tailBytes > 0) this.log(`truncated a torn write of ${tailBytes} bytes at offset ${validEnd} of ${path} (${reason}: an append that never completed, so never acknowledged)`);
  }

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

  private startWal(seq: number): void {
    const path = join(this.dataDir, WAL_DIR, walName(seq));
    const fd = openSync(path, 'w');
    writeSync(fd, WAL_MAGIC);
    fsyncSync(fd);
    fsyncDir(join(this.dataDir, WAL_DIR));
    this.walSeq = seq;
    this.walBytes = WAL_MAGIC.length;
    this.walAllocated = WAL_MAGIC.length;
    this.walFrames = 0;
    this.walFileSync = fd;
  }

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

  private writerFor(tenant: string): TenantWriter {
    let writer = this.writers.get(tenant);
    if (writer === undefined) {
      writer = { head: this.indexes.get(tenant)?.headHash ?? '', inflightVersions: new Map(), inflightIds: new Map() };
      this.writers.set(tenant, writer);
    }
    return writer;
  }

  private ensureUsable(): void {
    if (this.closed) throw new UnavailableError('the store is closed');
  }

  private ensureWritable(): void {
    this.ensureUsable();
    if (this.readOnly) throw new ForbiddenError(`the store at ${this.dataDir} was opened read-only; it takes no writes`);
    if (this.failure !== null) {
      throw new UnavailableError(`the store stopped accepting writes after a disk error (${this.failure.message}); reopen it`, { cause: this.failure });
    }
  }

  // --- append ----------------------------------------------------------------------------------

  async append(tenant: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.ensureWritable();
    const { dry_run } = checkAppendCall(tenant, events, options);
    const prepared = new Array<PreparedEvent>(events.length);
    for (let i = 0; i < events.length; i++) prepared[i] = prepareEvent(events[i], i, this.maxPayloadBytes);
    return this.appendPrepared(tenant, prepared, dry_run);
  }

  private async appendPrepared(tenant: string, prepared: PreparedEvent[], dryRun: boolean): Promise<AppendResult> {
    const index = this.indexes.get(tenant);
    const writer = this.writerFor(tenant);

    // Pass 1: idempotency and optimistic concurrency, against committed, in-flight and earlier-in-batch
    // events. It runs synchronously, so the scratch maps cannot be shared with another call.
    const results = new Array<AppendedEvent | undefined>(prepared.length);
    const versions = new Array<number>(prepared.length);
    /** For an id repeated inside the batch: the index of its first occurrence. */
    let repeatOf: Map<number, number> | undefined;
    const waits: Promise<void>[] = [];
    const batchIds = this.scratchIds;
    const batchVersions = this.scratchVersions;
    batchIds.clear();
    batchVersions.clear();
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i];
      if (p.id !== undefined) {
        const earlier = batchIds.get(p.id);
        if (earlier !== undefined) {
          if (!sameContent(prepared[earlier], p)) throw conflictOnId(p.id, i);
          (repeatOf ??= new Map()).set(i, earlier);
          continue;
        }
        batchIds.set(p.id, i);
        const inflight = writer.inflightIds.get(p.id);
        const existing = inflight?.event ?? index?.findById(p.id);
        if (existing !== undefined) {
          if (!sameStored(existing, p)) throw conflictOnId(p.id, i);
          results[i] = appended(existing, true);
          if (inflight !== undefined) waits.push(inflight.done);
          continue;
        }
      }
      const current = batchVersions.get(p.entity_id) ?? writer.inflightVersions.get(p.entity_id) ?? index?.entityVersion(p.entity_id) ?? 0;
      if (p.expected_version !== undefined && p.expected_version !== current) {
        throw new ConflictError(
          `events[${i}].expected_version: entity ${JSON.stringify(p.entity_id)} is at version ${current}, not ${p.expected_version}; read it again and retry`,
          { field: `events[${i}].expected_version`, details: { entity_id: p.entity_id, expected: p.expected_version, actual: current } },
        );
      }
      versions[i] = current + 1;
      batchVersions.set(p.entity_id, current + 1);
    }

    const fresh: number[] = [];
    for (let i = 0; i < prepared.length; i++) if (results[i] === undefined && !repeatOf?.has(i)) fresh.push(i);
    if (dryRun || fresh.length === 0) {
      await Promise.all(waits);
      return this.finishResults(prepared, results, fresh, repeatOf, dryRun, [], 0);
    }

    // Pass 2: assign ids, versions, positions, the recorded time and the hash chain. Each event's
    // canonical form feeds its hash and is also its record in the log frame.
    const ms = Math.max(this.now(), this.lastRecordedMs);
    this.lastRecordedMs = ms;
    const timestamp = formatInstant(ms);
    let generated = 0;
    for (const i of fresh) if (prepared[i].id === undefined) generated++;
    const newIds = generated > 0 ? this.ids.batch(ms, generated) : [];
    let nextNewId = 0;
    const stored: StoredEvent[] = new Array(fresh.length);
    // Each event's log record is its canonical form and its hash, on two lines (see wal.ts).
    const parts: string[] = new Array(2 * fresh.length);
    for (let k = 0; k < fresh.length; k++) {
      const p = prepared[fresh[k]];
      const id = p.id ?? newIds[nextNewId++];
      const version = versions[fresh[k]];
      const position = this.nextPosition++;
      const occurred_at = p.occurred_at ?? timestamp;
      const event = {
        id,
        tenant_id: tenant,
        entity_id: p.entity_id,
        event_type: p.event_type,
        payload: p.payload,
        metadata: p.metadata,
        timestamp,
        occurred_at,
        version,
        position,
        hash: '',
      };
      const canonical = canonicalEvent(event, p.payloadJson, p.metadataJson);
      event.hash = writer.head = chainHash(writer.head, canonical);
      stored[k] = Object.freeze(event);
      parts[2 * k] = canonical;
      parts[2 * k + 1] = event.hash;
    }

    for (const [entityId, version] of batchVersions) writer.inflightVersions.set(entityId, version);
    const done = this.enqueue(tenant, encodeRecordFrame(parts), stored);
    for (let k = 0; k < fresh.length; k++) if (prepared[fresh[k]].id !== undefined) writer.inflightIds.set(stored[k].id, { event: stored[k], done });
    await done;
    if (waits.length > 0) await Promise.all(waits);
    return this.finishResults(prepared, results, fresh, repeatOf, false, stored, stored[stored.length - 1].position);
  }

  private finishResults(
    prepared: PreparedEvent[],
    results: Array<AppendedEvent | undefined>,
    fresh: number[],
    repeatOf: Map<number, number> | undefined,
    dryRun: boolean,
    stored: StoredEvent[],
    lastPosition: number,
  ): AppendResult {
    for (let k = 0; k < fresh.length; k++) {
      const i = fresh[k];
      const event = stored[k];
      if (event !== undefined) {
        results[i] = appended(event, false);
      } else {
        // Dry run: report what would be written, with no id, position or time assigned.
        const p = prepared[i];
        results[i] = { id: p.id ?? '', entity_id: p.entity_id, event_type: p.event_type, version: 0, position: 0, timestamp: '', occurred_at: p.occurred_at ?? '', duplicate: false };
      }
    }
    // A repeated id within the batch mirrors the result of its first occurrence.
    if (repeatOf !== undefined) for (const [i, first] of repeatOf) results[i] = { ...results[first]!, duplicate: true };
    return { events: results as AppendedEvent[], last_position: lastPosition, dry_run: dryRun };
  }

  // --- group commit ----------------------------------------------------------------------------

  private enqueue(tenant: string, frame: Buffer, events: StoredEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tenant, frame, events, resolve, reject });
      if (this.flushing === null) {
        // Start on the next turn, not now: appends issued in the same turn (e.g. writers woken by
        // the previous commit) then share this flush and its fsync instead of trailing it.
        this.flushing = new Promise<void>((started) => setImmediate(started)).then(() => this.flushLoop()).finally(() => (this.flushing = null));
      }
    });
  }

  /** Writes everything queued in one write and one fsync, then repeats while more arrived meanwhile. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batches = this.queue;
      this.queue = [];
      try {
        const file = await this.walHandle();
        const buffer = batches.length === 1 ? batches[0].frame : Buffer.concat(batches.map((b) => b.frame));
        // Never write into a region a zero-fill is still writing to.
        if (this.walBytes + buffer.length > this.walAllocated && this.walExtending !== null) await this.walExtending;
        let written = 0;
        while (written < buffer.length) {
          const { bytesWritten } = await file.write(buffer, written, buffer.length - written, this.walBytes + written);
          written += bytesWritten;
        }
        // With O_DSYNC the write itself returned only once the data was on disk.
        if (this.durability === 'fsync' && !this.walDsync) await file.datasync();
        this.walBytes += buffer.length;
        this.walAllocated = Math.max(this.walAllocated, this.walBytes);
        this.walFrames += batches.length;
        if (this.walAllocated - this.walBytes < Math.min(WAL_PREALLOCATE_BYTES / 2, this.walBytes) && this.walExtending === null && this.walBytes < this.walRollBytes) {
          this.walExtending = this.extendWal().finally(() => (this.walExtending = null));
        }
      } catch (err) {
        this.fail(err as Error, batches);
        return;
      }
      const touched = new Set<TenantIndex>();
      for (const batch of batches) {
        const index = this.indexFor(batch.tenant);
        const writer = this.writerFor(batch.tenant);
        for (const event of batch.events) {
          index.apply(event);
          if (writer.inflightIds.size > 0) writer.inflightIds.delete(event.id);
          // Committed up to the latest assigned version: the index is authoritative again.
          if (writer.inflightVersions.get(event.entity_id) === event.version) writer.inflightVersions.delete(event.entity_id);
        }
        touched.add(index);
        batch.resolve();
      }
      for (const index of touched) index.notify();
      this.lastCommitAt = performance.now();
      this.scheduleFolds();
      if (this.walBytes >= this.walRollBytes) {
        try {
          await this.sealActiveWal();
        } catch (err) {
          // No new log file means nowhere to write: fail loudly rather than leave queued appends waiting.
          this.fail(err as Error, []);
          return;
        }
      }
    }
  }

  /** A failed write or fsync leaves the log's tail unknown: refuse further writes until reopened. */
  private fail(err: Error, batches: PendingBatch[]): void {
    this.failure = err;
    this.log(`write-ahead log write failed, refusing further writes: ${err.message}`);
    const error = new UnavailableError(`write failed (${err.message}); the store refuses writes until reopened`, { cause: err });
    for (const batch of [...batches, ...this.queue]) batch.reject(error);
    this.queue = [];
  }

  /**
   * Zero-fills the next stretch of the active log in the background, through a descriptor of its
   * own: the zeros need no synchronous writes (they are not data), and they should not queue
   * behind or ahead of commits on the appends' descriptor.
   */
  private async extendWal(): Promise<void> {
    const start = this.walAllocated;
    // Grow the stretch with the log (a small store stays small), up to the cap.
    const length = Math.min(WAL_PREALLOCATE_BYTES, Math.max(1 << 20, start), Math.max(this.walRollBytes - start, 0) + FRAME_HEADER_BYTES);
    let file: FileHandle | undefined;
    try {
      file = await open(join(this.dataDir, WAL_DIR, walName(this.walSeq)), 'r+');
      await file.write(Buffer.alloc(length), 0, length, start);
      this.walAllocated = Math.max(this.walAllocated, start + length);
    } catch {
      // Preallocation is an optimization; appends simply grow the file without it.
    } finally {
      await file?.close().catch(() => undefined);
    }
  }

  /**
   * The active log for appends. With fsync durability it is opened O_DSYNC where the platform has
   * it, so a commit is one write that returns once the data is durable, instead of a write and an
   * fdatasync: two trips through the thread pool become one (about 70 µs less per commit here).
   */
  private async walHandle(): Promise<FileHandle> {
    if (this.walFile === null) {
      this.closeWalSync();
      const dsync = this.durability === 'fsync' && typeof fsConstants.O_DSYNC === 'number';
      this.walFile = await open(join(this.dataDir, WAL_DIR, walName(this.walSeq)), dsync ? fsConstants.O_RDWR | fsConstants.O_DSYNC : 'r+');
      this.walDsync = dsync;
    }
    return this.walFile;
  }

  /** Whether the open active log was opened O_DSYNC. */
  private walDsync = false;

  private closeWalSync(): void {
    if (this.walFileSync !== null) closeSync(this.walFileSync);
    this.walFileSync = null;
  }

  /** Closes the active log's descriptors (the file itself stays). */
  private async closeWal(): Promise<void> {
    const file = this.walFile;
    this.walFile = null;
    await file?.close();
    this.closeWalSync();
  }

  // --- segments --------------------------------------------------------------------------------

  /** Starts a new log file and queues the sealed one for rolling. Called between flushes only. */
  private async sealActiveWal(): Promise<void> {
    if (this.walFrames === 0) return;
    const sealed = this.walSeq;
    await this.trimWal();
    await this.closeWal();
    this.startWal(sealed + 1);
    this.sealedSeqs.push(sealed);
    this.kickRoller();
  }

  /** Cuts the preallocated zeros off the active log, so a sealed or closed log is exactly its frames. */
  private async trimWal(): Promise<void> {
    if (this.walExtending !== null) await this.walExtending;
    if (this.walAllocated <= this.walBytes) return;
    if (this.walFile !== null) await this.walFile.truncate(this.walBytes);
    else if (this.walFileSync !== null) ftruncateSync(this.walFileSync, this.walBytes);
    this.walAllocated = this.walBytes;
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
    while (this.flushing !== null || this.rolling !== null) {
      await this.flushing;
      await this.rolling;
    }
  }

  // --- migration --------------------------------------------------------------------------------

  tenants(): string[] {
    this.ensureUsable();
    return [...this.indexes.keys()].filter((tenant) => (this.indexes.get(tenant)?.size ?? 0) > 0);
  }

  async importEvents(events: readonly StoredEvent[]): Promise<void> {
    this.ensureWritable();
    // Runs of one tenant become one frame each, as their original batches were.
    let start = 0;
    const frames: Promise<void>[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const writer = this.writerFor(e.tenant_id);
      if (e.position < this.nextPosition) throw new InvalidError(`events[${i}].position`, `must be above ${this.nextPosition - 1}, the last position of this store`);
      const canonical = canonicalEvent(e, JSON.stringify(e.payload), JSON.stringify(e.metadata));
      if (chainHash(writer.head, canonical) !== e.hash) throw new InvalidError(`events[${i}].hash`, `does not continue the hash chain of tenant ${JSON.stringify(e.tenant_id)} at position ${e.position}`);
      writer.head = e.hash;
      this.nextPosition = e.position + 1;
      this.lastRecordedMs = Math.max(this.lastRecordedMs, Date.parse(e.timestamp));
      if (i + 1 === events.length || events[i + 1].tenant_id !== e.tenant_id) {
        const run = events.slice(start, i + 1).map((x) => Object.freeze({ ...x }) as StoredEvent);
        const parts: string[] = [];
        for (const x of run) parts.push(canonicalEvent(x, JSON.stringify(x.payload), JSON.stringify(x.metadata)), x.hash);
        frames.push(this.enqueue(e.tenant_id, encodeRecordFrame(parts), run));
        start = i + 1;
      }
    }
    await Promise.all(frames);
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
    const result = await this.appendPrepared(
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
      ok: this.failure === null,
      kind: 'embedded',
      data_dir: this.dataDir,
      read_only: this.readOnly,
      durability: this.durability,
      last_position: this.nextPosition - 1,
      tenants: this.indexes.size,
      wal: { active_file: walName(this.walSeq), bytes: this.walBytes, sealed_waiting: this.sealedSeqs.length },
      segments: { count: this.manifest.segments.length, rows: segmentRows, bytes: segmentBytes, rolling: this.rolling !== null, last_error: this.lastRollError },
      events,
      write_error: this.failure?.message ?? null,
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
      while (this.flushing !== null) await this.flushing;
      // A read-only store never wrote, so it has nothing to seal, roll or trim.
      if (!this.readOnly) {
        if (this.failure === null && this.walBytes >= CLOSE_ROLL_BYTES) await this.sealActiveWal();
        await this.idle();
        if (this.failure === null) await this.trimWal();
      }
    } finally {
      await this.closeWal().catch(() => undefined);
      await this.roller.close();
      this.lock?.release();
      this.lock = null;
    }
  }
}

function appended(event: StoredEvent, duplicate: boolean): AppendedEvent {
  return {
    id: event.id,
    entity_id: event.entity_id,
    event_type: event.event_type,
    version: event.version,
    position: event.position,
    timestamp: event.timestamp,
    occurred_at: event.occurred_at,
    duplicate,
  };
}

function sameContent(a: PreparedEvent, b: PreparedEvent): boolean {
  return a.entity_id === b.entity_id && a.event_type === b.event_type && jsonEqual(a.payload, b.payload) && jsonEqual(a.metadata, b.metadata) && a.occurred_at === b.occurred_at;
}

/** Whether a retried event matches what was recorded under its id (occurred_at only when the retry gives one). */
function sameStored(existing: StoredEvent, p: PreparedEvent): boolean {
  return (
    existing.entity_id === p.entity_id &&
    existing.event_type === p.event_type &&
    jsonEqual(existing.payload, p.payload) &&
    jsonEqual(existing.metadata, p.metadata) &&
    (p.occurred_at === undefined || p.occurred_at === existing.occurred_at)
  );
}

function conflictOnId(id: string, index: number): ConflictError {
  return new ConflictError(
    `events[${index}].id: an event with id ${JSON.stringify(id)} was already recorded with different content; use a new id for a new event`,
    { field: `events[${index}].id`, details: { id } },
  );
}

function unlinkIfExists(path: string): void {
  if (existsSync(path)) unlinkSync(path);
}
