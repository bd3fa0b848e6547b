// One writer per data directory: a LOCK file holding the owner's pid. A lock left by a process
// that no longer runs (e.g. after kill -9) is taken over; a live owner gets a clear error. Taking
// over a stale lock removes it under a short-lived second file (LOCK.takeover, created
// exclusively) and then races for a fresh exclusive create like everyone else, because several
// processes may find the same dead holder at once — the followers of a shared data directory all
// do the moment the holder dies — and only one may win.

import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../errors.js';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The pid holding `dir`'s lock if that process is alive, else null. */
export function lockHolder(dir: string): number | null {
  const pid = readHolder(join(dir, 'LOCK'));
  return pid !== null && processAlive(pid) ? pid : null;
}

function writePidFile(path: string, flags: 'wx' | 'w'): void {
  const fd = openSync(path, flags);
  try {
    writeSync(fd, `${process.pid}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (the lock is taken synchronously, during open). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** An empty LOCK, or a takeover file whose writer is gone, older than this was left by a crash. */
const STALE_MS = 2000;

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Holds a data directory until released. */
export class DirectoryLock {
  private constructor(private readonly path: string) {}

  /** Takes the lock on `dir`, or throws `unavailable` naming the pid that holds it. */
  static acquire(dir: string): DirectoryLock {
    const path = join(dir, 'LOCK');
    const inUse = (holder: number): UnavailableError =>
      new UnavailableError(`data directory ${dir} is in use by ${holder === process.pid ? 'this process (close the other store first)' : `process ${holder}`}; only one process may open it at a time`, {
        details: { pid: holder, data_dir: dir },
      });
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        writePidFile(path, 'wx');
        return new DirectoryLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== null && processAlive(holder)) throw inUse(holder);
      // An empty LOCK that is young is being written by the process that just created it.
      if (holder === null && ageMs(path) < STALE_MS) {
        sleepSync(5);
        continue;
      }
      // Stale: remove it, one process at a time, then race for it again with an exclusive create.
      const takeover = `${path}.takeover`;
      try {
        writePidFile(takeover, 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const other = readHolder(takeover);
        if ((other === null || !processAlive(other)) && ageMs(takeover) > STALE_MS) {
          try {
            unlinkSync(takeover);
          } catch {
            // someone else removed it
          }
        }
        sleepSync(5 + Math.random() * 10);
        continue;
      }
      try {
        // Under the takeover file nobody but a live holder's release changes LOCK: if it still
        // names the dead process, removing it is safe.
        if (readHolder(path) === holder) {
          try {
            unlinkSync(path);
          } catch {
            // released meanwhile
          }
        }
      } finally {
        try {
          unlinkSync(takeover);
        } catch {
          // already removed
        }
      }
    }
    throw new UnavailableError(`could not take the lock on data directory ${dir}; another process is opening it`);
  }

  release(): void {
    try {
      if (readHolder(this.path) === process.pid) unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
