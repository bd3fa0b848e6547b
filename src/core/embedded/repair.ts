// `allsource repair`: cutting a damaged write-ahead log at a frame boundary, keeping every event
// before it. Recovery never cuts off a frame that may have been acknowledged (see WalTail), so
// when a log is damaged a person decides, with this: it plans the cut (what is kept, what is
// lost), and carries it out only while no process holds the directory, after copying the file to
// a backup next to it that is never overwritten.

import { closeSync, constants as fsConstants, copyFileSync, existsSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidError, NotFoundError, UnavailableError } from '../errors.js';
import { DirectoryLock, lockHolder } from './lock.js';
import { fsyncDir, readManifest } from './manifest.js';
import { countRecords, nextValidFrame, scanWal, validFrameAt, WAL_MAGIC } from './wal.js';

const LOG_NAME = /^\d{12}\.log$/;

export interface RepairOptions {
  /** Byte offset to cut the log at: a frame boundary at or before the damage. */
  truncateAt: number;
  /** The log file under `<dataDir>/wal` (default: the first damaged one). */
  file?: string;
  /** Report what would be kept and lost; change nothing. */
  dryRun?: boolean;
  /** The backup's timestamp (default: now); tests pin it. */
  now?: () => Date;
}

/** What a cut keeps and loses, and (once done) where the backup is. Field names as `--json` prints them. */
export interface RepairReport {
  data_dir: string;
  file: string;
  path: string;
  dry_run: boolean;
  /** Size of the file before the cut. */
  bytes: number;
  truncate_at: number;
  kept: { events: number; frames: number; bytes: number };
  lost: {
    bytes: number;
    /** Events in frames whose checksums hold, after the cut: they are discarded too. */
    events: number;
    frames: number;
  };
  /** The first bad frame of the file, if any (the cut must be at or before it). */
  damage: { offset: number; reason: string } | null;
  /** Later log files: their events stay, but tenants with events in the discarded part will fail verify_integrity after it. */
  newer_logs: string[];
  /** The copy of the file as it was, next to it (null on a dry run). */
  backup: string | null;
  /** Pid of a live process holding the directory (a dry run reports it; a repair refuses). */
  in_use_by: number | null;
}

