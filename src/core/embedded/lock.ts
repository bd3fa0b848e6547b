// One writer per data directory: a LOCK file holding the owner's pid. A lock left by a process
// that no longer runs (e.g. after kill -9) is taken over; a live owner gets a clear error.

import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../errors.js';

function processAlive(pid: number): boolean {
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

/** Holds a data directory until released. */
export class DirectoryLock {
  private constructor(private readonly path: string) {}

  /** Takes the lock on `dir`, or throws `unavailable` naming the pid that holds it. */
  static acquire(dir: string): DirectoryLock {
    const path = join(dir, 'LOCK');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
        closeSync(fd);
        return new DirectoryLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== null && processAlive(holder)) {
        const who = holder === process.pid ? 'this process (close the other store first)' : `process ${holder}`;
        throw new UnavailableError(`data directory ${dir} is in use by ${who}; only one process may open it at a time`, {
          details: { pid: holder, data_dir: dir },
        });
      }
      // Stale: the holder is gone. Replace the file atomically, then re-check who won.
      const tmp = `${path}.${process.pid}.tmp`;
      const fd = openSync(tmp, 'w');
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path);
      if (readHolder(path) === process.pid) return new DirectoryLock(path);
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
