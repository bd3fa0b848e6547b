// Builds an HNSW index in a worker thread and writes it to a file, so the 40–160 s build of a large
// tenant never runs on the request path (see vectorIndex.ts, which reads the file back). This file
// imports only Node built-ins, and hnswlib-node by the absolute path the main thread resolved, so
// it also runs when transpiled on its own (the tests do that to exercise it from the sources).

import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The subset of hnswlib-node's HierarchicalNSW that allsource uses, declared here rather than
 * imported because hnswlib-node is an optional dependency: the types must compile without it.
 */
export interface HnswIndex {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number, allowReplaceDeleted?: boolean): void;
  readIndex(filename: string, allowReplaceDeleted?: boolean): Promise<boolean>;
  writeIndex(filename: string): Promise<boolean>;
  resizeIndex(newMaxElements: number): void;
  addPoint(point: number[], label: number, replaceDeleted?: boolean): void;
  markDelete(label: number): void;
  searchKnn(query: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] };
  getMaxElements(): number;
  getCurrentCount(): number;
  getNumDimensions(): number;
  setEf(ef: number): void;
}

/** hnswlib-node's module object (CommonJS: `module.exports` holds the classes). */
export interface Hnswlib {
  HierarchicalNSW: new (space: 'ip' | 'l2' | 'cosine', dims: number) => HnswIndex;
}

/** Marker in `workerData` that tells this module it was started as the HNSW build worker. */
export const HNSW_WORKER_MARKER = 'allsource-hnsw-worker';

/** What the main thread asks for: index `count` vectors (labels 0..count-1) and write the file. */
export interface HnswBuildRequest {
  /** Absolute path of hnswlib-node as the main thread resolved it (the same copy loads here). */
  hnswlibPath: string;
  dims: number;
  m: number;
  efConstruction: number;
  seed: number;
  /** Initial capacity (≥ count) so vectors added after the build do not resize at once. */
  capacity: number;
  count: number;
  /** `count × dims` floats, row i being the vector labelled i. Transferred, not copied. */
  vectors: Float32Array;
  outPath: string;
  /**
   * One Int32 the main thread sets to 1 to stop the build. The worker checks it between vectors
   * and stops by itself: terminating a thread inside hnswlib-node's addPoint can abort the whole
   * process (the addon's error throw fails on a terminating thread, which is fatal).
   */
  cancel: SharedArrayBuffer;
}

/** Thrown (and reported) when the main thread asked the build to stop. */
export const BUILD_CANCELLED = 'the HNSW build was cancelled';

export type HnswWorkerMessage =
  | { type: 'progress'; done: number }
  | { type: 'done'; ms: number }
  | { type: 'error'; message: string };

/** How often (in vectors) the worker reports progress for the status note. */
const PROGRESS_EVERY = 1000;

/**
 * Builds the index of `request` and writes it to `request.outPath`; returns the build time in ms.
 * `onProgress` is called every PROGRESS_EVERY vectors.
 */
export async function buildHnswFile(lib: Hnswlib, request: HnswBuildRequest, onProgress: (done: number) => void = () => {}): Promise<number> {
  const started = performance.now();
  const { dims, count, vectors } = request;
  const index = new lib.HierarchicalNSW('ip', dims);
  index.initIndex(request.capacity, request.m, request.efConstruction, request.seed, true);
  // hnswlib-node only takes plain arrays; one reused row avoids an allocation per vector.
  const row: number[] = new Array<number>(dims).fill(0);
  const cancel = new Int32Array(request.cancel);
  for (let label = 0; label < count; label++) {
    if (Atomics.load(cancel, 0) !== 0) throw new Error(BUILD_CANCELLED);
    const base = label * dims;
    for (let j = 0; j < dims; j++) row[j] = vectors[base + j];
    index.addPoint(row, label);
    if ((label + 1) % PROGRESS_EVERY === 0) onProgress(label + 1);
  }
  if (Atomics.load(cancel, 0) !== 0) throw new Error(BUILD_CANCELLED);
  await index.writeIndex(request.outPath);
  return performance.now() - started;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Only when started by VectorIndex: importing this module anywhere else must not answer a port.
// One request per worker; with its listener gone the port no longer holds the thread, which exits.
const port = parentPort;
if (port !== null && workerData === HNSW_WORKER_MARKER) {
  port.once('message', (request: HnswBuildRequest) => {
    let lib: Hnswlib;
    try {
      lib = createRequire(import.meta.url)(request.hnswlibPath) as Hnswlib;
    } catch (error) {
      port.postMessage({ type: 'error', message: `loading hnswlib-node: ${describe(error)}` } satisfies HnswWorkerMessage);
      return;
    }
    buildHnswFile(lib, request, (done) => port.postMessage({ type: 'progress', done } satisfies HnswWorkerMessage)).then(
      (ms) => port.postMessage({ type: 'done', ms } satisfies HnswWorkerMessage),
      (error: unknown) => port.postMessage({ type: 'error', message: describe(error) } satisfies HnswWorkerMessage),
    );
  });
}
