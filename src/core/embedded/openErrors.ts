// How an open of a data directory reports the file system refusing it: a typed `unavailable`
// error naming the directory, the path and why (and, for a directory that cannot be written, the
// read-only way in), instead of a bare errno surfacing as `internal`.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../errors.js';

/** The manifest's text, or null when there is none (a read-only open compares it before and after). */
export function manifestText(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, 'MANIFEST.json'), 'utf8');
  } catch {
    return null;
  }
}

/** A file system error of an open as a typed error that names the directory and why. */
export function readError(dataDir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const path = (err as NodeJS.ErrnoException).path ?? dataDir;
  if (code === 'EACCES' || code === 'EPERM') return new UnavailableError(`data directory ${dataDir} cannot be read: permission denied on ${path} (${code})`, { cause: err, details: { data_dir: dataDir, path } });
  return err;
}

/** A file system error of a writable open as a typed error that says a read-only open may still work. */
export function writeError(dataDir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const path = (err as NodeJS.ErrnoException).path ?? dataDir;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UnavailableError(
      `data directory ${dataDir} cannot be written (${code} on ${path}); a read-only open works without writing (\`allsource mcp --read-only\`, or the read commands query, state and stats)`,
      { cause: err, details: { data_dir: dataDir, path } },
    );
  }
  return err;
}
