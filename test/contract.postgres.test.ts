// Runs the shared EventStore contract suite, unchanged, against PostgresCore on a throwaway
// PostgreSQL cluster (one per file, see helpers/postgres.ts), connected as the runtime role; once
// with the default payload limit and once with a lowered one. Each test opens its own store (its
// own pool); tenants are random, so the tests share the database.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { openPostgresCore } from '../src/core/postgres/index.js';
import { eventStoreContract } from './contract/eventStore.contract.js';
import { postgresTestsEnabled, startPgCluster, type PgCluster } from './helpers/postgres.js';

if (postgresTestsEnabled('test/contract.postgres.test.ts')) {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  eventStoreContract('PostgresCore', async () => {
    const store = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {} });
    return { store, cleanup: () => store.close() };
  });

  const maxPayloadBytes = 4096;
  eventStoreContract(`PostgresCore (payload limit ${maxPayloadBytes})`, async () => {
    const store = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {}, maxPayloadBytes });
    return { store, cleanup: () => store.close() };
  }, { maxPayloadBytes });
} else {
  describe.skip('PostgresCore contract (no PostgreSQL here)', () => it('needs PostgreSQL', () => {}));
}
