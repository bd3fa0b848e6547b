// When Prime writes projection snapshots and whether it trusts one it finds (the file format is
// snapshot.ts). A snapshot is read only when a tenant hydrates, and used only after checking it
// against the log: its anchor (the last prime event it folded) must still be in the log at the same
// position with the same hash, which proves the log up to there is the one it was folded from; the
// service's catch-up then rejects it if a tombstone or restore was recorded after it. Snapshots are
// written off the request path: a while after a hydration that folded many events, when a warm
// tenant has folded many more since the last one (at most once a minute), and when a tenant leaves
// the warm cache or the service closes. One write runs at a time. Where snapshots are kept is a
// SnapshotStore: a directory under the data directory (local), or the Core's artifact store (hosted,
// coreSnapshots.ts); both are checked the same way here.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventStore } from '../core/types.js';
import type { Embedder } from '../embed/types.js';
import { PrimeProjection, type ProjectionOptions, type ProjectionState } from './projection.js';
import { removeStaleTemporaries, SNAPSHOT_FILE, writeSnapshot, type SnapshotExpectation, type SnapshotMeta, type SnapshotRead } from './snapshot.js';
import { readSnapshot } from './snapshotRead.js';

/**
 * Where a tenant's one snapshot is kept. `read` checks what it can without the log (the format,
 * checksums, fingerprint, tenant, embedder: snapshotRead.ts) and may refuse early what cannot fit
 * a log that ends at `lastPosition`; the keeper then checks the anchor against the log.
 */
export interface SnapshotStore {
  /** The snapshot's place, for log lines. */
  where(tenant: string): string;
  /** null when the tenant has none. */
  read(tenant: string, expected: SnapshotExpectation & { lastPosition: number }): Promise<SnapshotRead | null>;
  /** Replaces the tenant's snapshot; resolves with its size in bytes. */
  write(tenant: string, state: ProjectionState, meta: SnapshotMeta): Promise<number>;
  /** True once the store has learned it cannot keep snapshots at all (a Core that keeps no artifacts): none is written then. */
  disabled?(): boolean;
}

/** Snapshots as files, one directory per tenant (`dirOf`), written atomically (snapshot.ts). */
export function createDirectorySnapshotStore(dirOf: (tenant: string) => string): SnapshotStore {
  return {
    where: (tenant) => join(dirOf(tenant), SNAPSHOT_FILE),
    read: (tenant, expected) => readSnapshot(dirOf(tenant), expected),
    write: async (tenant, state, meta) => {
      const dir = dirOf(tenant);
      await mkdir(dir, { recursive: true });
      await removeStaleTemporaries(dir);
      return writeSnapshot(dir, state, meta);
    },
  };
}

export interface SnapshotPolicy {
  /** Tenants with fewer prime events are not snapshotted: they fold from the log in milliseconds (default 1000). */
  minEvents: number;
  /** A warm tenant is snapshotted again once it has folded this many events since the last snapshot (default 10,000). */
  everyEvents: number;
  /** …but not more often than this, per tenant (default 60 s). */
  minIntervalMs: number;
  /** How long after a hydration (or a write that crossed `everyEvents`) the snapshot is written (default 2 s). */
  delayMs: number;
}

export const DEFAULT_SNAPSHOT_POLICY: Readonly<SnapshotPolicy> = Object.freeze({ minEvents: 1000, everyEvents: 10_000, minIntervalMs: 60_000, delayMs: 2000 });

/** What the keeper needs of a warm tenant (the service's slot). */
export interface SnapshotSubject {
  projection: PrimeProjection | undefined;
  controlPosition: number;
  /** Runs `task` when no fold of this tenant is running (the service's per-tenant queue). */
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** Per warm projection: what its last snapshot (written or loaded) covered, and any write pending. */
interface Progress {
  events: number;
  writtenAt: number;
  timer: NodeJS.Timeout | null;
}

export class SnapshotKeeper {
  private readonly progress = new WeakMap<PrimeProjection, Progress>();
  private writes: Promise<unknown> = Promise.resolve();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;
  /** Counts, for tests and benchmarks. */
  readonly counters = { loaded: 0, rejected: 0, written: 0, writeFailures: 0 };

