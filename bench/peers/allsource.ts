// The allsource peer: an EmbeddedCore opened on a benchmark directory with the default
// durability ('fsync', group-committed), adapted to the BenchPeer interface with no extra work.

import { openEmbeddedCore, type EmbeddedCore } from '../../src/index.js';
import type { BenchPeer } from './peer.js';

export async function openAllsourcePeer(dir: string): Promise<BenchPeer> {
  const store: EmbeddedCore = await openEmbeddedCore({ dataDir: dir, durability: 'fsync' });
  return {
    name: 'allsource',
    dir,
    append: (tenant, events) => store.append(tenant, events),
    async query(tenant, entityId, limit) {
      return (await store.query(tenant, { entity_id: entityId, limit })).events;
    },
    async state(tenant, entityId, asOf) {
      const result = await store.state(tenant, entityId, asOf === undefined ? undefined : { as_of: asOf });
      return { state: result.state, version: result.version, event_count: result.event_count };
    },
    settle: () => store.idle(),
    close: () => store.close(),
  };
}
