// Runs one HNSW build in a fresh worker thread (hnswWorker.ts) and reports how it went: progress
// while it runs, its duration when done, and an error that says why when it is not. The vector
// index decides what to build and what to do with the result. A build is stopped by asking the
// worker (a shared flag it checks between vectors), never by terminating it mid-build.

import { Worker } from 'node:worker_threads';
import { HNSW_WORKER_MARKER, type HnswBuildRequest, type HnswWorkerMessage } from './hnswWorker.js';

/** How long a stop waits for the worker to notice the flag before terminating it anyway. */
const STOP_GRACE_MS = 5000;

/** Stops a running build: resolves once its worker thread has exited. */
export type StopBuild = () => Promise<void>;

export interface HnswWorkerEvents {
  /** The worker exists (its owner keeps `stop` to end the build on close). */
  started(stop: StopBuild): void;
  /** Vectors indexed so far. */
  progress(done: number): void;
  /** The worker is gone; returns why, if its owner ended it on purpose. */
  exited(): string | undefined;
}

/** Posts `request` (transferring its vectors) to a worker of `script`; resolves with the build's ms. */
export function runHnswWorker(script: URL, request: Omit<HnswBuildRequest, 'cancel'>, events: HnswWorkerEvents): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const worker = new Worker(script, { workerData: HNSW_WORKER_MARKER });
    const cancel = new SharedArrayBuffer(4);
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    events.started(async () => {
      Atomics.store(new Int32Array(cancel), 0, 1);
      // The worker answers with an error message within one addPoint and is then ended below; only
      // one that does not (stuck, or never started listening) is terminated after the grace time.
      const grace = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
      await exited;
      clearTimeout(grace);
    });
    let settled = false;
    const settle = (error: Error | null, ms = 0): void => {
      if (settled) return;
      settled = true;
      if (error === null) resolve(ms);
      else reject(error);
    };
    worker.on('message', (message: HnswWorkerMessage) => {
      if (message.type === 'progress') events.progress(message.done);
      else if (message.type === 'done') settle(null, message.ms);
      else settle(new Error(message.message));
      if (message.type !== 'progress') void worker.terminate();
    });
    worker.on('error', (error) => settle(new Error(`HNSW worker crashed: ${error.message}`)));
    worker.on('exit', (code) => {
      const why = events.exited();
      settle(new Error(why ?? `HNSW worker exited unexpectedly (code ${code})`));
    });
    worker.postMessage({ ...request, cancel } satisfies HnswBuildRequest, [request.vectors.buffer as ArrayBuffer]);
  });
}
