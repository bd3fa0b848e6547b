// The server secret under which a Core stores key digests: `ALLSOURCE_KEY_SECRET` (hex or
// base64, at least 32 bytes) when set, else 32 random bytes kept in `<data>/key-secret` (mode
// 0600), made on first start. Losing or changing it invalidates every tenant key, not the data.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidError } from '../errors.js';

export async function loadKeySecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const fromEnv = env.ALLSOURCE_KEY_SECRET;
  if (fromEnv !== undefined && fromEnv !== '') {
    const bytes = /^[0-9a-fA-F]+$/.test(fromEnv) && fromEnv.length % 2 === 0 ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    if (bytes.length < 32) throw new InvalidError('ALLSOURCE_KEY_SECRET', 'must hold at least 32 bytes (64 hex characters; e.g. `openssl rand -hex 32`)');
    return bytes;
  }
  const file = join(dataDir, 'key-secret');
  try {
    const bytes = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    if (bytes.length < 32) throw new InvalidError('key-secret', `${file} holds fewer than 32 bytes; restore it from a backup (or delete it, which invalidates every key)`);
    return bytes;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const bytes = randomBytes(32);
  // 'wx': two Cores starting on one directory must not both write one; the loser reads the winner's.
  try {
    await writeFile(file, `${bytes.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadKeySecret(dataDir, env);
    throw err;
  }
  await chmod(file, 0o600);
  return bytes;
}
