// Runs one HNSW build in a fresh worker thread (hnswWorker.ts) and reports how it went: progress
// while it runs, its duration when done, and an error that says why when it is not. The vector
// index decides what to build and what to do with the result.

import { Worker } from 'node:worker_threads';
import { HNSW_WORKER_MARKER, type HnswBuildRequest, type HnswWorkerMessage } from './hnswWorker.js';

export interface HnswWorkerEvents {
  /** The worker exists (so its owner can terminate it on close). */
  started(worker: Worker): void;
  /** Vectors indexed so far. */
  progress(done: number): void;
  /** The worker is gone; returns why, if its owner ended it on purpose. */
  exited(worker: Worker): string | undefined;
}

/** Posts `request` (transferring its vectors) to a worker of `script`; resolves with the build's ms. */
export function runHnswWorker(script: URL, request: HnswBuildRequest, events: HnswWorkerEvents): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const worker = new Worker(script, { workerData: HNSW_WORKER_MARKER });
    events.started(worker);
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
      const why = events.exited(worker);
      settle(new Error(why ?? `HNSW worker exited unexpectedly (code ${code})`));
    });
    worker.postMessage(request, [request.vectors.buffer as ArrayBuffer]);
  });
}
