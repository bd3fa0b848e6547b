// The MCP tools and Prime on PostgresCore: the same server factory the other tool tests use
// (createAllsourceServer over the SDK's in-memory transport), with a PrimeService folding from a
// PostgresCore. Event tools, Prime's graph and recall, and a second, cold Prime rebuilt from the
// database alone (the Core is stateless: nothing lives in the process).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPrimeService, openPostgresCore, type EventStore, type PostgresCore } from '../src/index.js';
import type { PrimeService } from '../src/prime/types.js';
import { ALL_TOOLS } from '../tools/index.js';
import { connectClient, textOf } from './helpers/toolHarness.js';
import { postgresTestsEnabled, startPgCluster, type PgCluster } from './helpers/postgres.js';

const enabled = postgresTestsEnabled('test/postgresTools.test.ts');
const OUTPUT_SCHEMAS = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));

interface Harness {
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  fail(name: string, args?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

async function connect(store: EventStore, prime: PrimeService, tenant: string): Promise<Harness> {
  const { call, close } = await connectClient({ store, prime, tenant, mode: 'local' });
  return {
    async ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = await call(name, args);
      expect(result.isError, `${name} failed: ${textOf(result)}`).toBeFalsy();
      return OUTPUT_SCHEMAS.get(name)!.parse(result.structuredContent) as T;
    },
    async fail(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const result = await call(name, args);
      expect(result.isError, `${name} should have failed`).toBe(true);
      return textOf(result);
    },
    close,
  };
}

interface Node {
  id: string;
  created_at: string;
}

describe.skipIf(!enabled)('MCP tools and Prime on PostgresCore', () => {
  let cluster: PgCluster;
  let store: PostgresCore;
  beforeAll(async () => {
    cluster = await startPgCluster();
    store = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {} });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it('serves the event tools', async () => {
    const prime = createPrimeService({ store, log: () => {} });
    const h = await connect(store, prime, 'acme-events');
    try {
      await h.ok('ingest_event', { entity_id: 'doc', event_type: 'doc.created', payload: { title: 'Plan', tags: ['a'] }, expected_version: 0 });
      await h.ok('ingest_event', { entity_id: 'doc', event_type: 'doc.edited', payload: { title: 'Plan B', tags: null }, expected_version: 1 });
      expect(await h.ok('reconstruct_state', { entity_id: 'doc' })).toMatchObject({ state: { title: 'Plan B' }, version: 2 });
      expect(await h.fail('ingest_event', { entity_id: 'doc', event_type: 'doc.edited', payload: {}, expected_version: 0 })).toMatch(/^conflict: /);
      const found = await h.ok<{ hits: Array<{ event: { entity_id: string } }> }>('search_events', { query: 'plan' });
      expect(found.hits.map((x) => x.event.entity_id)).toEqual(['doc', 'doc']);
      expect(await h.ok('verify_integrity')).toMatchObject({ ok: true, checked: 2 });
      expect(await h.ok('get_stats')).toMatchObject({ events: 2, entities: 1 });
    } finally {
      await h.close();
      await prime.close();
    }
  });

  it('Prime builds the graph and recalls on it; a cold Prime rebuilds the same from the database', async () => {
    const prime = createPrimeService({ store, log: () => {} });
    const h = await connect(store, prime, 'acme-prime');
    try {
      const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada', text: 'writes programs for the analytical engine' } });
      const charles = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Charles' } });
      await h.ok('prime_add_edge', { source: ada.id, target: charles.id, relation: 'collaborates_with' });
      const recall = await h.ok<{ results: Array<{ node: { id: string }; retrieval: string[] }> }>('prime_recall', { text: 'analytical engine programs', depth: 1 });
      expect(recall.results[0].node.id).toBe(ada.id);
      expect(recall.results.find((r) => r.node.id === charles.id)?.retrieval).toContain('graph');
      expect(await h.ok('prime_stats')).toMatchObject({ nodes: 2, edges: 1 });
    } finally {
      await h.close();
      await prime.close();
    }
    // Another node's Prime (a fresh process, as far as it knows) folds the same graph from PostgreSQL.
    const other = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {} });
    const cold = createPrimeService({ store: other, log: () => {} });
    const h2 = await connect(other, cold, 'acme-prime');
    try {
      expect(await h2.ok('prime_stats')).toMatchObject({ nodes: 2, edges: 1 });
      const again = await h2.ok<{ results: Array<{ node: { properties: { name?: string } } }> }>('prime_recall', { text: 'analytical engine programs' });
      expect(again.results[0].node.properties.name).toBe('Ada');
    } finally {
      await h2.close();
      await cold.close();
      await other.close();
    }
  });
});
