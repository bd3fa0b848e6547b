// Reading the write-ahead logs back on open: which logs are still live (not yet rolled into a
// segment), and replaying their frames. A torn tail of the newest log (an append that never
// completed, so was never acknowledged) is cut off; damage anywhere else is corruption, which a
// person decides on (`allsource repair`), never something an open silently drops.

import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredEvent } from '../types.js';
import { walName } from './activeLog.js';
import { countRecords, decodeBatch, scanWal, WAL_MAGIC, WalCorruptionError } from './wal.js';

export interface ReplayOptions {
  walDir: string;
  /** The names in walDir. */
  names: readonly string[];
  /** Logs up to this sequence number are already in segments (the manifest's rolled_wal_seq). */
  rolledSeq: number;
  /** Read-only: nothing is deleted or truncated, only reported. */
  readOnly: boolean;
  log: (line: string) => void;
  apply: (event: StoredEvent) => void;
}

/** Replays the live logs in order; returns their sequence numbers and where the newest one's frames end. */
export function replayLogs(options: ReplayOptions): { live: number[]; activeEnd: number } {
  const { walDir, readOnly, log } = options;
  const seqs = options.names
    .filter((name) => /^\d{12}\.log$/.test(name))
    .map((name) => Number.parseInt(name, 10))
    .sort((a, b) => a - b);
  const live: number[] = [];
  for (const seq of seqs) {
    // Already rolled into a segment: the process stopped between the manifest and the delete.
    if (seq <= options.rolledSeq) {
      if (!readOnly) unlinkSync(join(walDir, walName(seq)));
    } else {
      live.push(seq);
    }
  }
  let activeEnd = WAL_MAGIC.length;
  for (let i = 0; i < live.length; i++) {
    const path = join(walDir, walName(live[i]));
    const scan = scanWal(readFileSync(path), path);
    const isLast = i === live.length - 1;
    if (scan.tail !== null || scan.validEnd < WAL_MAGIC.length) {
      const before = countRecords(scan.bodies);
      const reason = scan.tail?.reason ?? 'truncated file header';
      // Sealed logs were complete and fsync'd before a newer one was started: damage there is corruption.
      if (!isLast) throw new WalCorruptionError(path, scan.validEnd, `${reason}, in a sealed log that newer logs follow`, before);
      // A complete frame that fails its checksum may have been acknowledged: a person decides.
      if (scan.tail?.kind === 'corrupt') throw new WalCorruptionError(path, scan.tail.offset, scan.tail.reason, before);
      if (readOnly) {
        if (scan.tailBytes > 0) log(`skipped a torn write of ${scan.tailBytes} bytes at offset ${scan.validEnd} of ${path} (${reason}: an append that never completed, so never acknowledged); read-only, so the file is left as it is`);
      } else {
        truncateTail(path, scan.validEnd);
        if (scan.tailBytes > 0) log(`truncated a torn write of ${scan.tailBytes} bytes at offset ${scan.validEnd} of ${path} (${reason}: an append that never completed, so never acknowledged)`);
      }
    }
    if (isLast) activeEnd = Math.max(scan.validEnd, WAL_MAGIC.length);
    for (const body of scan.bodies) for (const event of decodeBatch(body)) options.apply(event);
  }
  return { live, activeEnd };
}

/** Cuts a log back to its last whole frame (or to a bare header), durably. */
function truncateTail(path: string, validEnd: number): void {
  const fd = openSync(path, 'r+');
  try {
    if (validEnd < WAL_MAGIC.length) {
      ftruncateSync(fd, 0);
      writeSync(fd, WAL_MAGIC, 0, WAL_MAGIC.length, 0);
    } else {
      ftruncateSync(fd, validEnd);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
