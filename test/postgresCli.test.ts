// The PostgreSQL command lines through the built binary: `migrate --postgres` (schema, idempotent;
// bad input named; a version-1 schema upgraded in place), `migrate --from DIR --to postgres://…`
// and back with the integrity hashes compared (the copy in each direction is event-for-event the
// original: ids, positions, times, hashes, tombstones), and two `core --postgres` processes over
// one database serving one log.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pgDriver from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore, openHttpCore, openPostgresCore, type EventStore, type NewEvent, type StoredEvent } from '../src/index.js';
import { startAllsource, TEST_ADMIN_KEY } from './helpers/coreServer.js';
import { postgresTestsEnabled, startPgCluster, type PgCluster } from './helpers/postgres.js';
import { childEnvIn, runCli } from './helpers/runCli.js';

const enabled = postgresTestsEnabled('test/postgresCli.test.ts');
const root = mkdtempSync(join(tmpdir(), 'allsource-pg-cli-'));

/** Every event of `tenant`, control events and tombstoned ones included, in position order. */
async function everything(store: EventStore, tenant: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (const filter of [{ include_deleted: true }, { entity_id: '$control' }]) {
    for (let cursor: string | undefined, more = true; more; ) {
      const page = await store.query(tenant, { ...filter, limit: 1000, ...(cursor ? { cursor } : {}) });
      all.push(...page.events);
      more = page.has_more;
      cursor = page.next_cursor ?? undefined;
    }
  }
  return all.sort((a, b) => a.position - b.position);
}

