// The EventStore contract: one suite, exported as a function of a store factory, that every
// adapter must pass (EmbeddedCore in both durability modes now; HttpCore against a real Core
// server later). It checks observable behaviour only, through the port.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore, JsonObject, NewEvent, StoredEvent } from '../../src/index.js';
import { mergePatch } from '../../src/core/fold.js';

export interface ContractStore {
  store: EventStore;
  cleanup: () => Promise<void>;
}

export interface ContractOptions {
  /** The payload limit the factory configured (the suite tests a payload just over it). */
  maxPayloadBytes: number;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with a typed error carrying `code` (and `field`, when given). */
async function expectError(promise: Promise<unknown>, code: string, field?: string | RegExp): Promise<{ code: string; field?: string; details?: Record<string, unknown> }> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${code} error`).toBeInstanceOf(Error);
  const error = caught as { code: string; field?: string; details?: Record<string, unknown>; message: string };
  expect(error.code, error.message).toBe(code);
  if (field instanceof RegExp) expect(error.field).toMatch(field);
  else if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

function event(entity_id: string, event_type: string, payload: JsonObject, extra: Partial<NewEvent> = {}): NewEvent {
  return { entity_id, event_type, payload, ...extra };
}

async function allEvents(store: EventStore, tenant: string, filter: Record<string, unknown> = {}, limit = 7): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query(tenant, { ...filter, limit, cursor });
    out.push(...page.events);
    expect(page.has_more).toBe(page.next_cursor !== null);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Declares the contract suite for the stores `factory` makes. */
export function eventStoreContract(name: string, factory: () => Promise<ContractStore>, options: ContractOptions): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;
    let tenant: string;
    let other: string;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      tenant = `t-${randomUUID()}`;
      other = `o-${randomUUID()}`;
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('append', () => {
      it('assigns gapless versions, increasing positions and ms timestamps', async () => {
        const result = await store.append(tenant, [event('a', 'x.created', { n: 1 }), event('b', 'x.created', { n: 2 }), event('a', 'x.updated', { n: 3 })]);
        expect(result.dry_run).toBe(false);
        expect(result.events.map((e) => [e.entity_id, e.version])).toEqual([['a', 1], ['b', 1], ['a', 2]]);
        const positions = result.events.map((e) => e.position);
        expect(positions[1]).toBeGreaterThan(positions[0]);
        expect(positions[2]).toBeGreaterThan(positions[1]);
        expect(result.last_position).toBe(positions[2]);
        for (const e of result.events) {
          expect(e.timestamp).toMatch(ISO_MS);
          expect(e.occurred_at).toBe(e.timestamp);
          expect(e.duplicate).toBe(false);
        }
        expect(new Set(result.events.map((e) => e.id)).size).toBe(3);
        const more = await store.append(tenant, [event('a', 'x.updated', { n: 4 })]);
        expect(more.events[0].version).toBe(3);
        expect(more.events[0].timestamp >= result.events[2].timestamp).toBe(true);
      });

      it('stores what was given: payload, metadata (default null) and a normalized occurred_at', async () => {
        const { events } = await store.append(tenant, [
          event('a', 'x.created', { nested: { deep: [1, 'two', null] }, text: 'é✓' }, { metadata: { source: 'test' }, occurred_at: '2020-01-02T03:04:05Z' }),
          event('b', 'x.created', {}),
        ]);
        const first = await store.get(tenant, events[0].id);
        expect(first.payload).toEqual({ nested: { deep: [1, 'two', null] }, text: 'é✓' });
        expect(first.metadata).toEqual({ source: 'test' });
        expect(first.occurred_at).toBe('2020-01-02T03:04:05.000Z');
        expect(first.tenant_id).toBe(tenant);
        expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
        expect((await store.get(tenant, events[1].id)).metadata).toBeNull();
      });

      it('is atomic: one bad event writes nothing of its batch', async () => {
        await expectError(store.append(tenant, [event('a', 'x', { ok: 1 }), event('', 'x', {})]), 'invalid', 'events[1].entity_id');
        await store.append(tenant, [event('a', 'x', { n: 1 })]);
        await expectError(store.append(tenant, [event('b', 'x', {}), event('a', 'x', {}, { expected_version: 5 })]), 'conflict');
        const all = await allEvents(store, tenant);
        expect(all.map((e) => e.entity_id)).toEqual(['a']);
      });

      it('is idempotent on client ids, and a different body under a used id is a conflict', async () => {
        const first = await store.append(tenant, [event('a', 'x', { n: 1 }, { id: 'evt-1', metadata: { m: 1 } })]);
        const again = await store.append(tenant, [event('a', 'x', { n: 1 }, { id: 'evt-1', metadata: { m: 1 } })]);
        expect(again.events[0]).toMatchObject({ id: 'evt-1', duplicate: true, version: 1, position: first.events[0].position });
        expect((await store.stats(tenant)).events).toBe(1);
        const conflict = await expectError(store.append(tenant, [event('a', 'x', { n: 2 }, { id: 'evt-1' })]), 'conflict', 'events[0].id');
        expect(conflict.details).toMatchObject({ id: 'evt-1' });
        await expectError(store.append(tenant, [event('b', 'x', { n: 1 }, { id: 'dup' }), event('b', 'x', { n: 2 }, { id: 'dup' })]), 'conflict', 'events[1].id');
        const mixed = await store.append(tenant, [event('a', 'x', { n: 1 }, { id: 'evt-1', metadata: { m: 1 } }), event('a', 'y', {}, { id: 'evt-2' })]);
        expect(mixed.events.map((e) => [e.id, e.duplicate, e.version])).toEqual([['evt-1', true, 1], ['evt-2', false, 2]]);
        // Ids are per tenant.
        const elsewhere = await store.append(other, [event('a', 'x', { n: 99 }, { id: 'evt-1' })]);
        expect(elsewhere.events[0].duplicate).toBe(false);
      });

      it('enforces expected_version, reporting expected and actual', async () => {
        await store.append(tenant, [event('a', 'x', {}, { expected_version: 0 })]);
        const error = await expectError(store.append(tenant, [event('a', 'x', {}, { expected_version: 0 })]), 'conflict', 'events[0].expected_version');
        expect(error.details).toMatchObject({ expected: 0, actual: 1 });
        const ok = await store.append(tenant, [event('a', 'x', {}, { expected_version: 1 }), event('a', 'x', {}, { expected_version: 2 })]);
        expect(ok.events.map((e) => e.version)).toEqual([2, 3]);
      });

      it('dry_run checks everything and writes nothing', async () => {
        const result = await store.append(tenant, [event('a', 'x', { n: 1 })], { dry_run: true });
        expect(result.dry_run).toBe(true);
        expect((await store.stats(tenant)).events).toBe(0);
        await expectError(store.append(tenant, [event('a', 'x', {}, { expected_version: 3 })], { dry_run: true }), 'conflict');
      });

      it('rejects bad input with invalid naming the field, and keeps working', async () => {
        const cases: Array<[unknown, string | RegExp]> = [
          [[], 'events'],
          ['nope', 'events'],
          [[event('a'.repeat(257), 'x', {})], 'events[0].entity_id'],
          [[event('a\u0000b', 'x', {})], 'events[0].entity_id'],
          [[event('a', 'line\nbreak', {})], 'events[0].event_type'],
          [[event('$system', 'x', {})], 'events[0].entity_id'],
          [[{ entity_id: 'a', event_type: 'x', payload: [1, 2] }], 'events[0].payload'],
          [[{ entity_id: 'a', event_type: 'x', payload: 'text' }], 'events[0].payload'],
          [[{ entity_id: 'a', event_type: 'x', payload: null }], 'events[0].payload'],
          [[{ entity_id: 'a', event_type: 'x' }], 'events[0].payload'],
          [[event('a', 'x', { big: 'x'.repeat(options.maxPayloadBytes) })], 'events[0].payload'],
          [[event('a', 'x', {}, { occurred_at: 'yesterday' })], 'events[0].occurred_at'],
          [[event('a', 'x', {}, { occurred_at: '2024-02-31T00:00:00Z' })], 'events[0].occurred_at'],
          [[event('a', 'x', {}, { expected_version: -1 })], 'events[0].expected_version'],
          [[event('a', 'x', {}, { expected_version: 1.5 })], 'events[0].expected_version'],
          [[{ ...event('a', 'x', {}), colour: 'red' }], 'events[0].colour'],
          [[event('a', 'x', { bad: Number.NaN })], /^events\[0\]\.payload/],
        ];
        for (const [events, field] of cases) {
          await expectError(store.append(tenant, events as NewEvent[]), 'invalid', field);
        }
        await expectError(store.append('', [event('a', 'x', {})]), 'invalid', 'tenant');
        expect((await store.stats(tenant)).events).toBe(0);
        expect((await store.append(tenant, [event('a', 'x', {})])).events).toHaveLength(1);
      });

      it('gives 200 concurrent appends to one entity versions 1..200 exactly once', async () => {
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.append(tenant, [event('hot', 'x', { i })])));
        expect(results.map((r) => r.events[0].version).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      });

      it('lets exactly one of many racing expected_version writers win', async () => {
        await store.append(tenant, [event('race', 'x', {})]);
        const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.append(tenant, [event('race', 'x', { i }, { expected_version: 1 })])));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code: string }).code).toBe('conflict');
      });
    });

    describe('query', () => {
      async function seed(): Promise<StoredEvent[]> {
        await store.append(tenant, [
          event('user-1', 'user.created', { plan: 'free', profile: { country: 'NL' } }, { occurred_at: '2020-01-01T00:00:00Z' }),
          event('user-2', 'user.created', { plan: 'pro', profile: { country: 'DE' } }, { occurred_at: '2021-01-01T00:00:00Z' }),
          event('order-1', 'order.placed', { total: 5, items: ['a'] }),
        ]);
        await sleep(5);
        await store.append(tenant, [event('user-1', 'user.upgraded', { plan: 'pro' }), event('order-1', 'order.paid', { total: 5, items: ['a'] })]);
        await store.append(other, [event('user-1', 'user.created', { plan: 'pro' })]);
        return allEvents(store, tenant);
      }

      it('filters by entity, prefixes, type and payload paths', async () => {
        const all = await seed();
        expect(all).toHaveLength(5);
        const ids = (events: StoredEvent[]) => events.map((e) => `${e.entity_id}/${e.event_type}`);
        expect(ids((await store.query(tenant, { entity_id: 'user-1' })).events)).toEqual(['user-1/user.created', 'user-1/user.upgraded']);
        expect(ids((await store.query(tenant, { entity_prefix: 'order-' })).events)).toEqual(['order-1/order.placed', 'order-1/order.paid']);
        expect(ids((await store.query(tenant, { event_type: 'user.created' })).events)).toEqual(['user-1/user.created', 'user-2/user.created']);
        expect(ids((await store.query(tenant, { event_type_prefix: 'order.' })).events)).toHaveLength(2);
        expect(ids((await store.query(tenant, { payload_equals: { plan: 'pro' } })).events)).toEqual(['user-2/user.created', 'user-1/user.upgraded']);
        expect(ids((await store.query(tenant, { payload_equals: { 'profile.country': 'NL' } })).events)).toEqual(['user-1/user.created']);
        expect(ids((await store.query(tenant, { payload_equals: { items: ['a'], total: 5 } })).events)).toHaveLength(2);
        expect((await store.query(tenant, { payload_equals: { items: ['b'] } })).events).toHaveLength(0);
        expect(ids((await store.query(tenant, { entity_id: 'user-1', event_type: 'user.upgraded' })).events)).toEqual(['user-1/user.upgraded']);
      });

      it('filters by recorded and world time, and as_of', async () => {
        const all = await seed();
        const secondBatch = all[3].timestamp;
        expect(secondBatch > all[2].timestamp).toBe(true);
        expect((await store.query(tenant, { since: secondBatch })).events).toHaveLength(2);
        expect((await store.query(tenant, { until: all[2].timestamp })).events).toHaveLength(3);
        expect((await store.query(tenant, { as_of: all[2].timestamp })).events).toHaveLength(3);
        expect((await store.query(tenant, { as_of: '2000-01-01T00:00:00Z' })).events).toHaveLength(0);
        expect((await store.query(tenant, { occurred_until: '2020-06-01T00:00:00Z' })).events.map((e) => e.entity_id)).toEqual(['user-1']);
        expect((await store.query(tenant, { occurred_since: '2020-06-01T00:00:00Z', occurred_until: '2022-01-01T00:00:00Z' })).events.map((e) => e.entity_id)).toEqual(['user-2']);
      });

      it('orders asc and desc, limits, and rejects bad filters naming the field', async () => {
        const all = await seed();
        expect((await store.query(tenant, { order: 'desc' })).events.map((e) => e.position)).toEqual(all.map((e) => e.position).reverse());
        const page = await store.query(tenant, { limit: 2 });
        expect(page.events).toHaveLength(2);
        expect(page.has_more).toBe(true);
        await expectError(store.query(tenant, { limit: 0 }), 'invalid', 'filter.limit');
        await expectError(store.query(tenant, { limit: 1001 }), 'invalid', 'filter.limit');
        await expectError(store.query(tenant, { limit: 2.5 }), 'invalid', 'filter.limit');
        await expectError(store.query(tenant, { bogus: 1 } as never), 'invalid', 'filter.bogus');
        await expectError(store.query(tenant, { since: 'not a time' }), 'invalid', 'filter.since');
        await expectError(store.query(tenant, { as_of: '2024-13-01' }), 'invalid', 'filter.as_of');
        await expectError(store.query(tenant, { order: 'sideways' as never }), 'invalid', 'filter.order');
        await expectError(store.query(tenant, { cursor: 'garbage!' }), 'invalid', 'filter.cursor');
        await expectError(store.query(tenant, { cursor: Buffer.from('{"nope":1}').toString('base64url') }), 'invalid', 'filter.cursor');
        // A cursor from one query does not fit another.
        await expectError(store.query(tenant, { entity_id: 'user-1', cursor: page.next_cursor! }), 'invalid', 'filter.cursor');
      });

      it('pages without repeats or gaps in both orders, even while writes arrive', async () => {
        await store.append(tenant, Array.from({ length: 40 }, (_, i) => event(`e${i % 3}`, 'x', { i })));
        for (const order of ['asc', 'desc'] as const) {
          const before = (await store.query(tenant, { order, limit: 1000 })).events.map((e) => e.id);
          const seen: string[] = [];
          let cursor: string | undefined;
          let writes = 0;
          do {
            const page = await store.query(tenant, { order, limit: 6, cursor });
            seen.push(...page.events.map((e) => e.id));
            cursor = page.next_cursor ?? undefined;
            await store.append(tenant, [event(`e${writes % 3}`, 'x', { late: writes++ })]);
          } while (cursor);
          expect(new Set(seen).size).toBe(seen.length);
          if (order === 'asc') {
            expect(seen.slice(0, before.length)).toEqual(before);
            expect(seen.length).toBeGreaterThan(before.length); // later writes show up at the end
          } else {
            expect(seen).toEqual(before);
          }
        }
      });
    });

    describe('get and state', () => {
      it('gets by id; unknown and other-tenant ids are not_found', async () => {
        const { events } = await store.append(tenant, [event('a', 'x', { n: 1 })]);
        expect((await store.get(tenant, events[0].id)).payload).toEqual({ n: 1 });
        await expectError(store.get(tenant, 'missing'), 'not_found');
        await expectError(store.get(other, events[0].id), 'not_found');
      });

      it('folds payloads with RFC 7396 merge-patch, as of any past instant', async () => {
        const payloads: JsonObject[] = [
          { name: 'Ada', address: { city: 'London', zip: 'N1' }, tags: ['a'] },
          { address: { zip: null, street: 'Main' }, tags: ['b', 'c'] },
          { name: null, role: 'admin', address: 'moved' },
        ];
        const stamps: string[] = [];
        for (const payload of payloads) {
          stamps.push((await store.append(tenant, [event('u', 'user.changed', payload)])).events[0].timestamp);
          await sleep(4);
        }
        const now = await store.state(tenant, 'u');
        expect(now).toMatchObject({ entity_id: 'u', version: 3, event_count: 3, deleted: false, as_of: null, last_updated: stamps[2] });
        expect(now.state).toEqual({ tags: ['b', 'c'], role: 'admin', address: 'moved' });
        const middle = await store.state(tenant, 'u', { as_of: stamps[1] });
        expect(middle.state).toEqual({ name: 'Ada', address: { city: 'London', street: 'Main' }, tags: ['b', 'c'] });
        expect(middle).toMatchObject({ version: 2, event_count: 2, as_of: stamps[1] });
        await expectError(store.state(tenant, 'u', { as_of: '2000-01-01T00:00:00Z' }), 'not_found');
        await expectError(store.state(tenant, 'nobody'), 'not_found');
        await expectError(store.state(other, 'u'), 'not_found');
        await expectError(store.state(tenant, 'u', { as_of: 'soon' }), 'invalid');
      });

      it('matches a naive fold at every version of a long history (snapshots agree)', async () => {
        const payloads: JsonObject[] = Array.from({ length: 150 }, (_, i) => ({ [`k${i % 7}`]: i % 5 === 0 ? null : i, nested: { [`n${i % 3}`]: i } }));
        const stamps: string[] = [];
        for (let i = 0; i < payloads.length; i += 10) {
          const result = await store.append(tenant, payloads.slice(i, i + 10).map((p) => event('long', 'x', p)));
          stamps.push(result.events[0].timestamp);
          await sleep(2);
        }
        for (let batch = 0; batch < stamps.length; batch++) {
          const asOf = stamps[batch];
          const included = (batch + 1) * 10;
          let expected: JsonObject | null = null;
          for (const p of payloads.slice(0, included)) expected = mergePatch(expected, p);
          const result = await store.state(tenant, 'long', { as_of: asOf });
          expect(result.version).toBe(included);
          expect(result.state).toEqual(expected);
        }
      });

      it('marks an entity deleted after a .deleted event, and revives it after a later event', async () => {
        await store.append(tenant, [event('d', 'thing.created', { a: 1 }), event('d', 'thing.deleted', {})]);
        expect(await store.state(tenant, 'd')).toMatchObject({ state: null, deleted: true, version: 2 });
        await store.append(tenant, [event('d', 'thing.created', { b: 2 })]);
        expect(await store.state(tenant, 'd')).toMatchObject({ state: { b: 2 }, deleted: false, version: 3 });
      });
    });

    describe('listings and stats', () => {
      it('lists entities sorted with prefix and paging, and event types with counts', async () => {
        await store.append(tenant, [
          event('b-2', 'x.created', {}),
          event('a-1', 'x.created', {}),
          event('a-2', 'x.created', {}),
          event('a-1', 'x.updated', {}),
          event('c', 'y.deleted', {}),
        ]);
        await store.append(other, [event('a-0', 'z', {})]);
        const first = await store.entities(tenant, { limit: 2 });
        expect(first.entities.map((e) => e.entity_id)).toEqual(['a-1', 'a-2']);
        expect(first.entities[0]).toMatchObject({ event_count: 2, version: 2, last_event_type: 'x.updated', deleted: false });
        const rest = await store.entities(tenant, { limit: 2, cursor: first.next_cursor! });
        expect(rest.entities.map((e) => e.entity_id)).toEqual(['b-2', 'c']);
        expect(rest.entities[1].deleted).toBe(true);
        expect(rest.has_more).toBe(false);
        expect((await store.entities(tenant, { prefix: 'a-' })).entities.map((e) => e.entity_id)).toEqual(['a-1', 'a-2']);
        const types = await store.eventTypes(tenant);
        expect(types.event_types.map((t) => [t.event_type, t.count])).toEqual([['x.created', 3], ['x.updated', 1], ['y.deleted', 1]]);
        expect((await store.eventTypes(tenant, { prefix: 'y.' })).event_types).toHaveLength(1);
        await expectError(store.entities(tenant, { limit: 0 }), 'invalid', 'options.limit');
        await expectError(store.entities(tenant, { cursor: 'zzz' }), 'invalid', 'options.cursor');
        const stats = await store.stats(tenant);
        expect(stats).toMatchObject({ tenant_id: tenant, events: 5, tombstoned_events: 0, entities: 4, event_types: 3 });
        expect(stats.last_position).toBeGreaterThan(0);
        expect(await store.stats(`empty-${randomUUID()}`)).toMatchObject({ events: 0, entities: 0, last_position: 0, first_event_at: null });
      });
    });

    describe('watch', () => {
      it('returns later events at once, waits for new ones, and times out empty', async () => {
        const { last_position } = await store.append(tenant, [event('w', 'x', { n: 1 })]);
        const immediate = await store.watch(tenant, { after: 0, timeout_ms: 1000 });
        expect(immediate.events.map((e) => e.payload.n)).toEqual([1]);
        expect(immediate.timed_out).toBe(false);

        const started = Date.now();
        const waiting = store.watch(tenant, { after: last_position, timeout_ms: 5000 });
        await sleep(30);
        await store.append(other, [event('w', 'x', { n: 'other tenant' })]);
        await store.append(tenant, [event('w', 'x', { n: 2 })]);
        const woken = await waiting;
        expect(woken.events.map((e) => e.payload.n)).toEqual([2]);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(woken.last_position).toBeGreaterThan(last_position);

        const empty = await store.watch(tenant, { after: woken.last_position, timeout_ms: 100 });
        expect(empty).toMatchObject({ events: [], timed_out: true });
        expect(empty.last_position).toBeGreaterThanOrEqual(woken.last_position);
        await expectError(store.watch(tenant, { timeout_ms: 600_000 }), 'invalid', 'options.timeout_ms');
      });
    });

    describe('tombstones', () => {
      it('hides tombstoned events from every read, keeps history as of before, and restores them', async () => {
        const { events } = await store.append(tenant, [event('t', 'x.created', { a: 1 }), event('t', 'x.updated', { b: 2 }), event('keep', 'x.created', {})]);
        await sleep(5);
        const before = new Date().toISOString();
        await sleep(5);
        const dry = await store.tombstone(tenant, { ids: [events[1].id], reason: 'gdpr request', dry_run: true });
        expect(dry).toMatchObject({ count: 1, dry_run: true, position: null });
        expect((await store.stats(tenant)).events).toBe(3);

        const done = await store.tombstone(tenant, { ids: [events[1].id], reason: 'gdpr request' });
        expect(done).toMatchObject({ count: 1, event_ids: [events[1].id], dry_run: false });
        expect(done.position).toBeGreaterThan(events[2].position);
        expect((await store.query(tenant, { entity_id: 't' })).events.map((e) => e.id)).toEqual([events[0].id]);
        await expectError(store.get(tenant, events[1].id), 'not_found');
        expect((await store.get(tenant, events[1].id, { include_deleted: true })).deleted).toBe(true);
        expect((await store.state(tenant, 't')).state).toEqual({ a: 1 });
        expect(await store.stats(tenant)).toMatchObject({ events: 2, tombstoned_events: 1 });
        expect((await store.entities(tenant)).entities.find((e) => e.entity_id === 't')?.event_count).toBe(1);
        const withDeleted = await store.query(tenant, { entity_id: 't', include_deleted: true });
        expect(withDeleted.events.map((e) => e.deleted ?? false)).toEqual([false, true]);
        // Time travel: as of before the tombstone, the event is still there.
        expect((await store.query(tenant, { entity_id: 't', as_of: before })).events).toHaveLength(2);
        expect((await store.state(tenant, 't', { as_of: before })).state).toEqual({ a: 1, b: 2 });
        // The tombstone is itself an event in the log.
        const control = await store.query(tenant, { entity_id: '$control' });
        expect(control.events.map((e) => [e.event_type, e.payload.reason])).toEqual([['$tombstone', 'gdpr request']]);
        // Again counts nothing.
        expect((await store.tombstone(tenant, { ids: [events[1].id], reason: 'again' })).count).toBe(0);

        const restored = await store.restore(tenant, { entity_id: 't', reason: 'mistake' });
        expect(restored.count).toBe(1);
        expect((await store.state(tenant, 't')).state).toEqual({ a: 1, b: 2 });
        expect((await store.stats(tenant)).tombstoned_events).toBe(0);
      });

      it('tombstones a whole entity or type, requires a reason, and never crosses tenants', async () => {
        await store.append(tenant, [event('gone', 'a', {}), event('gone', 'b', {}), event('stay', 'b', {})]);
        await store.append(other, [event('gone', 'a', {})]);
        expect((await store.tombstone(tenant, { entity_id: 'gone', reason: 'cleanup' })).count).toBe(2);
        await expectError(store.state(tenant, 'gone'), 'not_found');
        expect((await store.stats(other)).events).toBe(1);
        expect((await store.tombstone(tenant, { event_type: 'b', reason: 'cleanup' })).count).toBe(1);
        expect((await store.stats(tenant)).events).toBe(0);
        await expectError(store.tombstone(tenant, { entity_id: 'stay', reason: '' }), 'invalid', 'selector.reason');
        await expectError(store.tombstone(tenant, { reason: 'no selector' }), 'invalid', 'selector');
      });
    });

    describe('integrity and lifecycle', () => {
      it('verifies a per-tenant hash chain', async () => {
        await store.append(tenant, [event('a', 'x', { n: 1 }), event('b', 'x', { n: 2 })]);
        const { events } = await store.append(tenant, [event('a', 'x', { n: 3 })]);
        await store.tombstone(tenant, { ids: [events[0].id], reason: 'test' });
        const result = await store.verify(tenant);
        expect(result).toMatchObject({ ok: true, checked: 4, first_broken_position: null });
        expect(result.head_hash).toMatch(/^[0-9a-f]{64}$/);
        await store.append(other, [event('z', 'x', {})]);
        expect((await store.verify(tenant)).head_hash).toBe(result.head_hash);
        expect(await store.verify(`empty-${randomUUID()}`)).toMatchObject({ ok: true, checked: 0, head_hash: null });
      });

      it('reports health and refuses calls after close', async () => {
        const health = await store.health();
        expect(health.ok).toBe(true);
        expect(typeof health.kind).toBe('string');
        await store.close();
        await expectError(store.append(tenant, [event('a', 'x', {})]), 'unavailable');
        await expectError(store.query(tenant), 'unavailable');
      });
    });
  });
}