/** The log files of a data directory, oldest first. */
function logFiles(walDir: string): string[] {
  try {
    return readdirSync(walDir).filter((name) => LOG_NAME.test(name)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Whether a log would refuse to open or lose bytes on open: any damage at all. */
function damaged(path: string): boolean {
  try {
    const scan = scanWal(readFileSync(path), path);
    return scan.tail !== null;
  } catch {
    return true;
  }
}

/** Picks the log to cut: the one named, else the first damaged one, else the only one. */
function chooseFile(dataDir: string, walDir: string, file: string | undefined): string {
  const logs = logFiles(walDir);
  if (file !== undefined) {
    if (!LOG_NAME.test(file)) throw new InvalidError('file', `must be the name of a log file in ${walDir}, like 000000000001.log (got ${JSON.stringify(file)})`);
    if (!logs.includes(file)) throw new NotFoundError(`file ${file} is not in ${walDir} (its logs: ${logs.join(', ') || 'none'})`, { field: 'file' });
    return file;
  }
  if (logs.length === 0) throw new NotFoundError(`${dataDir} holds no write-ahead log (no ${walDir}/*.log)`, { field: 'data' });
  const bad = logs.find((name) => damaged(join(walDir, name)));
  if (bad !== undefined) return bad;
  if (logs.length === 1) return logs[0];
  throw new InvalidError('file', `is required: no log in ${walDir} is damaged, so name the one to cut (${logs.join(', ')})`);
}

/** Plans the cut of one log: validates the offset against the file's frames and counts both sides. */
function plan(dataDir: string, options: RepairOptions): { report: RepairReport; image: Buffer } {
  if (!Number.isSafeInteger(options.truncateAt) || options.truncateAt < 0) throw new InvalidError('truncate_at', `must be a byte offset (a non-negative integer), got ${String(options.truncateAt)}`);
  if (!existsSync(dataDir)) throw new NotFoundError(`data directory ${dataDir} does not exist`, { field: 'data' });
  if (!statSync(dataDir).isDirectory()) throw new InvalidError('data', `${dataDir} is not a directory`);
  const walDir = join(dataDir, 'wal');
  const file = chooseFile(dataDir, walDir, options.file);
  const path = join(walDir, file);
  const seq = Number.parseInt(file, 10);
  if (seq <= readManifest(dataDir).rolled_wal_seq) {
    throw new InvalidError('file', `${file} is already rolled into a segment (the next open deletes it); there is nothing to repair in it`);
  }
  const image = readFileSync(path);
  if (image.length < WAL_MAGIC.length || !image.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) {
    throw new InvalidError('file', `${path} does not start as an allsource write-ahead log; no cut can save it: restore it from a backup`);
  }

  // Walk the frames whose checksums hold from the start: each end is a place a cut may go.
  const boundaries = [WAL_MAGIC.length];
  const bodies: Buffer[] = [];
  let at = WAL_MAGIC.length;
  for (let frame = validFrameAt(image, at); frame !== null; frame = validFrameAt(image, at)) {
    bodies.push(frame.body);
    at = frame.end;
    boundaries.push(at);
  }
  const clean = at === image.length || image.subarray(at).every((byte) => byte === 0);
  const damage = clean ? null : { offset: at, reason: damageReason(image, path) };
  const cut = options.truncateAt;
  const index = boundaries.indexOf(cut);
  if (index === -1) {
    const below = boundaries.filter((b) => b < cut).at(-1);
    const above = boundaries.find((b) => b > cut);
    const near = [below, above].filter((b) => b !== undefined);
    const nearest = near.length === 1 ? `the nearest boundary is ${near[0]}` : `the nearest boundaries are ${near.join(' and ')}`;
    const where = damage === null ? `its frames end at ${at}` : `the damage is at ${damage.offset}`;
    throw new InvalidError('truncate_at', `${cut} is not a frame boundary of ${file} at or before its damage (${where}; ${nearest}); a cut elsewhere would tear a frame`);
  }
  if (cut === image.length) throw new InvalidError('truncate_at', `${cut} is the end of ${file}; there is nothing after it to cut`);

  // Past the cut: the frames before the damage, then any readable frame after it.
  const lostBodies = bodies.slice(index);
  if (damage !== null) {
    for (let probe = nextValidFrame(image, damage.offset + 1); probe !== -1; ) {
      const frame = validFrameAt(image, probe)!;
      lostBodies.push(frame.body);
      probe = validFrameAt(image, frame.end) !== null ? frame.end : nextValidFrame(image, frame.end);
    }
  }
  const logs = logFiles(walDir);
  const report: RepairReport = {
    data_dir: dataDir,
    file,
    path,
    dry_run: options.dryRun === true,
    bytes: image.length,
    truncate_at: cut,
    kept: { events: countRecords(bodies.slice(0, index)), frames: index, bytes: cut },
    lost: { bytes: image.length - cut, events: countRecords(lostBodies), frames: lostBodies.length },
    damage,
    newer_logs: logs.filter((name) => name > file),
    backup: null,
    in_use_by: lockHolder(dataDir),
  };
  return { report, image };
}

function damageReason(image: Buffer, path: string): string {
  try {
    return scanWal(image, path).tail?.reason ?? 'bad frame';
  } catch (err) {
    // A corruption error carries its reason in its details; its message is advice for an open.
    return (err as { details?: { reason?: string } }).details?.reason ?? 'bad frame';
  }
}

/** `<file>.bak-<UTC timestamp>`, with a counter if that name is taken: a backup is never overwritten. */
function backupPath(path: string, now: Date): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? `${path}.bak-${stamp}` : `${path}.bak-${stamp}-${n}`;
    if (!existsSync(candidate)) return candidate;
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Plans the cut and, unless `dryRun`, carries it out: takes the directory lock (refusing while
 * another process holds it), copies the file to a fresh backup and fsyncs it, truncates the file
 * at the offset and fsyncs it, then checks the result scans clean.
 */
export function repairWal(dataDir: string, options: RepairOptions): RepairReport {
  const planned = plan(dataDir, options).report;
  if (options.dryRun === true) return planned;
  if (planned.in_use_by !== null) throw inUse(dataDir, planned.in_use_by);
  let lock: DirectoryLock;
  try {
    lock = DirectoryLock.acquire(dataDir);
  } catch (err) {
    const pid = (err as { details?: { pid?: unknown } }).details?.pid;
    throw typeof pid === 'number' ? inUse(dataDir, pid) : writeRefused(dataDir, err);
  }
  try {
    // Planned again under the lock: the file cannot change between this plan and the cut.
    const { report, image } = plan(dataDir, options);
    const backup = backupPath(report.path, (options.now ?? (() => new Date()))());
    try {
      copyFileSync(report.path, backup, fsConstants.COPYFILE_EXCL);
      fsyncFile(backup);
      fsyncDir(join(dataDir, 'wal'));
      const fd = openSync(report.path, 'r+');
      try {
        ftruncateSync(fd, report.truncate_at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw writeRefused(dataDir, err);
    }
    const after = scanWal(readFileSync(report.path), report.path);
    if (after.tail !== null || after.validEnd !== report.truncate_at || countRecords(after.bodies) !== report.kept.events) {
      throw new UnavailableError(`${report.path} does not scan clean after the cut (${image.length} → ${report.truncate_at} bytes); the original is in ${backup}`);
    }
    return { ...report, in_use_by: null, backup };
  } finally {
    lock.release();
  }
}

function inUse(dataDir: string, pid: number): UnavailableError {
  return new UnavailableError(`data directory ${dataDir} is in use by process ${pid}; stop every allsource process on it before repairing (a dry run, --dry-run, works meanwhile)`, {
    details: { pid, data_dir: dataDir },
  });
}

function writeRefused(dataDir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UnavailableError(`cannot repair ${dataDir}: it is not writable (${code} on ${(err as NodeJS.ErrnoException).path ?? dataDir})`, { cause: err });
  }
  return err;
}
