// Rolling sealed write-ahead logs into a Parquet segment, and the worker-thread entry that does it
// off the main thread (see segmentRoller.ts). The same `rollSegment` runs in-process when the
// roller is configured without a worker, so both modes share one code path.

import { readFileSync } from 'node:fs';
import { workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { readParquetPacked, type PackedBatch } from './segmentDecode.js';
import { writeSegmentFile } from './segments.js';
import { readWalRecords, type RawRecord } from './wal.js';

/** What a roll produced. Positions are 0 when the logs held no events. */
export interface RollStats {
  rows: number;
  bytes: number;
  first_position: number;
  last_position: number;
}

/** A request from the roller to its worker. */
export interface RollRequest {
  walPaths: string[];
  segmentPath: string;
}

/** The worker's answer to one RollRequest. */
export type RollReply = { ok: true; stats: RollStats } | { ok: false; message: string };

/** Marker in `workerData` that tells this module it was started as the roller's worker. */
export const SEGMENT_WORKER_MARKER = 'allsource-segment-worker';

/** Marker of a reader worker (see segmentLoader.ts): `workerData` is `{ marker, paths }`. */
export const SEGMENT_READER_MARKER = 'allsource-segment-reader';

/** Messages from a reader worker. */
export type ReaderMessage = { type: 'batch'; path: string; batch: PackedBatch } | { type: 'done' } | { type: 'error'; path: string; message: string };

/** How many packed batches a reader may have in flight before it waits for the loader to take one. */
export const READER_AHEAD = 2;

/** Decodes the Parquet files in order and posts their batches, keeping at most READER_AHEAD unacknowledged. */
async function runReader(port: MessagePort, paths: readonly string[]): Promise<void> {
  let credits = READER_AHEAD;
  let wake: (() => void) | null = null;
  port.on('message', () => {
    credits++;
    wake?.();
  });
  for (const path of paths) {
    try {
      for (const batch of readParquetPacked(readFileSync(path))) {
        while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
        credits--;
        port.postMessage({ type: 'batch', path, batch } satisfies ReaderMessage, [batch.scan.pack, batch.rows.pack]);
      }
    } catch (error) {
      port.postMessage({ type: 'error', path, message: describe(error) } satisfies ReaderMessage);
      return;
    }
  }
  port.postMessage({ type: 'done' } satisfies ReaderMessage);
}

/**
 * Reads every event of the given sealed logs (in the given order) and writes them as one segment
 * at `segmentPath` (atomically). With no events nothing is written and `bytes` is 0. Errors name
 * the failing file.
 */
export async function rollSegment(walPaths: readonly string[], segmentPath: string): Promise<RollStats> {
  const events: RawRecord[] = walPaths.length === 1 ? readWalRecords(walPaths[0]) : walPaths.flatMap((walPath) => readWalRecords(walPath));
  if (events.length === 0) return { rows: 0, bytes: 0, first_position: 0, last_position: 0 };
  let first = events[0].position;
  let last = first;
  for (const event of events) {
    if (event.position < first) first = event.position;
    if (event.position > last) last = event.position;
  }
  let written: { bytes: number; rows: number };
  try {
    written = await writeSegmentFile(segmentPath, events);
  } catch (error) {
    throw new Error(`writing segment ${segmentPath}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { rows: written.rows, bytes: written.bytes, first_position: first, last_position: last };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Only when started by SegmentRoller: a store embedded in some other worker must not answer that
// worker's parent port just because this module was imported.
const port = parentPort;
if (port !== null && (workerData as { marker?: unknown } | null)?.marker === SEGMENT_READER_MARKER) {
  void runReader(port, (workerData as { paths: string[] }).paths);
}
if (port !== null && workerData === SEGMENT_WORKER_MARKER) {
  port.on('message', (request: RollRequest) => {
    rollSegment(request.walPaths, request.segmentPath).then(
      (stats) => port.postMessage({ ok: true, stats } satisfies RollReply),
      (error: unknown) => port.postMessage({ ok: false, message: describe(error) } satisfies RollReply),
    );
  });
}
