// Rolls sealed write-ahead logs into Parquet segments, in a worker thread by default so the
// main thread's appends keep flowing while Arrow and Parquet encode (which is CPU-bound WASM).

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { rollWalFiles, type RollResult } from './segmentJob.js';

export type { RollResult } from './segmentJob.js';

/** Where the compiled worker lives. Under vitest this module runs from .ts sources, which a worker cannot load. */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'segmentWorker.js');
  const compiled = resolve(dirname(here), '..', '..', '..', 'dist', 'src', 'core', 'embedded', 'segmentWorker.js');
  if (!existsSync(compiled)) throw new Error(`compiled segment worker not found at ${compiled}; run npm run build`);
  return compiled;
}

interface Job {
  id: number;
  resolve: (result: RollResult) => void;
  reject: (err: Error) => void;
}

/** Serializes rolls, one at a time, in a worker thread or in-process. */
export class SegmentRoller {
  private readonly inWorker: boolean;
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextJob = 1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: { inWorker: boolean }) {
    this.inWorker = options.inWorker;
  }

  /** Writes every event of `walPaths` (in order) into one segment at `segmentPath`. */
  roll(walPaths: string[], segmentPath: string): Promise<RollResult> {
    const run = (): Promise<RollResult> => (this.inWorker ? this.rollInWorker(walPaths, segmentPath) : rollWalFiles(walPaths, segmentPath));
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private rollInWorker(walPaths: string[], segmentPath: string): Promise<RollResult> {
    const worker = this.ensureWorker();
    return new Promise<RollResult>((resolve, reject) => {
      const id = this.nextJob++;
      this.jobs.set(id, { id, resolve, reject });
      worker.postMessage({ id, walPaths, segmentPath });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = new Worker(workerPath());
    worker.unref();
    worker.on('message', (message: { id: number; result?: RollResult; error?: string }) => {
      const job = this.jobs.get(message.id);
      if (job === undefined) return;
      this.jobs.delete(message.id);
      if (message.error !== undefined) job.reject(new Error(message.error));
      else job.resolve(message.result!);
    });
    const failAll = (err: Error): void => {
      for (const job of this.jobs.values()) job.reject(err);
      this.jobs.clear();
      this.worker = null;
    };
    worker.on('error', (err) => failAll(new Error(`segment worker failed: ${err.message}`)));
    worker.on('exit', (code) => failAll(new Error(`segment worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** Waits for the roll in progress, then stops the worker. */
  async close(): Promise<void> {
    await this.chain;
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  }
}
