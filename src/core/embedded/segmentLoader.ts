// Loads segment files at open. Parquet decoding (parquet-wasm) runs in a short-lived worker
// thread that hands packed Arrow batches over as they are decoded, while this thread turns them
// into events: the two overlap on two cores, and the wasm heap, which never shrinks, goes away
// with the worker instead of staying in the store's process for its lifetime.

import { Worker } from 'node:worker_threads';
import type { StoredEvent } from '../types.js';
import { segmentWorkerUrl } from './segmentRoller.js';
import { createDecodeContext, decodePackedBatch, readSegmentFile } from './segmentDecode.js';
import { SEGMENT_READER_MARKER, type ReaderMessage } from './segmentWorker.js';

/** Calls `apply` with every event of the segments, in file order, then resolves. */
export async function loadSegments(paths: readonly string[], apply: (event: StoredEvent) => void, options: { inWorker: boolean }): Promise<void> {
  if (paths.length === 0) return;
  if (!options.inWorker) {
    for (const path of paths) for (const event of readSegmentFile(path)) apply(event);
    return;
  }
  const worker = new Worker(segmentWorkerUrl(), { workerData: { marker: SEGMENT_READER_MARKER, paths } });
  const context = createDecodeContext();
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('error', (error) => reject(new Error(`segment reader failed: ${error.message}`)));
      worker.on('exit', (code) => reject(new Error(`segment reader exited early with code ${code}`)));
      worker.on('message', (message: ReaderMessage) => {
        if (message.type === 'done') return resolve();
        if (message.type === 'error') return reject(new Error(`segment ${message.path} cannot be read: ${message.message}`));
        try {
          context.events = [];
          decodePackedBatch(message.batch, context);
          for (const event of context.events) apply(event);
        } catch (error) {
          return reject(new Error(`segment ${message.path} cannot be read: ${error instanceof Error ? error.message : String(error)}`));
        }
        worker.postMessage('next');
      });
    });
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}
