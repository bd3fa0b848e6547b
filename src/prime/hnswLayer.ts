// The HNSW layer of a VectorIndex (vectorIndex.ts): the state of the hnswlib-node index over a
// space's vectors, the searches that use it, and its lifecycle: built in a worker thread
// (hnswWorker.ts) because a large build takes minutes, attached, kept current through a backlog
// drained in slices, persisted as derived data (hnswFiles.ts) so the next start loads it and adds
// only what changed. Until it is ready, and without hnswlib-node, searches are the store's exact
// scans.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidError, UnavailableError } from '../core/errors.js';
import { runHnswWorker, type StopBuild } from './hnswBuild.js';
import { BIN_FILE, digestWords, hex8, readHnswFiles, writeHnswFiles } from './hnswFiles.js';
import { hnswSwitchedOff, hnswWorkerUrl, loadHnswlib, logOnce } from './hnswLib.js';
import type { HnswBuildRequest, HnswIndex, Hnswlib } from './hnswWorker.js';
import { TopK, VectorStore, type VectorHit } from './vectorStore.js';
import {
  DEFAULT_THRESHOLD,
  DRAIN_AT_BACKLOG,
  DRAIN_QUIET_MS,
  DRAIN_SLICE_MS,
  HNSW_EF_CONSTRUCTION,
  HNSW_EF_SEARCH,
  HNSW_M,
  HNSW_SEED,
  MAX_DEFER_MS,
  PERSIST_AFTER_ADDS,
  QUIET_MS,
  REBUILD_MIN,
  type IndexedEntries,
  type Phase,
  type VectorIndexCounters,
  type VectorIndexOptions,
} from './vectorIndexSettings.js';


// ── The layer ───────────────────────────────────────────────────────────────────────────────────

/**
 * A space's vectors (a VectorStore) and the HNSW index layered on it: its state, its searches and
 * its lifecycle (build in a worker, attach, drain the backlog, persist). VectorIndex is the public
 * face over it.
 */
export abstract class HnswLayer {
  readonly dims: number;
  protected readonly threshold: number;
  protected readonly persistDir: string | undefined;
  protected readonly efSearch: number;
  protected readonly log: (line: string) => void;
  private readonly workerScript: URL;
  /** Why HNSW is never used here, or null when it may be. */
  protected readonly disabled: 'env' | 'option' | null;

  /** The vectors themselves and the exact search over them. */
  protected readonly store: VectorStore;

  // HNSW state. Invariant while attached: every live id is either labelled (in the index with its
  // current vector) or in the backlog (waiting to be added), never both.
  protected phase: Phase = 'none';
  protected hnsw: HnswIndex | null = null;
  protected readonly labelToId = new Map<number, string>();
  private readonly idToLabel = new Map<string, number>();
  protected readonly backlog = new Set<string>();
  /** Labels removed while the index was being written; marked deleted once the write is done. */
  private pendingDeletes: number[] = [];
  private nextLabel = 0;
  /** Elements marked deleted in the index (their slots are reused by the next adds). */
  private deletedInIndex = 0;
  /** True while writeIndex reads the index on libuv's pool: no mutation may touch it then. */
  private frozen = false;
  protected indexVersion = 0;
  protected persistedVersion = 0;
  protected origin = '';
  private persistWhenDrained = false;
  /** Vectors added to the index since it was last written (a process may never close cleanly). */
  private addedSincePersist = 0;
  private rebuildsInARow = 0;
  protected failure: { reason: string; retryAt: number } | null = null;
  protected progress = { done: 0, total: 0 };

  private startTimer: NodeJS.Timeout | null = null;
  private scheduledAt = 0;
  private mutationsAtArm = 0;
  protected mutations = 0;
  private drainHandle: NodeJS.Immediate | null = null;
  /** Waits for writes to pause before the backlog is drained (see DRAIN_QUIET_MS). */
  private drainTimer: NodeJS.Timeout | null = null;
  protected lastMutationAt = -Infinity;
  /** Stops the build running in a worker thread, if one is. */
  protected stopBuild: StopBuild | null = null;
  protected indexing: Promise<void> | null = null;
  protected persistQueue: Promise<void> = Promise.resolve();
  protected persisting = 0;
  protected idleWaiters: Array<() => void> = [];
  protected closed = false;
  protected readonly stats: VectorIndexCounters = { builds: 0, workerBuilds: 0, loads: 0, rejectedFiles: 0, lastBuildMs: null };

