// Loads segment files at open. Parquet decoding (parquet-wasm) runs in a short-lived worker
// thread that hands packed Arrow batches over as they are decoded, while this thread records
// their rows in the tenants' tables: the two overlap on two cores, and the wasm heap, which never
// shrinks, goes away with the worker instead of staying in the store's process for its lifetime.
// The packed batches themselves stay: they are where segment rows live until read (segmentRows.ts).

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { segmentWorkerUrl } from './segmentRoller.js';
import { readParquetPacked } from './segmentDecode.js';
import { createRowScanContext, scanPackedBatch, type RowVisitor } from './segmentRows.js';
import { SEGMENT_READER_MARKER, type ReaderMessage } from './segmentWorker.js';

/** Calls `visit` with every row of the segments, in file order, then resolves. */
export async function loadSegments(paths: readonly string[], visit: RowVisitor, options: { inWorker: boolean }): Promise<void> {
  if (paths.length === 0) return;
  const context = createRowScanContext();
  if (!options.inWorker) {
    for (const path of paths) {
      try {
        for (const batch of readParquetPacked(readFileSync(path))) scanPackedBatch(batch, context, visit);
      } catch (error) {
        throw unreadable(path, error);
      }
    }
    return;
  }
  const worker = new Worker(segmentWorkerUrl(), { workerData: { marker: SEGMENT_READER_MARKER, paths } });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('error', (error) => reject(new Error(`segment reader failed: ${error.message}`)));
      worker.on('exit', (code) => reject(new Error(`segment reader exited early with code ${code}`)));
      worker.on('message', (message: ReaderMessage) => {
        if (message.type === 'done') return resolve();
        if (message.type === 'error') return reject(new Error(`segment ${message.path} cannot be read: ${message.message}`));
        try {
          scanPackedBatch(message.batch, context, visit);
        } catch (error) {
          return reject(unreadable(message.path, error));
        }
        worker.postMessage('next');
      });
    });
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}

function unreadable(path: string, error: unknown): Error {
  return new Error(`segment ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
