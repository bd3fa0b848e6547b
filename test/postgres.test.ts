// PostgresCore beyond the contract suite: row-level security (no tenant set sees nothing; a
// cross-tenant insert fails; every table forces RLS), the Core's refusal of roles RLS does not
// bind, positions in commit order under many concurrent appenders (a concurrent paging reader
// finds no skip and no repeat), search ranked exactly as EmbeddedCore ranks, tampering caught by
// verify, and a watch on one node woken by an append on another.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedCore, type NewEvent, type StoredEvent } from '../src/index.js';
import { openPostgresCore, type PostgresCore } from '../src/core/postgres/index.js';
import { postgresTestsEnabled, startPgCluster, type PgCluster } from './helpers/postgres.js';

const enabled = postgresTestsEnabled('test/postgres.test.ts');
let cluster: PgCluster;
const opened: PostgresCore[] = [];

async function open(url = cluster.runtimeUrl): Promise<PostgresCore> {
  const store = await openPostgresCore({ url, log: () => {} });
  opened.push(store);
  return store;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(!enabled)('PostgresCore on PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 60_000);
  afterAll(async () => {
    for (const store of opened) await store.close();
    await cluster?.stop();
  });

  describe('row-level security', () => {
    it('a query with no tenant set sees nothing, and a cross-tenant insert fails', async () => {
      const store = await open();
      await store.append('rls-a', [{ entity_id: 'secret', event_type: 'x.made', payload: { s: 1 } }]);
      await store.append('rls-b', [{ entity_id: 'other', event_type: 'x.made', payload: { s: 2 } }]);
      // The rows are there (a superuser bypasses RLS)…
      const all = await withClient(cluster.superUrl, async (c) => (await c.query("SELECT count(*)::int AS n FROM events WHERE tenant_id IN ('rls-a', 'rls-b')")).rows[0].n);
      expect(all).toBe(2);
      await withClient(cluster.runtimeUrl, async (c) => {
        // …but the runtime role with no tenant set sees none of them, in any table.
        for (const table of ['events', 'tenant_heads', 'entity_heads', 'type_heads', 'state_snapshots', 'tombstones']) {
          expect((await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, table).toBe(0);
        }
        await c.query('BEGIN');
        await c.query("SELECT set_config('app.tenant_id', 'rls-a', true)");
        expect((await c.query('SELECT entity_id FROM events')).rows.map((r) => r.entity_id)).toEqual(['secret']);
        await expect(
          c.query("INSERT INTO events (tenant_id, position, id, entity_id, event_type, version, recorded_ms, occurred_ms, payload, hash) VALUES ('rls-b', 999999, 'forged', 'e', 't', 1, 0, 0, '{}', 'h')"),
        ).rejects.toThrow(/row-level security/);
        await c.query('ROLLBACK');
        // The setting was local to that transaction: after it, nothing is visible again.
        expect((await c.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(0);
        // Updating another tenant's head from inside a tenant's transaction changes nothing.
        await c.query('BEGIN');
        await c.query("SELECT set_config('app.tenant_id', 'rls-a', true)");
        expect((await c.query("UPDATE tenant_heads SET last_hash = 'x' WHERE tenant_id = 'rls-b'")).rowCount).toBe(0);
        await c.query('ROLLBACK');
      });
      const forced = await withClient(cluster.superUrl, async (c) =>
        (await c.query("SELECT relname, relrowsecurity AND relforcerowsecurity AS forced FROM pg_class WHERE relname IN ('events', 'tenant_heads', 'entity_heads', 'type_heads', 'state_snapshots', 'tombstones') ORDER BY relname")).rows,
      );
      expect(forced).toHaveLength(6);
      for (const row of forced) expect(row.forced, row.relname).toBe(true);
      expect((await store.verify('rls-b')).ok).toBe(true);
    });

    it('refuses to run as a superuser or as the schema owner', async () => {
      await expect(openPostgresCore({ url: cluster.superUrl, log: () => {} })).rejects.toMatchObject({ code: 'invalid', field: 'url' });
      await expect(openPostgresCore({ url: cluster.ownerUrl, log: () => {} })).rejects.toMatchObject({ code: 'invalid', field: 'url' });
      await expect(openPostgresCore({ url: 'mysql://nope', log: () => {} })).rejects.toMatchObject({ code: 'invalid', field: 'url' });
      const closedPort = await openPostgresCore({ url: 'postgres://x@127.0.0.1:1/none', log: () => {} }).catch((err: unknown) => err);
      expect(closedPort).toMatchObject({ code: 'unavailable' });
    });
  });

  it('many concurrent appenders on several nodes and a paging reader: no skip, no repeat', async () => {
    const nodes = await Promise.all([open(), open(), open(), open()]);
    const tenant = `race-${Date.now()}`;
    const writers = 16;
    const rounds = 12;
    let writing = true;
    const appends = Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const node = nodes[w % nodes.length];
        for (let r = 0; r < rounds; r++) {
          const batch: NewEvent[] = Array.from({ length: 1 + ((w + r) % 4) }, (_, i) => ({ entity_id: `e-${(w + i) % 5}`, event_type: 'race.hit', payload: { w, r, i } }));
          await node.append(tenant, batch);
        }
      }),
    ).finally(() => (writing = false));
    // A tailing reader follows positions with small pages while the writers run (watch, after = the
    // last position seen); a paging reader walks the query cursor meanwhile. A position committed
    // below one already read would be a skip; one read twice, a repeat.
    const tailed: StoredEvent[] = [];
    const tail = (async () => {
      let after = 0;
      while (true) {
        const page = await nodes[1].watch(tenant, { after, limit: 7, timeout_ms: 0 });
        tailed.push(...page.events);
        after = page.last_position;
        if (page.events.length === 0 && !writing) {
          const rest = await nodes[1].watch(tenant, { after, limit: 1000, timeout_ms: 0 });
          tailed.push(...rest.events);
          if (rest.events.length === 0) return;
          after = rest.last_position;
        }
      }
    })();
    const paged: StoredEvent[] = [];
    // The pager starts once the log has a first page (the writers may not have committed yet).
    while ((await nodes[2].query(tenant, { limit: 1 })).events.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    for (let cursor: string | undefined, more = true; more; ) {
      const page = await nodes[2].query(tenant, cursor === undefined ? { limit: 5 } : { limit: 5, cursor });
      paged.push(...page.events);
      more = page.has_more;
      cursor = page.next_cursor ?? undefined;
    }
    await tail;
    await appends;
    const log: StoredEvent[] = [];
    for (let c: string | undefined, more = true; more; ) {
      const page = await nodes[0].query(tenant, c === undefined ? { limit: 1000 } : { limit: 1000, cursor: c });
      log.push(...page.events);
      more = page.has_more;
      c = page.next_cursor ?? undefined;
    }
    const expected = Array.from({ length: writers }, (_, w) => Array.from({ length: rounds }, (_, r) => 1 + ((w + r) % 4)).reduce((a, b) => a + b, 0)).reduce((a, b) => a + b, 0);
    expect(log).toHaveLength(expected);
    expect(tailed.map((e) => e.position), 'the tailing reader saw exactly the log, in order').toEqual(log.map((e) => e.position));
    expect(paged.length).toBeGreaterThan(0);
    expect(paged.map((e) => e.position), 'the paging reader saw a prefix of the log, in order').toEqual(log.slice(0, paged.length).map((e) => e.position));
    for (let i = 1; i < log.length; i++) expect(log[i].position).toBeGreaterThan(log[i - 1].position);
    const versions = new Map<string, number>();
    for (const e of log) {
      expect(e.version).toBe((versions.get(e.entity_id) ?? 0) + 1);
      versions.set(e.entity_id, e.version);
    }
    expect(await nodes[2].verify(tenant)).toMatchObject({ ok: true, checked: expected });
  });

  it('group commit: concurrent appends share a transaction, yet a conflicting call fails alone', async () => {
    const store = await open();
    const tenant = `group-${Date.now()}`;
    const settled = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        store.append(tenant, [
          { entity_id: 'hot', event_type: 'g.hit', payload: { i }, ...(i === 7 ? { expected_version: 999 } : {}) },
          { entity_id: `own-${i}`, event_type: 'g.hit', payload: { i }, ...(i % 10 === 3 ? { id: 'shared-key' } : {}) },
        ]),
      ),
    );
    const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [[i, (r.reason as { code: string }).code]] : []));
    // Call 7 conflicts on its version; calls 13 and 23 reuse call 3's key with other content.
    expect(failed).toEqual([[7, 'conflict'], [13, 'conflict'], [23, 'conflict']]);
    const hot = (await store.query(tenant, { entity_id: 'hot', limit: 1000 })).events;
    expect(hot.map((e) => e.version)).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
    // The same key with the same content in one group is one event, the later call a duplicate.
    const again = await Promise.all([0, 1].map(() => store.append(tenant, [{ entity_id: 'k', event_type: 'g.once', payload: {}, id: 'same-group' }])));
    expect(again.map((r) => r.events[0].duplicate).sort()).toEqual([false, true]);
    expect(new Set(again.map((r) => r.events[0].position)).size).toBe(1);
    expect(await store.verify(tenant)).toMatchObject({ ok: true, checked: 27 * 2 + 1 });
  });

  it('ranks search hits exactly as EmbeddedCore does', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'allsource-pg-parity-'));
    const embedded = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
    try {
      const store = await open();
      const words = ['paris', 'launch', 'coffee', 'ada', 'engine', 'notes', 'alpha', 'beta'];
      const events: NewEvent[] = Array.from({ length: 60 }, (_, i) => ({
        entity_id: `doc-${i % 9}`,
        event_type: i % 3 === 0 ? 'note.added' : 'note.edited',
        payload: { text: Array.from({ length: 1 + (i % 7) }, (_, k) => words[(i * 3 + k * k) % words.length]).join(' '), n: i, tags: [words[i % words.length].toUpperCase()] },
      }));
      await embedded.append('parity', events);
      await store.append('parity', events);
      for (const query of ['paris', 'Paris launch', 'alpha beta engine', '7', 'ADA notes coffee', 'nothing']) {
        for (const filter of [{}, { event_type: 'note.added' }, { entity_id: 'doc-4' }]) {
          const a = await embedded.search('parity', { query, limit: 1000, ...filter });
          const b = await store.search('parity', { query, limit: 1000, ...filter });
          expect(b.hits.map((h) => [h.event.entity_id, h.event.payload.n, h.score]), `${query} ${JSON.stringify(filter)}`).toEqual(a.hits.map((h) => [h.event.entity_id, h.event.payload.n, h.score]));
        }
      }
    } finally {
      await embedded.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a payload of a MiB of distinct words is stored and searchable (the tsvector stays under its cap)', async () => {
    const store = await open();
    const words: string[] = [];
    for (let i = 0, bytes = 20; bytes < 1024 * 1024 - 20; i++) {
      words.push(`w${i}`);
      bytes += `w${i}`.length + 1;
    }
    const text = words.join(' ').slice(0, 1024 * 1024 - 20);
    const [e] = (await store.append('big-words', [{ entity_id: 'big', event_type: 'doc.added', payload: { text } }])).events;
    expect((await store.search('big-words', { query: 'w0 w1' })).hits.map((h) => h.event.id)).toEqual([e.id]);
    expect((await store.get('big-words', e.id)).payload.text).toBe(text);
  });

  it('batch columns sent in binary round-trip: instants before 1970, astral and CJK text, nulls, counted words', async () => {
    const store = await open();
    const payload = { text: 'naïve 𝄞 clef 東京 clef clef', n: -12.5, nested: { s: "it's \\ back" } };
    const r = await store.append('binary', [
      { entity_id: 'old', event_type: 'x.made', payload, metadata: { by: '🙂' }, occurred_at: '1901-02-03T04:05:06.789Z' },
      { entity_id: 'old', event_type: 'x.made', payload: {}, metadata: null },
    ]);
    const [a, b] = (await store.query('binary', { entity_id: 'old', order: 'asc' })).events;
    expect(a).toMatchObject({ id: r.events[0].id, payload, metadata: { by: '🙂' }, occurred_at: '1901-02-03T04:05:06.789Z', version: 1 });
    expect(b).toMatchObject({ payload: {}, metadata: null, version: 2 });
    expect((await store.verify('binary')).ok).toBe(true);
    // The tsvector holds each word with its count (clef: 3), as the text literal did.
    const lexemes = await withClient(cluster.superUrl, async (c) => (await c.query("SELECT search::text AS s FROM events WHERE tenant_id = 'binary' AND version = 1")).rows[0].s);
    expect(lexemes).toContain("'clef':1,2,3");
    expect((await store.search('binary', { query: '東京 clef' })).hits.map((h) => h.event.id)).toEqual([r.events[0].id]);
  });

  it('verify names the first altered position', async () => {
    const store = await open();
    const r = await store.append('tamper', Array.from({ length: 5 }, (_, i) => ({ entity_id: 'e', event_type: 't', payload: { i } })));
    expect((await store.verify('tamper')).ok).toBe(true);
    await withClient(cluster.superUrl, (c) => c.query(`UPDATE events SET payload = '{"i":99}' WHERE tenant_id = 'tamper' AND position = $1`, [r.events[2].position]));
    expect(await store.verify('tamper')).toMatchObject({ ok: false, checked: 2, first_broken_position: r.events[2].position });
  });

  it('a watch on one node is woken by an append on another (LISTEN/NOTIFY), well before the poll', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const [first] = (await a.append('notify', [{ entity_id: 'w', event_type: 'w.a', payload: {} }])).events;
    // A watch that waits starts the listener (one that times out before waiting would not: retry under load).
    for (let i = 0; i < 20 && (await a.health()).watch_listener !== 'listening'; i++) await a.watch('notify', { after: first.position, timeout_ms: 100 });
    expect((await a.health()).watch_listener).toBe('listening');
    const waiting = a.watch('notify', { after: first.position, timeout_ms: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = Date.now();
    const [second] = (await b.append('notify', [{ entity_id: 'w', event_type: 'w.b', payload: {} }])).events;
    const woke = await waiting;
    expect(woke.events.map((e) => e.id)).toEqual([second.id]);
    expect(Date.now() - started).toBeLessThan(200);
  });
});

