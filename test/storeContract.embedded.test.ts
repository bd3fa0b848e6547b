// Runs the EventStore contract against EmbeddedCore, once per durability mode.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedCore } from '../src/index.js';
import { eventStoreContract } from './contract/storeContract.js';

const MAX_PAYLOAD = 64 * 1024;

for (const durability of ['fsync', 'none'] as const) {
  eventStoreContract(
    `EmbeddedCore (durability ${durability})`,
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), `allsource-contract-${durability}-`));
      const store = await openEmbeddedCore({ dataDir, durability, maxPayloadBytes: MAX_PAYLOAD, log: () => {} });
      return {
        store,
        cleanup: async () => {
          await store.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
    { maxPayloadBytes: MAX_PAYLOAD },
  );
}