  constructor(
    private readonly options: {
      store: EventStore;
      embedder: Embedder;
      snapshots: SnapshotStore;
      log: (line: string) => void;
      policy?: Partial<SnapshotPolicy>;
    },
  ) {}

  private get policy(): SnapshotPolicy {
    return { ...DEFAULT_SNAPSHOT_POLICY, ...this.options.policy };
  }

  /**
   * The tenant's projection restored from its snapshot, if there is one that checks out against
   * the log (whose last position is `lastPosition`); undefined otherwise, logged when one was
   * there but could not be used. The caller still catches it up, which rejects it (see the banner)
   * when a tombstone or restore follows it. A log of fewer than `minEvents` events (`logEvents`, all
   * types, tombstoned ones included) is not snapshotted under this policy, so none is looked for:
   * over HttpCore, a round trip saved on every small tenant's first read.
   */
  async load(tenant: string, lastPosition: number, options: ProjectionOptions, logEvents = Number.POSITIVE_INFINITY): Promise<{ projection: PrimeProjection; controlPosition: number } | undefined> {
    if (logEvents < this.policy.minEvents) return undefined;
    const read = await this.options.snapshots.read(tenant, { tenant, embedder: this.options.embedder, lastPosition });
    if (read === null) return undefined;
    const reject = (reason: string): undefined => {
      this.counters.rejected++;
      this.options.log(`allsource: ignoring the Prime snapshot ${this.options.snapshots.where(tenant)}: ${reason}; folding the log instead`);
      return undefined;
    };
    if (!read.ok) return reject(read.reason);
    const { anchor } = read.state;
    if (anchor.position > lastPosition) return reject(`it covers the log up to position ${anchor.position}, beyond the log's last position ${lastPosition}`);
    let event;
    try {
      event = await this.options.store.get(tenant, anchor.id);
    } catch (error) {
      if ((error as { code?: string }).code !== 'not_found') throw error;
      return reject(`the log no longer has the last event it folded (${anchor.id})`);
    }
    if (event.position !== anchor.position || event.hash !== anchor.hash) return reject(`the log's event ${anchor.id} is not the one it folded (another log, or a rewritten one)`);
    let projection: PrimeProjection;
    try {
      projection = PrimeProjection.fromState(read.state, options);
    } catch (error) {
      return reject(`it does not restore (${error instanceof Error ? error.message : String(error)})`);
    }
    this.progress.set(projection, { events: projection.eventCount, writtenAt: Date.now(), timer: null });
    return { projection, controlPosition: read.controlPosition };
  }

  /** A restored projection that caught up with the log: it is the tenant's now. */
  accepted(): void {
    this.counters.loaded++;
  }

  /** A snapshot that a catch-up found outdated (a tombstone or restore follows it). */
  rejectedAfterLoad(tenant: string, why: string): void {
    this.counters.rejected++;
    this.options.log(`allsource: ignoring the Prime snapshot ${this.options.snapshots.where(tenant)}: ${why}; folding the log instead`);
  }

  /**
   * Called after each hydration and catch-up of a warm tenant: schedules a snapshot when the
   * projection has folded enough since the last one (or has never had one).
   */
  noteProgress(tenant: string, subject: SnapshotSubject): void {
    const projection = subject.projection;
    if (this.closed || projection === undefined || projection.eventCount < this.policy.minEvents || this.options.snapshots.disabled?.() === true) return;
    let progress = this.progress.get(projection);
    if (progress === undefined) this.progress.set(projection, (progress = { events: 0, writtenAt: 0, timer: null }));
    if (progress.timer !== null) return;
    const fresh = projection.eventCount - progress.events;
    const due = progress.events === 0 ? fresh > 0 : fresh >= this.policy.everyEvents;
    if (!due) return;
    const wait = Math.max(this.policy.delayMs, progress.writtenAt + this.policy.minIntervalMs - Date.now());
    const timer = setTimeout(() => {
      (progress as Progress).timer = null;
      // Only if the same projection is still the tenant's (it may have been evicted or rebuilt).
      if (subject.projection !== projection) return;
      this.track(this.write(tenant, subject, projection));
    }, wait);
    timer.unref();
    progress.timer = timer;
  }

