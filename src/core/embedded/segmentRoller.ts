// Rolls sealed write-ahead logs into Parquet segments, one roll at a time, in a worker thread by
// default so the main thread's appends keep flowing while Arrow and Parquet encode (CPU-bound
// WASM). A failing roll rejects its promise and never takes the process down.

import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { rollSegment, SEGMENT_WORKER_MARKER, type RollReply, type RollRequest, type RollStats } from './segmentWorker.js';

export type { RollStats } from './segmentWorker.js';

/** How long an idle worker is kept for the next roll before it is stopped to give back its memory. */
const DEFAULT_IDLE_MS = 30_000;

/**
 * The worker script. Under vitest this module runs from its .ts source, which a worker thread
 * cannot load, so the compiled build (`npm run build`, run by `npm test`) is used instead.
 */
export function segmentWorkerUrl(moduleUrl: string = import.meta.url): URL {
  if (moduleUrl.endsWith('.ts')) return new URL('../../../dist/src/core/embedded/segmentWorker.js', moduleUrl);
  return new URL('./segmentWorker.js', moduleUrl);
}

export interface SegmentRollerOptions {
  /** Roll in a worker thread (true) or in-process, blocking the event loop while encoding (false). */
  inWorker: boolean;
  /** Stop an idle worker after this many ms (default 30 s); its WASM heap never shrinks otherwise. */
  idleMs?: number;
}

interface PendingRoll {
  resolve: (stats: RollStats) => void;
  reject: (error: Error) => void;
}

/** Serializes rolls (one at a time) and runs each in a worker thread or in-process. */
export class SegmentRoller {
  private readonly inWorker: boolean;
  private readonly idleMs: number;
  private worker: Worker | null = null;
  /** The roll the worker is doing (at most one: rolls are serialized). */
  private pending: PendingRoll | null = null;
  /** Settles when every roll requested so far has settled. */
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: SegmentRollerOptions) {
    this.inWorker = options.inWorker;
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /**
   * Reads every event of the sealed logs `walPaths` (in that order) and writes them as one segment
   * at `segmentPath`, atomically. Resolves with its row count, size and position range; with no
   * events, nothing is written and `bytes` is 0. Rolls run one after another in call order.
   */
  roll(walPaths: string[], segmentPath: string): Promise<RollStats> {
    if (this.closed) return Promise.reject(new Error('segment roller is closed'));
    const run = (): Promise<RollStats> => (this.inWorker ? this.rollInWorker(walPaths, segmentPath) : rollSegment(walPaths, segmentPath));
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Lets the rolls already requested finish, then stops the worker. Later rolls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.stopWorker();
  }

  private rollInWorker(walPaths: string[], segmentPath: string): Promise<RollStats> {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // Keep the process alive while a roll is in flight; an idle worker must not.
    worker.ref();
    return new Promise<RollStats>((resolve, reject) => {
      this.pending = { resolve, reject };
      worker.postMessage({ walPaths, segmentPath } satisfies RollRequest);
    }).finally(() => {
      this.pending = null;
      if (this.worker === null) return;
      this.worker.unref();
      this.idleTimer = setTimeout(() => this.stopWorker(), this.idleMs);
      this.idleTimer.unref();
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const url = segmentWorkerUrl();
    if (!existsSync(fileURLToPath(url))) {
      throw new Error(`segment worker script ${fileURLToPath(url)} is missing (build the package with npm run build)`);
    }
    const worker = new Worker(url, { workerData: SEGMENT_WORKER_MARKER });
    worker.on('message', (reply: RollReply) => {
      const pending = this.pending;
      if (pending === null) return;
      if (reply.ok) {
        pending.resolve(reply.stats);
      } else {
        pending.reject(new Error(`segment roll failed: ${reply.message}`));
        // A failure may come from a WASM panic, after which that instance is not to be trusted.
        this.stopWorker();
      }
    });
    worker.on('error', (error) => this.workerGone(worker, `segment worker crashed: ${error.message}`));
    worker.on('exit', (code) => this.workerGone(worker, `segment worker exited unexpectedly (code ${code})`));
    this.worker = worker;
    return worker;
  }

  /** Forgets a worker that died; the roll it was doing fails and the next roll starts a new one. */
  private workerGone(worker: Worker, message: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.pending?.reject(new Error(message));
  }

  private stopWorker(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    void worker.terminate();
  }
}
