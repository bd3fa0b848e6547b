// One roll: read sealed write-ahead logs and write their events as one Parquet segment. Runs in
// the segment worker thread, or in-process when the store is opened with rollInWorker: false.

import { writeSegmentFile } from './segments.js';
import { readWalEvents } from './wal.js';
import type { StoredEvent } from '../types.js';

export interface RollResult {
  rows: number;
  bytes: number;
  first_position: number;
  last_position: number;
}

export async function rollWalFiles(walPaths: string[], segmentPath: string): Promise<RollResult> {
  const events: StoredEvent[] = [];
  for (const path of walPaths) for (const event of readWalEvents(path)) events.push(event);
  if (events.length === 0) return { rows: 0, bytes: 0, first_position: 0, last_position: 0 };
  const { bytes, rows } = await writeSegmentFile(segmentPath, events);
  return { rows, bytes, first_position: events[0].position, last_position: events[events.length - 1].position };
}
