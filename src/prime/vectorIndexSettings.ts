// The vector index's options and counters, and the settings of its HNSW layer: graph degree and
// beams, when a build starts, how backlog vectors are added, when a rebuild is cheaper.

import type { VectorStoreState } from './vectorStore.js';

export interface VectorIndexOptions {
  dims: number;
  /** Vectors at which HNSW is built (default 5000). Below it, search is exact. */
  hnswThreshold?: number;
  /** false: never build HNSW (used for as-of views folded from a log prefix). */
  hnsw?: boolean;
  /** Directory where the built HNSW index is persisted as derived, rebuildable data (local mode). */
  persistDir?: string;
  /** Diagnostics, one line each (stderr by default; never stdout, which may carry MCP stdio). */
  log?: (line: string) => void;
  /**
   * The build worker script. Default: hnswWorker.js next to this module, or the compiled one under
   * dist/ when this module runs from its .ts source (a worker thread cannot load TypeScript).
   * When the script does not exist, the index is built on the main thread in short slices instead.
   */
  workerScript?: URL;
  /** HNSW search breadth (hnswlib's ef, default 128): higher finds more of the true neighbours, slower. */
  efSearch?: number;
  /** Keep the int8 copy that speeds exact scans of large spaces (default: unless `hnsw` is false). */
  int8?: boolean;
  /** Vectors to start from (a projection snapshot's) instead of an empty space; adopted, not copied. */
  restore?: VectorStoreState;
}

/** What this index has done with HNSW since it was constructed (tests and benchmarks read it). */
export interface VectorIndexCounters {
  /** Indexes built from scratch (in the worker or, without a worker script, on the main thread). */
  builds: number;
  /** Of those, built in a worker thread. */
  workerBuilds: number;
  /** Persisted indexes loaded instead of building. */
  loads: number;
  /** Persisted indexes ignored because they were corrupt or did not match. */
  rejectedFiles: number;
  /** Duration of the last worker build in ms (null before one finished). */
  lastBuildMs: number | null;
}

/** HNSW graph degree: 16 is hnswlib's recommended default for embeddings of a few hundred dims. */
export const HNSW_M = 16;
/** Build-time beam: 200 buys recall at build cost, and the build runs off the request path. */
export const HNSW_EF_CONSTRUCTION = 200;
/**
 * Search beam (at least k). Measured at 384 d: clustered data (like real embeddings) has recall@10
 * 1.0 at 20k vectors, ~0.6 ms a query; uniformly random data, the structureless worst case, 0.97 at
 * 2k but only ~0.4–0.6 at 20k (it would take ef ≈ 512 for ~0.85).
 */
export const HNSW_EF_SEARCH = 128;
export const HNSW_SEED = 100;
export const DEFAULT_THRESHOLD = 5000;

/** A build starts once writes pause this long, so a fold's burst of upserts is all in the snapshot. */
export const QUIET_MS = 50;
/** …but no later than this after the threshold was reached, even under a steady stream of writes. */
export const MAX_DEFER_MS = 2000;
/** Main-thread time per slice when adding vectors to a live index (the event loop runs in between). */
export const DRAIN_SLICE_MS = 8;
/**
 * New vectors wait in the backlog (searched exactly) until writes pause this long: one HNSW insert
 * costs about a millisecond at 10k vectors, which a burst of single writes should not pay each.
 */
export const DRAIN_QUIET_MS = 20;
/** …or until this many wait, when they are added even while writes go on (the exact scan of the backlog stays well under a millisecond). */
export const DRAIN_AT_BACKLOG = 1000;
/** A loaded index that took this many vectors since it was written is written again once caught up. */
export const PERSIST_AFTER_ADDS = 5000;
/** Rebuild in the worker rather than add this many (or more than the index holds) on the main thread. */
export const REBUILD_MIN = 2000;

/** Where HNSW stands. `attached`: an index exists (possibly still catching up on a backlog). */
export type Phase = 'none' | 'scheduled' | 'loading' | 'building' | 'attached' | 'failed';

/** Labelled vectors already in an index that is about to be attached (labels default to 0..n-1). */
export interface IndexedEntries {
  labels?: readonly number[];
  ids: readonly string[];
  /** Two words per entry, as `digestInto` computes them. */
  digests: ArrayLike<number>;
}
