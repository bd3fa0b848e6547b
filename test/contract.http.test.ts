// Runs the shared EventStore contract suite against HttpCore talking to a real Core: the
// `allsource core` binary as a child process on 127.0.0.1:0 (one for the file: each test picks
// its own random tenants, with the admin key), and, for a lowered payload limit (which the binary
// does not take as a flag), the same server code started in this process.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openHttpCore } from '../src/core/http/index.js';
import { eventStoreContract } from './contract/eventStore.contract.js';
import { startCoreProcess, startTestCore, TEST_ADMIN_KEY, type CoreProcess } from './helpers/coreServer.js';

let shared: Promise<{ core: CoreProcess; dataDir: string }> | undefined;
const sharedCore = (): Promise<{ core: CoreProcess; dataDir: string }> =>
  (shared ??= (async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-contract-core-'));
    const core = await startCoreProcess(dataDir, { PATH: process.env.PATH, HOME: dataDir, ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY });
    return { core, dataDir };
  })());

afterAll(async () => {
  if (shared === undefined) return;
  const { core, dataDir } = await shared;
  const exited = new Promise((resolve) => core.child.once('exit', resolve));
  core.child.kill('SIGTERM');
  await exited;
  await rm(dataDir, { recursive: true, force: true });
});

eventStoreContract('HttpCore over the allsource core binary', async () => {
  const { core } = await sharedCore();
  const store = await openHttpCore({ url: core.url, key: TEST_ADMIN_KEY });
  return { store, cleanup: () => store.close() };
});

const maxPayloadBytes = 4096;
eventStoreContract(`HttpCore over an in-process Core server (payload limit ${maxPayloadBytes})`, async () => {
  const core = await startTestCore({ store: { maxPayloadBytes } });
  const store = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY });
  return {
    store,
    cleanup: async () => {
      try {
        await store.close();
      } finally {
        await core.cleanup();
      }
    },
  };
}, { maxPayloadBytes });
