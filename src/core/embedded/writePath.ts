// The write path of an EmbeddedCore: an append's checks (idempotency, expected versions) against
// what is committed and what is still in flight, the assignment of ids, positions, times and the
// hash chain, and group commit (concurrent appends share one durable write of the active log).
// Committed events are applied to the tenant indexes, which the store's reads answer from.

import { checkExpectedVersion, conflictOnId, sameContent } from '../appendChecks.js';
import { UnavailableError, InvalidError } from '../errors.js';
import { jsonEqual } from '../fold.js';
import { canonicalEvent, chainHash } from '../hash.js';
import { UuidV7Generator } from '../ids.js';
import { formatInstant } from '../time.js';
import type { AppendResult, AppendedEvent, StoredEvent } from '../types.js';
import type { PreparedEvent } from '../validate.js';
import type { ActiveLog } from './activeLog.js';
import type { TenantIndex } from './tenantIndex.js';
import { encodeRecordFrame } from './wal.js';

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

/** What the write path needs from its store. */
export interface WriteHost {
  readonly indexes: ReadonlyMap<string, TenantIndex>;
  indexFor(tenant: string): TenantIndex;
  now(): number;
  log(line: string): void;
  /** After each commit (its events applied and their watchers told). */
  committed(): void;
  /** Seals the active log once it reaches the roll size (between commits). */
  seal(): Promise<void>;
}

export class WritePath {
  private readonly ids = new UuidV7Generator();
  private readonly writers = new Map<string, TenantWriter>();
  /** Scratch maps of the synchronous first pass of an append (cleared on each use). */
  private readonly scratchIds = new Map<string, number>();
  private readonly scratchVersions = new Map<string, number>();
  private queue: PendingBatch[] = [];
  private flushingValue: Promise<void> | null = null;
  private failureValue: Error | null = null;
  /** The next position to assign, store-wide. */
  private nextPosition = 1;
  private lastRecordedMs = 0;

  constructor(
    private readonly host: WriteHost,
    private readonly wal: ActiveLog,
    private readonly rollBytes: number,
  ) {}

  /** Continues after recovery: the last position and recorded time found, and each tenant's chain head. */
  resume(lastPosition: number, lastRecordedMs: number): void {
    this.nextPosition = lastPosition + 1;
    this.lastRecordedMs = lastRecordedMs;
    for (const index of this.host.indexes.values()) this.writerFor(index.tenant).head = index.headHash;
  }

  get lastPosition(): number {
    return this.nextPosition - 1;
  }

  /** The write or fsync error that stopped the store taking writes, if any. */
  get failure(): Error | null {
    return this.failureValue;
  }

  /** The flush in progress, if any. */
  get flushing(): Promise<void> | null {
    return this.flushingValue;
  }

  /** Whether batches wait for a flush. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  private writerFor(tenant: string): TenantWriter {
    let writer = this.writers.get(tenant);
    if (writer === undefined) {
      writer = { head: this.host.indexes.get(tenant)?.headHash ?? '', inflightVersions: new Map(), inflightIds: new Map() };
      this.writers.set(tenant, writer);
    }
    return writer;
  }

  // ── append ────────────────────────────────────────────────────────────────────────────────────

  async appendPrepared(tenant: string, prepared: PreparedEvent[], dryRun: boolean): Promise<AppendResult> {
    const index = this.host.indexes.get(tenant);
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
      checkExpectedVersion(p, i, current);
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
    const ms = Math.max(this.host.now(), this.lastRecordedMs);
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

  // ── group commit ──────────────────────────────────────────────────────────────────────────────

  private enqueue(tenant: string, frame: Buffer, events: StoredEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tenant, frame, events, resolve, reject });
      if (this.flushingValue === null) {
        // Start on the next turn, not now: appends issued in the same turn (e.g. writers woken by
        // the previous commit) then share this flush and its fsync instead of trailing it.
        this.flushingValue = new Promise<void>((started) => setImmediate(started)).then(() => this.flushLoop()).finally(() => (this.flushingValue = null));
      }
    });
  }

  /** Writes everything queued in one write and one fsync, then repeats while more arrived meanwhile. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batches = this.queue;
      this.queue = [];
      try {
        const buffer = batches.length === 1 ? batches[0].frame : Buffer.concat(batches.map((b) => b.frame));
        await this.wal.write(buffer, batches.length);
      } catch (err) {
        this.fail(err as Error, batches);
        return;
      }
      const touched = new Set<TenantIndex>();
      for (const batch of batches) {
        const index = this.host.indexFor(batch.tenant);
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
      this.host.committed();
      if (this.wal.bytes >= this.rollBytes) {
        try {
          await this.host.seal();
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
    this.failureValue = err;
    this.host.log(`write-ahead log write failed, refusing further writes: ${err.message}`);
    const error = new UnavailableError(`write failed (${err.message}); the store refuses writes until reopened`, { cause: err });
    for (const batch of [...batches, ...this.queue]) batch.reject(error);
    this.queue = [];
  }

  // ── migration import ────────────────────────────────────────────────────────────────────────

  async importEvents(events: readonly StoredEvent[]): Promise<void> {
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
