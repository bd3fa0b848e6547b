// Runs the shared EventStore contract suite against HttpCore talking to a real `allsource core`
// server (EmbeddedCore behind the REST API) on 127.0.0.1:0, with the admin key (the suite picks
// its own random tenants). A second run lowers the payload limit, as the embedded run does.

import { openHttpCore } from '../src/core/http/index.js';
import { eventStoreContract, type ContractOptions } from './contract/eventStore.contract.js';
import { startTestCore, TEST_ADMIN_KEY } from './helpers/coreServer.js';

const modes: ContractOptions[] = [{}, { maxPayloadBytes: 4096 }];

for (const options of modes) {
  eventStoreContract(`HttpCore over a real Core server${options.maxPayloadBytes ? ` (payload limit ${options.maxPayloadBytes})` : ''}`, async () => {
    const core = await startTestCore({ store: options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {} });
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
  }, options);
}