describe.skipIf(!enabled)('allsource migrate and core --postgres', () => {
  let cluster: PgCluster;
  const env = childEnvIn(root);
  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('migrate --postgres creates the schema once, then reports it up to date; bad input is named', async () => {
    const again = await runCli(['migrate', '--postgres', cluster.ownerUrl, '--runtime-role', cluster.runtimeRole], env);
    expect(again.stderr).toBe('');
    expect(again.stdout).toMatch(/^schema version 2 up to date; granted the runtime role allsource_app_/);
    const missingRole = await runCli(['migrate', '--postgres', cluster.ownerUrl, '--runtime-role', 'nobody_here'], env);
    expect(missingRole.code).toBe(1);
    expect(missingRole.stderr).toMatch(/invalid: runtime-role: role "nobody_here" does not exist/);
    const both = await runCli(['migrate', '--from', join(root, 'a'), '--to', join(root, 'b')], env);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/invalid: to: one side must be a data directory and the other a postgres:\/\/ URL/);
  });

  it('copies a directory to PostgreSQL and back, event for event, with matching integrity hashes', async () => {
    const source = join(root, 'source');
    const store = await openEmbeddedCore({ dataDir: source, durability: 'none', log: () => {} });
    const batches: NewEvent[][] = [
      [{ entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada', nested: { list: [1, 'two', null] } } }, { entity_id: 'user-2', event_type: 'user.created', payload: { name: 'Bob' }, metadata: { via: 'cli' } }],
      [{ entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'Ada L.' }, id: 'client-1', occurred_at: '2020-01-01T00:00:00Z' }],
    ];
    for (const batch of batches) {
      await store.append('tenant-a', batch);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await store.append('tenant-b', Array.from({ length: 40 }, (_, i) => ({ entity_id: `n-${i % 6}`, event_type: 'note.added', payload: { text: `note ${i}` } })));
    await store.tombstone('tenant-b', { entity_id: 'n-2', reason: 'gdpr' });
    await store.restore('tenant-b', { ids: [(await store.query('tenant-b', { entity_id: 'n-2', include_deleted: true, limit: 1 })).events[0].id], reason: 'oops' });
    const original = { a: await everything(store, 'tenant-a'), b: await everything(store, 'tenant-b'), stateB: await store.state('tenant-b', 'n-2'), statsB: await store.stats('tenant-b'), entitiesB: await store.entities('tenant-b') };
    await store.close();

    const there = await runCli(['migrate', '--from', source, '--to', cluster.ownerUrl], env);
    expect(there.stderr, 'no progress bar off a terminal').toBe('');
    expect(there.stdout).toMatch(/^migrated 45 events of 2 tenants from .* to postgres:\/\/allsource_owner_\w+:\*\*\*@.*; integrity hashes match on both sides\n$/);
    const pg = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {} });
    try {
      expect(await everything(pg, 'tenant-a')).toEqual(original.a);
      expect(await everything(pg, 'tenant-b')).toEqual(original.b);
      expect(await pg.state('tenant-b', 'n-2')).toEqual(original.stateB);
      expect(await pg.stats('tenant-b')).toEqual(original.statsB);
      expect(await pg.entities('tenant-b')).toEqual(original.entitiesB);
      expect(original.statsB).toMatchObject({ events: 34, tombstoned_events: 6 });
      // The migrated log continues: new appends chain on and get later positions.
      const [next] = (await pg.append('tenant-a', [{ entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'A' }, expected_version: 2 }])).events;
      expect(next.position).toBeGreaterThan(original.b[original.b.length - 1].position);
      expect(await pg.verify('tenant-a')).toMatchObject({ ok: true, checked: 4 });
    } finally {
      await pg.close();
    }
    const refused = await runCli(['migrate', '--from', source, '--to', cluster.ownerUrl], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/invalid: to: the database holds events already/);

    const back = join(root, 'back');
    const home = await runCli(['migrate', '--from', cluster.ownerUrl, '--to', back, '--json'], env);
    expect(home.stderr).toBe('');
    const report = JSON.parse(home.stdout) as { events: number; tenants: number; verified: Array<{ tenant: string }> };
    expect(report).toMatchObject({ events: 46, tenants: 2 });
    const copy = await openEmbeddedCore({ dataDir: back, durability: 'none', log: () => {} });
    try {
      expect((await everything(copy, 'tenant-a')).slice(0, 3)).toEqual(original.a);
      expect(await everything(copy, 'tenant-b')).toEqual(original.b);
      expect(await copy.state('tenant-b', 'n-2')).toEqual(original.stateB);
      expect(await copy.stats('tenant-b')).toEqual(original.statsB);
      expect(await copy.verify('tenant-a')).toMatchObject({ ok: true, checked: 4 });
    } finally {
      await copy.close();
    }
  });

  it('two core --postgres processes over one database are interchangeable nodes', async () => {
    const nodeEnv = { ...env, ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY, ALLSOURCE_KEY_SECRET: 'ab'.repeat(32) };
    const start = () =>
      startAllsource(['core', '--postgres', cluster.runtimeUrl, '--port', '0', '--data', join(root, 'node-data')], nodeEnv, (stderr) =>
        /"msg":"core ready"/.test(stderr) ? /listening on (http:\/\/[^\s]+)/.exec(stderr)?.[1] : undefined,
      );
    const [one, two] = await Promise.all([start(), start()]);
    try {
      expect(one.stderr()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(PostgreSQL\)/);
      const a = await openHttpCore({ url: one.url, key: TEST_ADMIN_KEY });
      const b = await openHttpCore({ url: two.url, key: TEST_ADMIN_KEY });
      const waiting = b.watch('shared', { after: 0, timeout_ms: 5000 });
      const [written] = (await a.append('shared', [{ entity_id: 'x', event_type: 'x.made', payload: { n: 1 } }])).events;
      expect((await waiting).events.map((e) => e.id)).toEqual([written.id]);
      expect(await b.state('shared', 'x')).toMatchObject({ state: { n: 1 }, version: 1 });
      for (const node of [one, two]) expect(await (await fetch(`${node.url}/ready`)).json()).toEqual({ ok: true, state: 'ready', store: 'postgres' });
      await a.close();
      await b.close();
    } finally {
      for (const node of [one, two]) {
        const exited = new Promise((resolve) => node.child.once('exit', resolve));
        node.child.kill('SIGTERM');
        await exited;
      }
    }
  });

  it('serve --postgres is the one box on PostgreSQL: keys made against it work for MCP and Prime', async () => {
    const boxEnv = { ...env, ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY, ALLSOURCE_KEY_SECRET: 'cd'.repeat(32) };
    const refused = await runCli(['serve', '--postgres', cluster.runtimeUrl, '--local'], boxEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/invalid: postgres: --postgres is the one-box mode/);
    const serve = await startAllsource(['serve', '--port', '0', '--postgres', cluster.runtimeUrl, '--data', join(root, 'box-data')], boxEnv, (stderr) => /MCP on (http:\/\/\S+)\/mcp/.exec(stderr)?.[1]);
    try {
      expect(serve.stderr()).toMatch(/\(PostgreSQL\)/);
      expect((await runCli(['tenants', 'create', 'box', '--core', serve.url], boxEnv)).code).toBe(0);
      const key = (await runCli(['keys', 'create', '--tenant', 'box', '--core', serve.url], boxEnv)).stdout.trim();
      const client = new Client({ name: 'pg-serve-test', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${serve.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      expect((await client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'served from PostgreSQL' } } })).isError).toBeFalsy();
      expect((await client.callTool({ name: 'prime_stats', arguments: {} })).structuredContent).toMatchObject({ nodes: 1 });
      await client.close();
    } finally {
      const exited = new Promise((resolve) => serve.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    // The node kept nothing that matters: the note is in the database.
    const pg = await openPostgresCore({ url: cluster.runtimeUrl, log: () => {} });
    expect((await pg.stats('box')).events).toBe(1);
    await pg.close();
  });

  it('migrate --postgres upgrades a version-1 schema in place, with its data, and the Core refuses it until then', async () => {
    // A cluster of its own: the copy above needs an empty database, and this one is rolled back a version.
    const old = await startPgCluster();
    const owner = new pgDriver.Client({ connectionString: old.ownerUrl });
    try {
      const before = await openPostgresCore({ url: old.runtimeUrl, log: () => {} });
      await before.append('upgrade', [{ entity_id: 'u', event_type: 'u.made', payload: { n: 1 } }]);
      await before.close();
      // Version 1: the same tables, entity heads at the default fill.
      await owner.connect();
      await owner.query('ALTER TABLE entity_heads RESET (fillfactor); UPDATE allsource_schema SET version = 1');
      await expect(openPostgresCore({ url: old.runtimeUrl, log: () => {} })).rejects.toThrow(/schema is version 1, this allsource needs 2/);
      const upgraded = await runCli(['migrate', '--postgres', old.ownerUrl, '--runtime-role', old.runtimeRole], env);
      expect(upgraded.stdout).toMatch(/^schema version 2 upgraded from version 1; granted the runtime role /);
      expect((await owner.query("SELECT reloptions FROM pg_class WHERE relname = 'entity_heads'")).rows[0].reloptions).toEqual(['fillfactor=80']);
      const after = await openPostgresCore({ url: old.runtimeUrl, log: () => {} });
      try {
        await after.append('upgrade', [{ entity_id: 'u', event_type: 'u.made', payload: { m: 2 } }]);
        expect(await after.state('upgrade', 'u')).toMatchObject({ state: { n: 1, m: 2 }, version: 2 });
        expect((await after.verify('upgrade')).ok).toBe(true);
      } finally {
        await after.close();
      }
    } finally {
      await owner.end().catch(() => undefined);
      await old.stop();
    }
  }, 60_000);
});
