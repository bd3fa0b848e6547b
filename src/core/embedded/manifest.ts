// The manifest names the immutable segment files that make up the rolled part of the log, and the
// last log file they cover. It is replaced atomically: temp file, fsync, rename, fsync directory.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface SegmentEntry {
  /** File name under segments/. */
  file: string;
  rows: number;
  bytes: number;
  first_position: number;
  last_position: number;
}

export interface Manifest {
  format: 1;
  segments: SegmentEntry[];
  /** Log files with a sequence number at or below this are fully contained in segments. */
  rolled_wal_seq: number;
}

export const EMPTY_MANIFEST: Manifest = { format: 1, segments: [], rolled_wal_seq: 0 };

export function readManifest(dir: string): Manifest {
  let text: string;
  try {
    text = readFileSync(join(dir, 'MANIFEST.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...EMPTY_MANIFEST, segments: [] };
    throw err;
  }
  const manifest = JSON.parse(text) as Manifest;
  if (manifest.format !== 1 || !Array.isArray(manifest.segments)) {
    throw new Error(`${join(dir, 'MANIFEST.json')} is not an allsource manifest (format ${String(manifest.format)})`);
  }
  return manifest;
}

/** Durably replaces the manifest. */
export function writeManifest(dir: string, manifest: Manifest): void {
  const path = join(dir, 'MANIFEST.json');
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(manifest, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** fsyncs a directory so a rename or a new file in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
