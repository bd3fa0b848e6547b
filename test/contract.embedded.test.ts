// Runs the shared EventStore contract suite against EmbeddedCore, once per durability mode: with
// fsync and the default 1 MiB payload limit, and without fsync and a lowered limit (so both the
// default and a configured `maxPayloadBytes` are checked). Each test gets a fresh data directory.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedCore, type Durability } from '../src/index.js';
import { eventStoreContract, type ContractOptions } from './contract/eventStore.contract.js';

const modes: Array<{ durability: Durability; options: ContractOptions }> = [
  { durability: 'fsync', options: {} },
  { durability: 'none', options: { maxPayloadBytes: 4096 } },
];

for (const { durability, options } of modes) {
  eventStoreContract(`EmbeddedCore (durability: ${durability})`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-contract-'));
    try {
      const store = await openEmbeddedCore({ dataDir, durability, log: () => {}, ...options });
      return {
        store,
        cleanup: async () => {
          try {
            await store.close();
          } finally {
            await rm(dataDir, { recursive: true, force: true });
          }
        },
      };
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }, options);
}