  constructor(options: VectorIndexOptions) {
    if (!Number.isInteger(options.dims) || options.dims <= 0) throw new InvalidError('dims', `must be a positive integer, got ${options.dims}`);
    const threshold = options.hnswThreshold ?? DEFAULT_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold <= 0) throw new InvalidError('hnswThreshold', `must be a positive integer, got ${threshold}`);
    this.dims = options.dims;
    this.threshold = threshold;
    this.persistDir = options.persistDir;
    this.efSearch = options.efSearch ?? HNSW_EF_SEARCH;
    if (!Number.isInteger(this.efSearch) || this.efSearch < 1) throw new InvalidError('efSearch', `must be a positive integer, got ${String(options.efSearch)}`);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.workerScript = options.workerScript ?? hnswWorkerUrl();
    this.disabled = hnswSwitchedOff() ? 'env' : options.hnsw === false ? 'option' : null;
    const int8 = options.int8 ?? options.hnsw !== false;
    if (options.restore !== undefined && options.restore.dims !== this.dims) throw new InvalidError('restore', `holds ${options.restore.dims}-d vectors, this space has ${this.dims}`);
    this.store = options.restore === undefined ? new VectorStore({ dims: this.dims, int8 }) : VectorStore.fromState(options.restore, { int8 });
    if (this.store.size > 0) this.maybeSchedule();
  }

  /** How many vectors the space holds. */
  get size(): number {
    return this.store.size;
  }

  /**
   * Writes the HNSW index (if any) and its sidecar to persistDir, atomically, so the next open
   * loads instead of rebuilding. Does nothing without persistDir or an index.
   */
  persist(): Promise<void> {
    // Counted from now, not from when the queue reaches it: whenIdle must wait for it.
    this.persisting++;
    const run = (): Promise<void> => this.persistNow();
    const result = this.persistQueue.then(run, run).finally(() => {
      this.persisting--;
      this.settleIdle();
    });
    this.persistQueue = result.catch(() => undefined);
    return result;
  }

  // ── HNSW: search ──────────────────────────────────────────────────────────────────────────────

  /** HNSW answers once it holds most vectors; the backlog of the rest is scanned exactly. */
  protected usesHnsw(): boolean {
    return this.phase === 'attached' && this.labelToId.size > 0 && !this.catchingUp();
  }

  /** True while most vectors are still waiting to be added (a main-thread build, or a large backlog). */
  protected catchingUp(): boolean {
    return this.backlog.size > this.labelToId.size;
  }

  /** HNSW hits merged with an exact scan of the backlog, or null when HNSW found too few. */
  protected searchHnsw(query: Float32Array, k: number, accept: ((id: string) => boolean) | undefined): VectorHit[] | null {
    const index = this.hnsw as HnswIndex;
    const want = Math.min(k, this.labelToId.size);
    const labelToId = this.labelToId;
    // Labels deleted during a write are still live inside the index until it is done.
    const filter =
      accept !== undefined || this.pendingDeletes.length > 0
        ? (label: number): boolean => {
            const id = labelToId.get(label);
            return id !== undefined && (accept === undefined || accept(id));
          }
        : undefined;
    let result: { distances: number[]; neighbors: number[] };
    try {
      result = index.searchKnn(Array.from(query), want, filter);
    } catch (error) {
      this.log(`vector index: HNSW search failed, answering exactly: ${describe(error)}`);
      return null;
    }
    const top = new TopK(k);
    let found = 0;
    for (let i = 0; i < result.neighbors.length; i++) {
      const id = labelToId.get(result.neighbors[i]);
      if (id === undefined) continue;
      found++;
      // ip distance is 1 - dot.
      top.push(id, 1 - result.distances[i]);
    }
    if (found < want) return null;
    const query64 = Float64Array.from(query);
    for (const id of this.backlog) {
      const score = this.store.dotOf(id, query64);
      if (top.admits(score) && (accept === undefined || accept(id))) top.push(id, score);
    }
    return top.sorted();
  }

  // ── HNSW: lifecycle ───────────────────────────────────────────────────────────────────────────

  /** Arms the start of a load-or-build once the index is large enough (or now, when `now`). */
  protected maybeSchedule(now = false): void {
    if (this.disabled !== null || this.closed) return;
    if (this.phase === 'scheduled' || this.phase === 'loading' || this.phase === 'building' || this.phase === 'attached') return;
    if (this.size < this.threshold) return;
    if (this.phase === 'failed' && this.failure !== null && this.size < this.failure.retryAt) return;
    if (!loadHnswlib().ok) {
      // Stays 'none': status() explains, and start() logs it once.
      this.start();
      return;
    }
    this.phase = 'scheduled';
    if (now) {
      this.start();
      return;
    }
    this.scheduledAt = performance.now();
    this.armStartTimer(QUIET_MS);
  }

  private armStartTimer(ms: number): void {
    this.mutationsAtArm = this.mutations;
    this.startTimer = setTimeout(() => {
      this.startTimer = null;
      const waited = performance.now() - this.scheduledAt;
      if (this.mutations !== this.mutationsAtArm && waited < MAX_DEFER_MS) this.armStartTimer(QUIET_MS);
      else this.start();
    }, ms);
  }

  protected clearStartTimer(): void {
    if (this.startTimer === null) return;
    clearTimeout(this.startTimer);
    this.startTimer = null;
  }

  /** Loads the persisted index, or builds one; searches stay exact until it is attached. */
  protected start(): void {
    this.clearStartTimer();
    if (this.closed || this.size < this.threshold) {
      this.phase = 'none';
      this.settleIdle();
      return;
    }
    const probe = loadHnswlib();
    if (!probe.ok) {
      this.phase = 'none';
      const message = probe.installed
        ? `vector index: hnswlib-node failed to load (${probe.reason}); answers stay exact`
        : 'vector index: hnswlib-node is not installed (it builds from source at install); answers stay exact';
      logOnce(this.log, message);
      this.settleIdle();
      return;
    }
    this.phase = this.persistDir === undefined ? 'building' : 'loading';
    this.indexing = this.loadOrBuild(probe.lib, probe.path)
      .catch((error: unknown) => {
        if (!this.closed) this.indexBroken('build', error);
      })
      .finally(() => {
        this.indexing = null;
        this.settleIdle();
      });
  }

  private async loadOrBuild(lib: Hnswlib, libPath: string): Promise<void> {
    if (this.persistDir !== undefined && (await this.loadPersisted(lib))) return;
    while (!this.closed) {
      if (!this.canUseWorker()) {
        logOnce(this.log, `vector index: no HNSW worker script at ${fileURLToPath(this.workerScript)}; building on the main thread in slices`);
        const index = new lib.HierarchicalNSW('ip', this.dims);
        index.initIndex(initialCapacity(this.size), HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_SEED, true);
        index.setEf(this.efSearch);
        this.stats.builds++;
        this.nextLabel = 0;
        this.deletedInIndex = 0;
        this.attach(index, { ids: [], digests: [] }, { origin: 'built on the main thread', mayRebuild: false, fresh: true });
        return;
      }
      if (await this.buildInWorker(lib, libPath)) return;
    }
  }

  /** True when the worker script exists (it may not when running from sources without a build). */
  private canUseWorker(): boolean {
    return this.workerScript.protocol !== 'file:' || existsSync(fileURLToPath(this.workerScript));
  }

  /** Builds over a snapshot in the worker and attaches the result; false when it must be redone. */
  private async buildInWorker(lib: Hnswlib, libPath: string): Promise<boolean> {
    this.phase = 'building';
    const { ids, vectors, digests } = this.store.pack();
    const count = ids.length;
    const dir = this.persistDir ?? tmpdir();
    await mkdir(dir, { recursive: true });
    const outPath = join(dir, `hnsw.build.${process.pid}.${randomUUID()}.tmp`);
    this.progress = { done: 0, total: count };
    try {
      const request: Omit<HnswBuildRequest, 'cancel'> = {
        hnswlibPath: libPath,
        dims: this.dims,
        m: HNSW_M,
        efConstruction: HNSW_EF_CONSTRUCTION,
        seed: HNSW_SEED,
        capacity: initialCapacity(count),
        count,
        vectors,
        outPath,
      };
      const ms = await this.runWorker(request);
      if (this.closed) return true;
      const index = new lib.HierarchicalNSW('ip', this.dims);
      await index.readIndex(outPath, true);
      if (this.closed) return true;
      index.setEf(this.efSearch);
      this.stats.builds++;
      this.stats.workerBuilds++;
      this.stats.lastBuildMs = ms;
      this.log(`vector index: HNSW over ${count} vectors built in ${(ms / 1000).toFixed(1)} s in a worker thread`);
      this.nextLabel = count;
      this.deletedInIndex = 0;
      return this.attach(index, { ids, digests }, { origin: `built in ${(ms / 1000).toFixed(1)} s in a worker thread`, mayRebuild: true, fresh: true });
    } finally {
      await rm(outPath, { force: true });
    }
  }

  /** Runs one build in a fresh worker thread; resolves with its duration in ms. */
  private runWorker(request: Omit<HnswBuildRequest, 'cancel'>): Promise<number> {
    let mine: StopBuild | null = null;
    return runHnswWorker(this.workerScript, request, {
      started: (stop) => (this.stopBuild = mine = stop),
      progress: (done) => (this.progress.done = done),
      exited: () => {
        if (this.stopBuild === mine) this.stopBuild = null;
        return this.closed ? 'the index was closed during the build' : undefined;
      },
    });
  }

  /** Loads hnsw.bin if its sidecar matches this index; false (logged) when absent or unusable. */
  private async loadPersisted(lib: Hnswlib): Promise<boolean> {
    const dir = this.persistDir as string;
    try {
      const loaded = await readHnswFiles(dir, this.dims, lib, (line) => this.log(`vector index: ${line}; rebuilding`));
      if (loaded === null) return false;
      if (this.closed) return true;
      const { index, sidecar } = loaded;
      index.setEf(this.efSearch);
      const digests = digestWords(sidecar.digests);
      this.nextLabel = sidecar.next_label;
      this.deletedInIndex = index.getCurrentCount() - sidecar.labels.length;
      if (!this.attach(index, { labels: sidecar.labels, ids: sidecar.ids, digests }, { origin: `loaded from ${join(dir, BIN_FILE)}`, mayRebuild: true, fresh: false })) {
        return false;
      }
      this.stats.loads++;
      this.log(`vector index: loaded the persisted HNSW index (${sidecar.labels.length} vectors) from ${dir}`);
      return true;
    } catch (error) {
      this.stats.rejectedFiles++;
      this.log(`vector index: ignoring the persisted HNSW index in ${dir} (${describe(error)}); rebuilding it`);
      return false;
    }
  }

  /**
   * Makes `index` the live one: entries whose id is gone or whose vector changed since are marked
   * deleted, and live vectors it lacks go to the backlog. When that backlog (or the dead weight)
   * is larger than what the index holds, adding on the main thread would cost more than a fresh
   * build: the index is dropped and false returned (unless `mayRebuild` is false). A `fresh`
   * (just built) index is persisted once it has caught up.
   */
  private attach(index: HnswIndex, entries: IndexedEntries, how: { origin: string; mayRebuild: boolean; fresh: boolean }): boolean {
    this.detach();
    let stale = 0;
    for (let i = 0; i < entries.ids.length; i++) {
      const label = entries.labels?.[i] ?? i;
      const id = entries.ids[i];
      const current = !this.idToLabel.has(id) && this.store.matchesDigest(id, entries.digests, i);
      if (current) {
        this.labelToId.set(label, id);
        this.idToLabel.set(id, label);
      } else {
        index.markDelete(label);
        this.deletedInIndex++;
        stale++;
      }
    }
    for (const id of this.store.ids()) if (!this.idToLabel.has(id)) this.backlog.add(id);
    const held = this.labelToId.size;
    if (how.mayRebuild && this.canUseWorker() && this.rebuildsInARow < 2 && (this.backlog.size > Math.max(REBUILD_MIN, held) || stale > Math.max(REBUILD_MIN, held))) {
      this.log(`vector index: the HNSW index lacks ${this.backlog.size} and holds ${stale} outdated of ${this.size} vectors; rebuilding it`);
      this.rebuildsInARow++;
      this.detach();
      return false;
    }
    this.rebuildsInARow = 0;
    this.hnsw = index;
    this.phase = 'attached';
    this.origin = how.origin;
    this.failure = null;
    this.indexVersion++;
    // A loaded index that needed no change is what is already on disk.
    if (!how.fresh && stale === 0 && this.backlog.size === 0) this.persistedVersion = this.indexVersion;
    this.persistWhenDrained = how.fresh;
    this.scheduleDrain();
    return true;
  }

  /** Forgets the index and its label maps (searches go exact). */
  protected detach(): void {
    this.cancelDrain();
    this.hnsw = null;
    this.labelToId.clear();
    this.idToLabel.clear();
    this.backlog.clear();
    this.pendingDeletes = [];
  }

  /** Takes `id`'s current vector out of the index (if it is in it). */
  protected unlabel(id: string): void {
    const label = this.idToLabel.get(id);
    if (label === undefined) return;
    this.idToLabel.delete(id);
    this.labelToId.delete(label);
    if (this.frozen) {
      this.pendingDeletes.push(label);
      return;
    }
    try {
      (this.hnsw as HnswIndex).markDelete(label);
    } catch (error) {
      this.indexBroken('delete', error);
      return;
    }
    this.deletedInIndex++;
    this.indexVersion++;
  }

  /**
   * Drops an index that failed (or a build that failed): answers go exact, and a new build is
   * tried once the space has doubled, so a persistent failure does not rebuild in a loop.
   */
  private indexBroken(step: string, error: unknown): void {
    this.detach();
    this.phase = 'failed';
    this.failure = { reason: `${step}: ${describe(error)}`, retryAt: Math.max(this.threshold, 2 * this.size) };
    this.log(`vector index: HNSW ${step} failed (${describe(error)}); answers stay exact until ${this.failure.retryAt} vectors`);
    this.settleIdle();
  }

  /** Drains the backlog in slices once writes pause (or the backlog is large). */
  protected scheduleDrain(): void {
    if (this.drainHandle !== null || this.drainTimer !== null || this.frozen || this.hnsw === null || this.closed) return;
    if (this.backlog.size === 0) {
      this.whenDrained();
      return;
    }
    const quietFor = performance.now() - this.lastMutationAt;
    if (this.backlog.size >= DRAIN_AT_BACKLOG || quietFor >= DRAIN_QUIET_MS) {
      this.drainHandle = setImmediate(() => this.drainSlice());
      return;
    }
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.scheduleDrain();
      this.settleIdle();
    }, Math.ceil(DRAIN_QUIET_MS - quietFor));
  }

  protected cancelDrain(): void {
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    if (this.drainHandle === null) return;
    clearImmediate(this.drainHandle);
    this.drainHandle = null;
  }

  /** Adds backlog vectors to the index for one short slice, then yields to the event loop. */
  private drainSlice(): void {
    this.drainHandle = null;
    const index = this.hnsw;
    if (index === null || this.frozen || this.closed) {
      this.settleIdle();
      return;
    }
    try {
      this.addBacklogSlice(index);
    } catch (error) {
      this.indexBroken('add', error);
      return;
    }
    this.indexVersion++;
    // Goes on while writes stay paused (or the backlog is large); writes arriving meanwhile defer the rest.
    this.scheduleDrain();
    this.settleIdle();
  }

  private addBacklogSlice(index: HnswIndex): void {
    const deadline = performance.now() + DRAIN_SLICE_MS;
    const row: number[] = new Array<number>(this.dims).fill(0);
    for (const id of this.backlog) {
      this.backlog.delete(id);
      if (this.deletedInIndex === 0 && index.getCurrentCount() >= index.getMaxElements()) {
        index.resizeIndex(Math.ceil(index.getMaxElements() * 1.5) + 64);
      }
      this.store.rowInto(id, row);
      const label = this.nextLabel++;
      // Reuses the slot of a deleted element when there is one, so updates do not grow the index.
      index.addPoint(row, label, true);
      if (this.deletedInIndex > 0) this.deletedInIndex--;
      this.labelToId.set(label, id);
      this.idToLabel.set(id, label);
      this.addedSincePersist++;
      if (performance.now() >= deadline) break;
    }
  }

  /**
   * After a fresh build has caught up, it is persisted so the next start loads it; so is a loaded
   * one once it has taken many vectors since it was written (a local MCP process is often killed,
   * not closed, and the next start would otherwise add them all again).
   */
  private whenDrained(): void {
    if (!this.persistWhenDrained && this.addedSincePersist < PERSIST_AFTER_ADDS) return;
    this.persistWhenDrained = false;
    if (this.persistDir === undefined) return;
    this.persist().catch((error: unknown) => this.log(`vector index: ${describe(error)}`));
  }

  protected async persistNow(): Promise<void> {
    const dir = this.persistDir;
    const index = this.hnsw;
    if (dir === undefined || index === null) return;
    this.persisting++;
    const added = this.addedSincePersist;
    this.addedSincePersist = 0;
    try {
      const version = this.indexVersion;
      await writeHnswFiles(dir, async (binPath) => {
        // The sidecar describes the index exactly as written: nothing may change it until the write ends.
        this.frozen = true;
        this.cancelDrain();
        const labels: number[] = [];
        const ids: string[] = [];
        const digests: string[] = [];
        for (const [label, id] of this.labelToId) {
          const [digest0, digest1] = this.store.digestOf(id);
          labels.push(label);
          ids.push(id);
          digests.push(hex8(digest0) + hex8(digest1));
        }
        const nextLabel = this.nextLabel;
        try {
          await index.writeIndex(binPath);
        } finally {
          this.thaw(index);
        }
        return { dims: this.dims, space: 'ip', m: HNSW_M, ef_construction: HNSW_EF_CONSTRUCTION, next_label: nextLabel, labels, ids, digests };
      });
      this.persistedVersion = version;
    } catch (error) {
      this.addedSincePersist += added;
      throw new UnavailableError(`cannot persist the HNSW index to ${dir}: ${describe(error)}`, { cause: error });
    } finally {
      this.persisting--;
      this.settleIdle();
    }
  }

  /** Ends a write: applies the deletes that waited for it and resumes adding the backlog. */
  private thaw(index: HnswIndex): void {
    this.frozen = false;
    const deletes = this.pendingDeletes;
    this.pendingDeletes = [];
    if (this.hnsw !== index) return;
    try {
      for (const label of deletes) index.markDelete(label);
    } catch (error) {
      this.indexBroken('delete', error);
      return;
    }
    this.deletedInIndex += deletes.length;
    if (deletes.length > 0) this.indexVersion++;
    this.scheduleDrain();
  }

  protected busy(): boolean {
    return this.startTimer !== null || this.indexing !== null || this.drainHandle !== null || this.drainTimer !== null || this.persisting > 0 || this.phase === 'scheduled';
  }

  protected settleIdle(): void {
    if (this.busy() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────

/** Capacity of a new index: room for growth before the first resize. */
function initialCapacity(count: number): number {
  return Math.ceil(count * 1.25) + 64;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
