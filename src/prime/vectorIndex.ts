// One space of a tenant's vectors (unit-length Float32Array keyed by id, cosine = dot product) and
// the nearest-neighbour search over it. Answers are exact (vectorStore.ts: a scan, prefiltered by
// int8 scores once the space is large) until an hnswlib-node HNSW index is ready, and come from
// that index once the space reaches the threshold. The index, its building in a worker thread and
// its persisting are the HNSW layer (hnswLayer.ts); this file is the public face: upserts,
// removals, searches, status, close. hnswlib-node is optional (hnswLib.ts), and without it
// everything stays exact.

import { InvalidError } from '../core/errors.js';
import { HNSW_SWITCHED_OFF, hnswAvailability } from './hnswLib.js';
import type { VectorIndexStatus } from './types.js';
import { allFinite, describeVector, type VectorHit, type VectorStoreState } from './vectorStore.js';
import { HNSW_M, type VectorIndexCounters } from './vectorIndexSettings.js';
import { describe, HnswLayer } from './hnswLayer.js';

export type { VectorIndexCounters, VectorIndexOptions } from './vectorIndexSettings.js';

export { hnswAvailability, hnswWorkerUrl } from './hnswLib.js';
export type { VectorHit, VectorStoreState } from './vectorStore.js';

// ── The index ───────────────────────────────────────────────────────────────────────────────────

/**
 * Vectors by id with nearest-neighbour search. Every vector is kept in one contiguous
 * Float32Array (a VectorStore) for exact scans; an HNSW index is layered on top once the space
 * reaches the threshold (hnswLayer.ts). Searches are exact until that index is ready.
 */
export class VectorIndex extends HnswLayer {
  /** Counters of builds and loads (for tests and benchmarks). */
  get counters(): Readonly<VectorIndexCounters> {
    return { ...this.stats };
  }

  /** Stores `vector` under `id`, replacing its previous vector. The vector is copied. */
  upsert(id: string, vector: Float32Array): void {
    if (!(vector instanceof Float32Array) || vector.length !== this.dims) {
      throw new InvalidError('vector', `expected a Float32Array of ${this.dims} dimensions, got ${describeVector(vector)}`, { id });
    }
    if (!allFinite(vector)) throw new InvalidError('vector', `holds a NaN or infinite value (id ${id})`, { id });
    if (!this.store.upsert(id, vector)) return;
    this.mutations++;
    this.lastMutationAt = performance.now();
    if (this.phase === 'attached') {
      this.unlabel(id);
      this.backlog.add(id);
      this.scheduleDrain();
    } else {
      this.maybeSchedule();
    }
  }

  /** Removes `id`; false when it was not there. */
  remove(id: string): boolean {
    if (!this.store.remove(id)) return false;
    this.mutations++;
    if (this.phase === 'attached') {
      this.unlabel(id);
      this.backlog.delete(id);
    }
    return true;
  }

  has(id: string): boolean {
    return this.store.has(id);
  }

  /** A copy of the vector stored under `id`. */
  get(id: string): Float32Array | undefined {
    return this.store.get(id);
  }

  ids(): IterableIterator<string> {
    return this.store.ids();
  }

  /** The stored vectors as a snapshot carries them (views that stay valid: the store copies on write). */
  exportState(): VectorStoreState {
    return this.store.exportState();
  }

  /** Ends an export: the snapshot that held `state` is written. */
  releaseState(state: VectorStoreState): void {
    this.store.releaseState(state);
  }

  /**
   * The `k` nearest vectors to `query`, best first (ties by id). `accept` filters ids (e.g. by node
   * type) and the result still has up to k hits when enough accepted vectors exist: an HNSW search
   * that finds too few accepted ones falls back to the exact scan.
   */
  search(query: Float32Array, k: number, accept?: (id: string) => boolean): VectorHit[] {
    if (!(query instanceof Float32Array) || query.length !== this.dims) {
      throw new InvalidError('query', `expected a Float32Array of ${this.dims} dimensions, got ${describeVector(query)}`);
    }
    if (!allFinite(query)) throw new InvalidError('query', 'holds a NaN or infinite value');
    if (!Number.isInteger(k) || k < 0) throw new InvalidError('k', `must be a non-negative integer, got ${k}`);
    if (k === 0 || this.size === 0) return [];
    if (this.usesHnsw()) {
      const hits = this.searchHnsw(query, k, accept);
      if (hits !== null) return hits;
    }
    return this.store.search(query, k, accept);
  }

  status(): VectorIndexStatus {
    const base = { vectors: this.size, dims: this.dims };
    // The switch is read when the index is made (as its behaviour was); the library, whenever asked.
    const availability = this.disabled === 'env' ? { available: false, note: HNSW_SWITCHED_OFF } : hnswAvailability();
    if (!availability.available) return { mode: 'exact', hnsw_available: false, ...base, note: availability.note };
    const available = { hnsw_available: true, ...base };
    if (this.disabled === 'option') {
      return { mode: 'exact', ...available, note: 'exact: HNSW is off for this index (an as-of view, or a one-shot CLI call); answers are exact' };
    }
    switch (this.phase) {
      case 'none':
        return { mode: 'exact', ...available, note: `exact: ${this.size} vectors, below the ${this.threshold} HNSW threshold` };
      case 'failed':
        return {
          mode: 'exact',
          ...available,
          note: `exact: the HNSW build failed (${this.failure?.reason}); answers are exact, and it is retried at ${this.failure?.retryAt} vectors`,
        };
      case 'scheduled':
        return { mode: 'building', ...available, note: `building: HNSW over ${this.size} vectors starts once writes pause; answers are exact meanwhile` };
      case 'loading':
        return { mode: 'building', ...available, note: 'building: loading the persisted HNSW index; answers are exact meanwhile' };
      case 'building':
        return {
          mode: 'building',
          ...available,
          note: `building: HNSW over ${this.progress.total} vectors in a worker thread (${this.progress.done} indexed so far); answers are exact meanwhile`,
        };
      case 'attached': {
        if (this.catchingUp()) {
          return {
            mode: 'building',
            ...available,
            note: `building: HNSW holds ${this.labelToId.size} of ${this.size} vectors and the rest are being added between requests; answers are exact meanwhile`,
          };
        }
        const pending = this.backlog.size > 0 ? `; ${this.backlog.size} recent vectors are searched exactly until added` : '';
        return { mode: 'hnsw', ...available, note: `hnsw: approximate search over ${this.size} vectors (M=${HNSW_M}, ef=${this.efSearch}), ${this.origin}${pending}` };
      }
    }
  }

  /**
   * Loads the persisted HNSW index or starts a build now, if the index has reached the threshold,
   * instead of waiting for writes to pause. For an owner that knows its fold is complete.
   */
  prepare(): Promise<void> {
    if (this.phase === 'scheduled') this.start();
    else this.maybeSchedule(true);
    return this.whenIdle();
  }

  /** Resolves when no build, load, catch-up or persist is running (tests and benchmarks use it). */
  whenIdle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops a running build, then persists the index if it changed (and persistDir is set). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearStartTimer();
    this.cancelDrain();
    if (this.stopBuild !== null) await this.stopBuild();
    await this.indexing?.catch(() => undefined);
    await this.persistQueue;
    if (this.persistDir !== undefined && this.hnsw !== null && this.indexVersion !== this.persistedVersion) {
      await this.persistNow().catch((error: unknown) => this.log(`vector index: ${describe(error)}`));
    }
    this.detach();
    this.phase = 'none';
    this.settleIdle();
  }
}
