// Segment rows (events kept as column bytes after a reopen, decoded when read) must answer every
// read exactly as the live store that appended them as objects does: queries of every shape,
// as-of states, listings, stats, lookups by id, search, watches, tombstones and verification. The
// same store is read before close and after a reopen that loads everything from segments.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedCore, type EmbeddedCore, type EventStore, type NewEvent } from '../src/index.js';
import { mulberry32 } from '../bench/workload.js';

const dirs: string[] = [];
const open: EmbeddedCore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openStore(dataDir: string, extra: Partial<Parameters<typeof openEmbeddedCore>[0]> = {}): Promise<EmbeddedCore> {
  const store = await openEmbeddedCore({ dataDir, log: () => {}, durability: 'none', ...extra });
  open.push(store);
  return store;
}

/** A clock that moves 1–3 ms per call, so instants between batches are distinct. */
function steppingClock(seed: number): () => number {
  const rand = mulberry32(seed);
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  return () => (now += 1 + Math.floor(rand() * 3));
}

/** Writes a mixed history: two tenants, client and generated ids, metadata, occurred_at, unicode, tombstones and restores. */
async function writeHistory(store: EventStore, seed: number): Promise<{ ids: string[]; instants: string[] }> {
  const rand = mulberry32(seed);
  const ids: string[] = [];
  const instants: string[] = [];
  for (let b = 0; b < 30; b++) {
    const batch: NewEvent[] = [];
    for (let i = 0; i < 1 + Math.floor(rand() * 12); i++) {
      const n = b * 100 + i;
      batch.push({
        entity_id: `${rand() < 0.5 ? 'user' : 'order'}-${Math.floor(rand() * 9)}`,
        event_type: ['thing.created', 'thing.changed', 'thing.noted', 'thing.deleted'][Math.floor(rand() * (rand() < 0.1 ? 4 : 3))],
        payload: { n, name: `näme ${n} ✓`, nested: { k: n % 5, drop: rand() < 0.2 ? null : n }, tags: ['a', String(n % 3)] },
        ...(rand() < 0.3 ? { metadata: { source: 'test', n } } : {}),
        ...(rand() < 0.3 ? { id: `client-${seed}-${n}` } : {}),
        ...(rand() < 0.3 ? { occurred_at: new Date(Date.parse('2025-06-01T00:00:00Z') + n * 1000).toISOString() } : {}),
      });
    }
    const result = await store.append('t1', batch);
    ids.push(...result.events.map((e) => e.id));
    instants.push(result.events[0].timestamp);
    if (b % 3 === 0) await store.append('t2', [{ entity_id: 'other', event_type: 'other.seen', payload: { b } }]);
    if (b === 12) await store.tombstone('t1', { ids: ids.slice(3, 9), reason: 'test' });
    if (b === 20) await store.restore('t1', { ids: ids.slice(5, 7), reason: 'test' });
    if (b === 25) await store.tombstone('t1', { entity_id: 'order-2', reason: 'test' });
  }
  return { ids, instants };
}

/** Every read the port offers, over the written history, as one comparable value. */
async function readEverything(store: EventStore, ids: string[], instants: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  const pages = async (filter: Parameters<EventStore['query']>[1]): Promise<unknown[]> => {
    const all: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query('t1', { ...filter, limit: 7, ...(cursor ? { cursor } : {}) });
      all.push(page.events);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  };
  const mid = instants[Math.floor(instants.length / 2)];
  const filters: Parameters<EventStore['query']>[1][] = [
    {},
    { order: 'desc' },
    { entity_id: 'user-3' },
    { entity_id: 'order-2', include_deleted: true },
    { event_type: 'thing.changed' },
    { entity_prefix: 'order-' },
    { event_type_prefix: 'thing.n' },
    { payload_equals: { 'nested.k': 2 } },
    { occurred_since: '2025-06-01T00:10:00Z' },
    { since: instants[5], until: instants[20] },
    { as_of: mid, include_deleted: true },
    { entity_id: '$control' },
  ];
  for (const filter of filters) out.push(await pages(filter));
  for (const entity of ['user-0', 'user-4', 'order-2', 'order-7']) {
    for (const at of [instants[3], mid, instants.at(-1)!]) out.push(await store.state('t1', entity, { as_of: at }).catch((e: Error) => e.message));
    out.push(await store.state('t1', entity).catch((e: Error) => e.message));
  }
  out.push(await store.entities('t1', { limit: 1000 }), await store.entities('t1', { prefix: 'user-', limit: 3 }));
  out.push(await store.eventTypes('t1'), await store.stats('t1'), await store.stats('t2'), await store.verify('t1'));
  for (const id of ids) out.push(await store.get('t1', id, { include_deleted: true }).catch((e: Error) => e.message));
  out.push(await store.search('t1', { query: 'näme 1205', limit: 5 }), await store.search('t1', { query: 'test', as_of: mid, limit: 50 }));
  out.push(await store.watch('t1', { after: 40, limit: 20, timeout_ms: 0 }), await store.watch('t1', { after: 0, event_type_prefix: 'thing.c', include_control: true, timeout_ms: 0 }));
  return out;
}

describe('segment rows', () => {
  for (const rollInWorker of [true, false]) {
    it(`answer every read like the live store (${rollInWorker ? 'worker' : 'in-process'} loader)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'allsource-rows-'));
      dirs.push(dir);
      const store = await openStore(dir, { now: steppingClock(7), rollInWorker });
      const { ids, instants } = await writeHistory(store, 7);
      const live = await readEverything(store, ids, instants);
      const lastOfUser3 = (await store.query('t1', { entity_id: 'user-3', include_deleted: true, order: 'desc', limit: 1 })).events[0];
      await store.rollNow();
      await store.close();
      open.splice(open.indexOf(store), 1);

      const reopened = await openStore(dir, { rollInWorker });
      expect((await reopened.health()).segments).toMatchObject({ count: 1 });
      expect(await readEverything(reopened, ids, instants)).toEqual(live);
      // A second pass reads through the decoded cache and must agree too.
      expect(await readEverything(reopened, ids, instants)).toEqual(live);
      // Appends after the reopen continue the hash chain and the versions.
      const next = await reopened.append('t1', [{ entity_id: 'user-3', event_type: 'thing.changed', payload: { after: true } }]);
      expect(next.events[0].version).toBe((lastOfUser3?.version ?? 0) + 1);
      expect((await reopened.verify('t1')).ok).toBe(true);
    });
  }

  it('reads stay exact after the decoded cache has evicted rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allsource-rows-'));
    dirs.push(dir);
    const store = await openStore(dir, { now: steppingClock(3) });
    const entities = 900;
    for (let b = 0; b < 90; b++) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ entity_id: `e-${(b * 1000 + i) % entities}`, event_type: 'row.written', payload: { b, i, text: `row ${b}:${i}` } }));
      await store.append('t', batch);
    }
    const sample = ['e-0', 'e-450', 'e-899'];
    const before = await Promise.all(sample.map((e) => store.query('t', { entity_id: e, limit: 1000 })));
    await store.rollNow();
    await store.close();
    open.splice(open.indexOf(store), 1);

    const reopened = await openStore(dir);
    // Read every entity once: 90,000 rows, more than the cache holds.
    for (let e = 0; e < entities; e++) expect((await reopened.query('t', { entity_id: `e-${e}`, limit: 1000 })).events).toHaveLength(90_000 / entities);
    const after = await Promise.all(sample.map((e) => reopened.query('t', { entity_id: e, limit: 1000 })));
    expect(after).toEqual(before);
    expect((await reopened.verify('t')).checked).toBe(90_000);
  });
});