  /**
   * Writes a snapshot now (eviction, close) if the projection never had one, or folded at least
   * `minEvents` since its last one: a short tail is cheaper to fold at the next start than a whole
   * snapshot is to write at every exit (a one-shot CLI call that writes one node must not pay for
   * one). `force` writes whenever anything changed. Call it from inside the tenant's queue
   * (subject.run), where no fold can run.
   */
  async flushInQueue(tenant: string, subject: SnapshotSubject, force = false): Promise<void> {
    const projection = subject.projection;
    if (projection === undefined || projection.eventCount < this.policy.minEvents || this.options.snapshots.disabled?.() === true) return;
    const progress = this.progress.get(projection);
    if (progress?.timer) {
      clearTimeout(progress.timer);
      progress.timer = null;
    }
    const fresh = projection.eventCount - (progress?.events ?? 0);
    if (progress !== undefined && progress.events > 0 && (fresh === 0 || (!force && fresh < this.policy.minEvents))) return;
    const state = projection.exportState();
    if (state !== undefined) await this.enqueueWrite(tenant, projection, state, subject.controlPosition);
  }

  /** Waits for the writes in flight; no new ones are scheduled after this. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pending]);
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /** Exports the state between folds (one consistent cut), then writes it after the writes before it. */
  private async write(tenant: string, subject: SnapshotSubject, projection: PrimeProjection): Promise<void> {
    let state: ProjectionState | undefined;
    let controlPosition = 0;
    // Inside the tenant's queue: no fold runs while the state is taken (it takes tens of ms at 100k).
    await subject.run(async () => {
      if (subject.projection !== projection) return;
      state = projection.exportState();
      controlPosition = subject.controlPosition;
    });
    if (state !== undefined) await this.enqueueWrite(tenant, projection, state, controlPosition);
  }

  private enqueueWrite(tenant: string, projection: PrimeProjection, state: ProjectionState, controlPosition: number): Promise<void> {
    const run = async (): Promise<void> => {
      const where = this.options.snapshots.where(tenant);
      const started = performance.now();
      try {
        const bytes = await this.options.snapshots.write(tenant, state, { controlPosition, embedder: this.options.embedder });
        this.counters.written++;
        const progress = this.progress.get(projection);
        if (progress === undefined) this.progress.set(projection, { events: state.eventCount, writtenAt: Date.now(), timer: null });
        else {
          progress.events = state.eventCount;
          progress.writtenAt = Date.now();
        }
        this.options.log(`allsource: wrote the Prime snapshot ${where} (${state.eventCount} events, ${(bytes / 1048576).toFixed(1)} MiB, ${Math.round(performance.now() - started)} ms)`);
      } catch (error) {
        this.counters.writeFailures++;
        // A failed write waits as long as a successful one before the next try (minIntervalMs):
        // a store that keeps refusing (a full disk, a Core over its cap) is not asked every few seconds.
        const progress = this.progress.get(projection);
        if (progress === undefined) this.progress.set(projection, { events: 0, writtenAt: Date.now(), timer: null });
        else progress.writtenAt = Date.now();
        this.options.log(`allsource: cannot write the Prime snapshot ${where}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        projection.releaseState(state);
      }
    };
    const result = this.writes.then(run, run);
    this.writes = result.catch(() => undefined);
    return result;
  }
}
