// A real Core server for tests: an EmbeddedCore in a temp directory behind `startCoreServer` on
// 127.0.0.1:0, with a known admin key, and a way to dispose of both.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedCore, type EmbeddedCoreOptions } from '../../src/index.js';
import { startCoreServer, type CoreServer, type CoreServerOptions } from '../../src/core/http/server.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestCore {
  server: CoreServer;
  dataDir: string;
  /** Closes the server (and its store) and removes the directory. */
  cleanup: () => Promise<void>;
}

export async function startTestCore(options: { store?: Partial<EmbeddedCoreOptions>; server?: Partial<CoreServerOptions>; dataDir?: string } = {}): Promise<TestCore> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'allsource-core-')));
  const server = await startCoreServer({
    openStore: () => openEmbeddedCore({ dataDir, durability: 'none', log: () => {}, ...options.store }),
    keySecret: randomBytes(32),
    adminKey: TEST_ADMIN_KEY,
    host: '127.0.0.1',
    port: 0,
    logger: false,
    ...options.server,
  });
  await server.ready;
  return {
    server,
    dataDir,
    cleanup: async () => {
      try {
        await server.close();
      } finally {
        if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}
