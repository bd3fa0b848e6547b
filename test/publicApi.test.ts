// The README's library example, run as written against the package's public entry point, so the
// documented API cannot drift from the real one.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createEmbedderFromEnv, createPrimeService, openEmbeddedCore } from '../src/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'allsource-api-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('runs the README example: Prime over an EmbeddedCore', async () => {
  const store = await openEmbeddedCore({ dataDir });
  const prime = createPrimeService({ store, embedder: createEmbedderFromEnv({}), dataDir });
  const ada = await prime.addNode('tenant-a', { type: 'person', properties: { name: 'Ada', text: 'writes the first program' } });
  const engine = await prime.addNode('tenant-a', { type: 'project', properties: { name: 'Analytical Engine' } });
  await prime.addEdge('tenant-a', { source: ada.id, target: engine.id, relation: 'works_on' });
  const { results } = await prime.recall('tenant-a', { text: 'who wrote a program?', top_k: 5 });
  expect(results[0].node.id).toBe(ada.id);
  expect(results[0].retrieval).toContain('lexical');
  expect(Object.keys(results[0].score_parts).sort()).toEqual(['graph', 'importance', 'lexical', 'recency', 'semantic']);
  await prime.close();
  await store.close();
});

it('runs the README example: HttpCore against a Core, with a tenant key made by the admin client', async () => {
  const { startTestCore, TEST_ADMIN_KEY } = await import('./helpers/coreServer.js');
  const { openHttpCore, CoreAdminClient } = await import('../src/index.js');
  const core = await startTestCore();
  try {
    const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
    await admin.createTenant('tenant-a');
    const { key } = await admin.createKey({ tenant: 'tenant-a' });
    await admin.close();
    const store = await openHttpCore({ url: core.server.url, key });
    await store.append('tenant-a', [{ entity_id: 'order-7', event_type: 'order.placed', payload: { total: 42 } }]);
    expect((await store.state('tenant-a', 'order-7')).state).toEqual({ total: 42 });
    await expect(store.stats('tenant-b')).rejects.toMatchObject({ code: 'not_found' });
    await store.close();
  } finally {
    await core.cleanup();
  }
});
