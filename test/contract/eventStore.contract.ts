// The EventStore contract: one exported vitest suite that every storage adapter (EmbeddedCore now,
// HttpCore later) must pass, run as `eventStoreContract(name, factory)`. It states the port's
// semantics (src/core/types.ts) as tests: atomic, idempotent appends with optimistic concurrency;
// bad input that gets a named `invalid` error and changes nothing; filtered, cursor-paged queries
// that stay exact while writes arrive; merge-patch state with time travel; tombstones recorded as
// log events; long-poll watches; the per-tenant hash chain; and tenant isolation on every read.
// Each test gets a fresh store from the factory and its own random tenant ids.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONTROL_ENTITY,
  LIMITS,
  RESTORE_EVENT,
  TOMBSTONE_EVENT,
  isAllSourceError,
  type AllSourceError,
  type AppendedEvent,
  type ErrorCode,
  type EventStore,
  type JsonObject,
  type JsonValue,
  type NewEvent,
  type QueryFilter,
  type StoredEvent,
} from '../../src/index.js';

/** What a factory hands the suite: a ready store and a way to dispose of it (and its files). */
export interface ContractStore {
  store: EventStore;
  cleanup: () => Promise<void>;
}

export interface ContractOptions {
  /** The payload limit the factory configured (default LIMITS.defaultMaxPayloadBytes, 1 MiB). */
  maxPayloadBytes?: number;
}

// --- helpers --------------------------------------------------------------------------------------

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HEX64 = /^[0-9a-f]{64}$/;

function newTenant(): string {
  return `t-${randomUUID()}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits past the current millisecond, so the next write is recorded with a later timestamp. */
function tick(): Promise<void> {
  return sleep(5);
}

function ev(entity_id: string, event_type: string, payload: JsonObject = {}, extra: Pick<NewEvent, 'id' | 'metadata' | 'occurred_at' | 'expected_version'> = {}): NewEvent {
  return { entity_id, event_type, payload, ...extra };
}

/** An appended event plus the content the test sent: the test's own model of the log. */
interface Recorded extends AppendedEvent {
  payload: JsonObject;
  metadata: JsonObject | null;
}

async function put(store: EventStore, tenant: string, events: NewEvent[]): Promise<Recorded[]> {
  const result = await store.append(tenant, events);
  expect(result.events).toHaveLength(events.length);
  return result.events.map((e, i) => ({ ...e, payload: structuredClone(events[i].payload), metadata: events[i].metadata ?? null }));
}

/** The append result of a recorded event, as a duplicate re-append must return it. */
function asDuplicate(r: Recorded): AppendedEvent {
  return { id: r.id, entity_id: r.entity_id, event_type: r.event_type, version: r.version, position: r.position, timestamp: r.timestamp, occurred_at: r.occurred_at, duplicate: true };
}

function ids(events: ReadonlyArray<{ id: string }>): string[] {
  return events.map((e) => e.id);
}

function preview(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 300);
  } catch {
    return String(value);
  }
}

/** The typed error `promise` rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>, label: string): Promise<AllSourceError> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    expect(isAllSourceError(err), `${label}: should reject with a typed AllSourceError, got ${String(err)}`).toBe(true);
    return err as AllSourceError;
  }
  throw new Error(`${label}: should have been rejected, but resolved with ${preview(value)}`);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode, label: string = code): Promise<AllSourceError> {
  const err = await rejection(promise, label);
  expect(err.code, `${label}: ${err.message}`).toBe(code);
  return err;
}

/** `invalid`, naming the field exactly (string) or by pattern (where the port leaves the spelling open). */
async function expectInvalid(promise: Promise<unknown>, field: string | RegExp, label: string = String(field)): Promise<AllSourceError> {
  const err = await expectCode(promise, 'invalid', label);
  if (typeof field === 'string') expect(err.field, `${label}: ${err.message}`).toBe(field);
  else expect(err.field ?? '', `${label}: ${err.message}`).toMatch(field);
  return err;
}

/**
 * Pages through a query with `limit`, checking each page's invariants, and returns every event.
 * `between` runs between pages (e.g. to append concurrently).
 */
async function drain(store: EventStore, tenant: string, filter: QueryFilter, limit: number, between?: () => Promise<void>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const result = await store.query(tenant, cursor === undefined ? { ...filter, limit } : { ...filter, limit, cursor });
    expect(result.events.length).toBeLessThanOrEqual(limit);
    expect(result.has_more, 'has_more is true exactly when next_cursor is set').toBe(result.next_cursor !== null);
    out.push(...result.events);
    if (!result.has_more) return out;
    expect(typeof result.next_cursor).toBe('string');
    cursor = result.next_cursor as string;
    if (between !== undefined) await between();
  }
  throw new Error('paging did not terminate');
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7396, written independently of the store's fold. */
function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** The naive fold the store's snapshots must agree with. */
function naiveFold(events: ReadonlyArray<{ event_type: string; payload: JsonObject }>): { state: JsonObject | null; deleted: boolean } {
  let state: JsonObject | null = null;
  let deleted = false;
  for (const e of events) {
    if (e.event_type.endsWith('.deleted')) {
      state = null;
      deleted = true;
    } else {
      state = mergePatch(state ?? {}, e.payload) as JsonObject;
      deleted = false;
    }
  }
  return { state, deleted };
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

function atPath(value: JsonValue, path: string): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const key of path.split('.')) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

const ms = (iso: string): number => Date.parse(iso);
const iso = (t: number): string => new Date(t).toISOString();

/** The query filter semantics, applied to the test's model (the reference the store must match). */
function matches(e: Recorded, f: QueryFilter): boolean {
  if (f.entity_id !== undefined && e.entity_id !== f.entity_id) return false;
  if (f.entity_prefix !== undefined && !e.entity_id.startsWith(f.entity_prefix)) return false;
  if (f.event_type !== undefined && e.event_type !== f.event_type) return false;
  if (f.event_type_prefix !== undefined && !e.event_type.startsWith(f.event_type_prefix)) return false;
  if (f.payload_equals !== undefined) {
    for (const [path, value] of Object.entries(f.payload_equals)) if (!jsonEqual(atPath(e.payload, path), value)) return false;
  }
  if (f.since !== undefined && ms(e.timestamp) < ms(f.since)) return false;
  if (f.until !== undefined && ms(e.timestamp) > ms(f.until)) return false;
  if (f.occurred_since !== undefined && ms(e.occurred_at) < ms(f.occurred_since)) return false;
  if (f.occurred_until !== undefined && ms(e.occurred_at) > ms(f.occurred_until)) return false;
  if (f.as_of !== undefined && ms(e.timestamp) > ms(f.as_of)) return false;
  return true;
}

/** A payload whose JSON text is exactly `bytes` bytes of UTF-8 (`{"s":"…"}` is 8 bytes plus the string). */
function payloadOfBytes(bytes: number): JsonObject {
  return { s: 'x'.repeat(bytes - 8) };
}

// --- the suite ------------------------------------------------------------------------------------

/**
 * Declares the contract suite for one adapter. `factory` returns a fresh, empty store for each
 * test and a cleanup that closes it (it must tolerate a store the test already closed) and removes
 * its files. `options.maxPayloadBytes` tells the suite which payload limit the factory set.
 */
export function eventStoreContract(name: string, factory: () => Promise<ContractStore>, options: ContractOptions = {}): void {
  const maxPayloadBytes = options.maxPayloadBytes ?? LIMITS.defaultMaxPayloadBytes;

  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const made = await factory();
      store = made.store;
      cleanup = made.cleanup;
    });

    afterEach(async () => {
      const done = cleanup;
      cleanup = undefined;
      if (done !== undefined) await done();
    });

    /** Nothing at all is recorded for the tenant (including tombstoned and control events). */
    async function expectEmpty(tenant: string, label: string): Promise<void> {
      const all = await store.query(tenant, { include_deleted: true, limit: 1000 });
      expect(all.events, `${label}: nothing may be written`).toEqual([]);
      const control = await store.query(tenant, { entity_id: CONTROL_ENTITY, include_deleted: true });
      expect(control.events, `${label}: no control event may be written`).toEqual([]);
      const stats = await store.stats(tenant);
      expect(stats.events + stats.tombstoned_events, `${label}: stats`).toBe(0);
    }

    // --- append ------------------------------------------------------------------------------------

    describe('append', () => {
      it('returns id, entity_id, event_type, version, position, timestamp, occurred_at and duplicate per event', async () => {
        const t = newTenant();
        const result = await store.append(t, [
          ev('acct-1', 'acct.opened', { owner: 'ann' }),
          ev('acct-1', 'acct.renamed', { owner: 'bob' }, { metadata: { by: 'admin', trace: [1, 2] } }),
          ev('acct-2', 'acct.opened', {}, { id: 'client-key-1', occurred_at: '2020-01-02T03:04:05Z' }),
          ev('acct-3', 'acct.opened', { n: 1 }, { occurred_at: '2020-01-02T05:04:05.123+02:00' }),
        ]);
        expect(result.dry_run).toBe(false);
        const [a, b, c, d] = result.events;
        expect(result.events.map((e) => [e.entity_id, e.event_type, e.version, e.duplicate])).toEqual([
          ['acct-1', 'acct.opened', 1, false],
          ['acct-1', 'acct.renamed', 2, false],
          ['acct-2', 'acct.opened', 1, false],
          ['acct-3', 'acct.opened', 1, false],
        ]);
        expect(a.position).toBeLessThan(b.position);
        expect(b.position).toBeLessThan(c.position);
        expect(c.position).toBeLessThan(d.position);
        expect(result.last_position).toBe(d.position);
        for (const e of result.events) expect(e.timestamp).toMatch(ISO_MS);
        expect(Math.abs(ms(a.timestamp) - Date.now())).toBeLessThan(60_000);
        expect(a.occurred_at, 'occurred_at defaults to the recorded time').toBe(a.timestamp);
        expect(c.occurred_at, 'a given occurred_at is kept, normalized').toBe('2020-01-02T03:04:05.000Z');
        expect(d.occurred_at, 'offsets are normalized to UTC').toBe('2020-01-02T03:04:05.123Z');
        expect(c.id).toBe('client-key-1');
        for (const e of [a, b, d]) {
          expect(typeof e.id).toBe('string');
          expect(e.id.length).toBeGreaterThan(0);
        }
        expect(new Set(ids(result.events)).size).toBe(4);

        const stored = await store.get(t, b.id);
        expect(stored).toEqual({
          id: b.id,
          tenant_id: t,
          entity_id: 'acct-1',
          event_type: 'acct.renamed',
          payload: { owner: 'bob' },
          metadata: { by: 'admin', trace: [1, 2] },
          timestamp: b.timestamp,
          occurred_at: b.occurred_at,
          version: 2,
          position: b.position,
          hash: expect.stringMatching(HEX64),
        });
        expect(stored.deleted).toBeUndefined();
        expect((await store.get(t, a.id)).metadata, 'metadata defaults to null').toBeNull();
        expect((await store.get(t, 'client-key-1')).occurred_at).toBe('2020-01-02T03:04:05.000Z');
        const nullMeta = await put(store, t, [ev('acct-4', 'acct.opened', {}, { metadata: null })]);
        expect((await store.get(t, nullMeta[0].id)).metadata).toBeNull();
      });

      it('keeps versions gapless per entity, positions strictly increasing, timestamps never decreasing, ids unique', async () => {
        const t = newTenant();
        const other = newTenant();
        const sent: NewEvent[] = [];
        for (let round = 0; round < 6; round++) {
          const batch = Array.from({ length: 8 }, (_, i) => ev(`e-${(round + i) % 3}`, 'thing.changed', { round, i }));
          sent.push(...batch);
          await Promise.all([store.append(t, batch), store.append(other, [ev('e-0', 'noise.made', { round })])]);
          if (round % 2 === 0) await tick();
        }
        const all = await drain(store, t, {}, 1000);
        expect(all).toHaveLength(sent.length);
        const versions = new Map<string, number>();
        for (let i = 0; i < all.length; i++) {
          const e = all[i];
          expect(e.tenant_id).toBe(t);
          expect(e.timestamp).toMatch(ISO_MS);
          expect(e.hash).toMatch(HEX64);
          const expected = (versions.get(e.entity_id) ?? 0) + 1;
          expect(e.version, `version of ${e.entity_id}`).toBe(expected);
          versions.set(e.entity_id, expected);
          if (i > 0) {
            expect(e.position).toBeGreaterThan(all[i - 1].position);
            expect(ms(e.timestamp)).toBeGreaterThanOrEqual(ms(all[i - 1].timestamp));
          }
        }
        expect(new Set(ids(all)).size).toBe(all.length);
        expect(new Set(all.map((e) => e.hash)).size, 'every event has its own chain hash').toBe(all.length);
      });

      it('keeps no reference to the caller input: mutating it after append changes nothing stored', async () => {
        const t = newTenant();
        const payload: JsonObject = { list: [1, 2], nested: { a: 1 } };
        const metadata: JsonObject = { tags: ['x'] };
        const [r] = await put(store, t, [ev('alias-1', 'thing.created', payload, { metadata })]);
        (payload.list as JsonValue[]).push(3);
        (payload.nested as JsonObject).a = 99;
        payload.added = true;
        (metadata.tags as JsonValue[]).push('y');
        const stored = await store.get(t, r.id);
        expect(stored.payload).toEqual({ list: [1, 2], nested: { a: 1 } });
        expect(stored.metadata).toEqual({ tags: ['x'] });
        expect((await store.state(t, 'alias-1')).state).toEqual({ list: [1, 2], nested: { a: 1 } });
        expect((await store.query(t, { payload_equals: { 'nested.a': 1 } })).events).toHaveLength(1);
        expect((await store.verify(t)).ok).toBe(true);
      });

      it('stores exactly what the JSON text says: -0 as 0, one read of each getter', async () => {
        const t = newTenant();
        let reads = 0;
        const payload: JsonObject = { zero: -0, nested: { also: -0 } };
        Object.defineProperty(payload, 'counted', { enumerable: true, get: () => ++reads });
        const [r] = await put(store, t, [ev('alias-0', 'thing.created', payload)]);
        const stored = await store.get(t, r.id);
        expect(JSON.stringify(stored.payload)).toBe('{"zero":0,"nested":{"also":0},"counted":1}');
        expect(Object.is(stored.payload.zero, 0)).toBe(true);
        expect((await store.verify(t)).ok).toBe(true);
      });

      it('results cannot be used to change what is stored (returned objects are frozen or copies)', async () => {
        const t = newTenant();
        const [r] = await put(store, t, [ev('alias-2', 'thing.created', { list: [1, 2], nested: { a: 1 } })]);
        const mutate = (target: () => void): void => {
          try {
            target();
          } catch {
            // A frozen result throws in strict mode: that is one way to pass.
          }
        };
        const got = await store.get(t, r.id);
        mutate(() => ((got.payload as JsonObject).injected = true));
        mutate(() => (((got.payload as JsonObject).nested as JsonObject).a = 42));
        mutate(() => ((got.payload as JsonObject).list as JsonValue[]).push(3));
        const listed = (await store.query(t)).events[0];
        mutate(() => (((listed.payload as JsonObject).nested as JsonObject).a = 43));
        const state = await store.state(t, 'alias-2');
        mutate(() => (((state.state as JsonObject).nested as JsonObject).a = 44));
        mutate(() => ((state.state as JsonObject).list as JsonValue[]).push(4));
        expect((await store.get(t, r.id)).payload).toEqual({ list: [1, 2], nested: { a: 1 } });
        expect((await store.state(t, 'alias-2')).state).toEqual({ list: [1, 2], nested: { a: 1 } });
        expect((await store.verify(t)).ok).toBe(true);
      });

      it('writes a batch atomically: one invalid or conflicting event and nothing of the batch is stored', async () => {
        const t = newTenant();
        await expectInvalid(store.append(t, [ev('a-1', 'thing.created', { ok: 1 }), ev('a-2', 'thing.created', { ok: 2 }), ev('', 'thing.created', {})]), 'events[2].entity_id');
        await expectEmpty(t, 'invalid batch');
        await expectCode(store.append(t, [ev('a-1', 'thing.created', { ok: 1 }), ev('a-2', 'thing.created', { ok: 2 }, { expected_version: 5 })]), 'conflict');
        await expectEmpty(t, 'version conflict batch');

        const [seed] = await put(store, t, [ev('a-9', 'thing.created', { v: 1 }, { id: 'fixed-id' })]);
        await expectCode(store.append(t, [ev('a-1', 'thing.created', { ok: 1 }), ev('a-9', 'thing.created', { v: 2 }, { id: 'fixed-id' })]), 'conflict');
        const after = await store.query(t, { include_deleted: true });
        expect(ids(after.events), 'only the seed event is stored').toEqual([seed.id]);
        expect((await store.stats(t)).events).toBe(1);
        await expectCode(store.state(t, 'a-1'), 'not_found');
        // Failed batches consumed no versions.
        const next = await put(store, t, [ev('a-1', 'thing.created', {}), ev('a-2', 'thing.created', {})]);
        expect(next.map((e) => e.version)).toEqual([1, 1]);
        expect((await put(store, t, [ev('a-9', 'thing.changed', {})]))[0].version).toBe(2);
      });

      it('accepts entity ids, event types and ids of exactly 256 characters', async () => {
        const t = newTenant();
        const long = 'e'.repeat(LIMITS.maxIdLength);
        const [r] = await put(store, t, [ev(long, 't'.repeat(LIMITS.maxIdLength), {}, { id: 'i'.repeat(LIMITS.maxIdLength) })]);
        expect(r.entity_id).toBe(long);
        expect((await store.get(t, 'i'.repeat(LIMITS.maxIdLength))).entity_id).toBe(long);
      });
    });

    // --- idempotency ---------------------------------------------------------------------------------

    describe('idempotency', () => {
      it('re-appending an id with the same content returns the original result as a duplicate and stores nothing', async () => {
        const t = newTenant();
        const original = ev('order-1', 'order.placed', { total: 10, lines: [{ sku: 'a', qty: 1 }] }, { id: 'req-1', metadata: { via: 'api' }, occurred_at: '2021-06-01T00:00:00Z' });
        const [first] = await put(store, t, [original]);
        expect(first.duplicate).toBe(false);
        await tick();
        await put(store, t, [ev('order-1', 'order.paid', { ok: true })]);

        const again = await store.append(t, [structuredClone(original)]);
        expect(again.events).toHaveLength(1);
        expect(again.events[0]).toEqual(asDuplicate(first));
        expect(again.last_position, 'an all-duplicate batch reports last_position 0').toBe(0);

        // Same content spelled differently: key order is not content; occurred_at in another notation is the same instant.
        const reordered = await store.append(t, [
          { occurred_at: '2021-06-01T00:00:00.000+00:00', payload: { lines: [{ qty: 1, sku: 'a' }], total: 10 }, metadata: { via: 'api' }, event_type: 'order.placed', entity_id: 'order-1', id: 'req-1' },
        ]);
        expect(reordered.events[0]).toEqual(asDuplicate(first));
        // occurred_at only counts when the retry gives it; expected_version is not content (a retried conditional append is a duplicate).
        const noOccurred = await store.append(t, [ev('order-1', 'order.placed', { total: 10, lines: [{ sku: 'a', qty: 1 }] }, { id: 'req-1', metadata: { via: 'api' }, expected_version: 0 })]);
        expect(noOccurred.events[0]).toEqual(asDuplicate(first));

        const all = await store.query(t);
        expect(all.events).toHaveLength(2);
        expect((await store.stats(t)).events).toBe(2);
        expect((await store.state(t, 'order-1')).version).toBe(2);
      });

      it('a duplicate inside a mixed batch returns the original while the new events are written', async () => {
        const t = newTenant();
        const [first] = await put(store, t, [ev('doc-1', 'doc.created', { title: 'a' }, { id: 'k-1' })]);
        const mixed = await store.append(t, [ev('doc-1', 'doc.edited', { title: 'b' }), ev('doc-1', 'doc.created', { title: 'a' }, { id: 'k-1' }), ev('doc-1', 'doc.edited', { title: 'c' })]);
        expect(mixed.events.map((e) => [e.duplicate, e.version])).toEqual([
          [false, 2],
          [true, 1],
          [false, 3],
        ]);
        expect(mixed.events[1].position).toBe(first.position);
        expect(mixed.last_position).toBe(mixed.events[2].position);
        expect((await store.query(t)).events.map((e) => e.version)).toEqual([1, 2, 3]);
      });

      it('the same id with different content is a conflict and changes nothing', async () => {
        const t = newTenant();
        const base = { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'ann' }, metadata: { src: 'x' }, occurred_at: '2022-02-02T02:02:02.000Z', id: 'dup-1' };
        const [first] = await put(store, t, [base]);
        const variants: Array<[string, NewEvent]> = [
          ['entity_id', { ...base, entity_id: 'user-2' }],
          ['event_type', { ...base, event_type: 'user.updated' }],
          ['payload', { ...base, payload: { name: 'bob' } }],
          ['payload (extra key)', { ...base, payload: { name: 'ann', extra: null } }],
          ['metadata', { ...base, metadata: { src: 'y' } }],
          ['metadata (absent)', { ...base, metadata: undefined }],
          ['occurred_at', { ...base, occurred_at: '2022-02-02T02:02:03.000Z' }],
        ];
        for (const [label, variant] of variants) {
          const err = await expectCode(store.append(t, [variant]), 'conflict', `different ${label}`);
          expect(err.message.length).toBeGreaterThan(0);
        }
        // A retry that gives occurred_at for an event recorded without one must match the recorded time.
        const [plain] = await put(store, t, [ev('user-3', 'user.created', {}, { id: 'dup-2' })]);
        await expectCode(store.append(t, [ev('user-3', 'user.created', {}, { id: 'dup-2', occurred_at: '2001-01-01T00:00:00Z' })]), 'conflict', 'occurred_at given on retry');
        expect((await store.append(t, [ev('user-3', 'user.created', {}, { id: 'dup-2', occurred_at: plain.timestamp })])).events[0].duplicate).toBe(true);

        const all = await store.query(t);
        expect(ids(all.events)).toEqual([first.id, plain.id]);
        expect((await store.get(t, 'dup-1')).payload).toEqual({ name: 'ann' });
      });

      it('an id repeated inside one batch: same content is one event, different content is a conflict', async () => {
        const t = newTenant();
        const same = await store.append(t, [ev('b-1', 'thing.created', { a: 1 }, { id: 'twice' }), ev('b-1', 'thing.created', { a: 1 }, { id: 'twice' })]);
        expect(same.events[0].duplicate).toBe(false);
        expect(same.events[1].duplicate).toBe(true);
        expect(same.events[1].position).toBe(same.events[0].position);
        expect(same.events[1].version).toBe(1);
        expect((await store.query(t)).events).toHaveLength(1);

        await expectCode(store.append(t, [ev('b-2', 'thing.created', { a: 1 }, { id: 'inner' }), ev('b-2', 'thing.created', { a: 2 }, { id: 'inner' })]), 'conflict');
        expect((await store.query(t)).events).toHaveLength(1);
        await expectCode(store.get(t, 'inner'), 'not_found');
      });

      it('the same client id is independent in two tenants', async () => {
        const a = newTenant();
        const b = newTenant();
        const [ra] = await put(store, a, [ev('x', 'x.made', { who: 'a' }, { id: 'shared-id' })]);
        const [rb] = await put(store, b, [ev('y', 'y.made', { who: 'b' }, { id: 'shared-id' })]);
        expect(rb.duplicate).toBe(false);
        expect(rb.version).toBe(1);
        expect(rb.position).not.toBe(ra.position);
        expect((await store.get(a, 'shared-id')).payload).toEqual({ who: 'a' });
        expect((await store.get(b, 'shared-id')).payload).toEqual({ who: 'b' });
        expect((await store.append(b, [ev('y', 'y.made', { who: 'b' }, { id: 'shared-id' })])).events[0].duplicate).toBe(true);
      });
    });

    // --- optimistic concurrency --------------------------------------------------------------------

    describe('expected_version', () => {
      it('0 requires a new entity; a mismatch is a conflict carrying expected and actual', async () => {
        const t = newTenant();
        const [r] = await put(store, t, [ev('acct', 'acct.opened', {}, { expected_version: 0 })]);
        expect(r.version).toBe(1);
        const again = await expectCode(store.append(t, [ev('acct', 'acct.opened', {}, { expected_version: 0 })]), 'conflict');
        expect(again.details?.expected).toBe(0);
        expect(again.details?.actual).toBe(1);
        const ahead = await expectCode(store.append(t, [ev('acct', 'acct.changed', {}, { expected_version: 7 })]), 'conflict');
        expect(ahead.details).toMatchObject({ expected: 7, actual: 1 });
        const fresh = await expectCode(store.append(t, [ev('nobody', 'acct.changed', {}, { expected_version: 3 })]), 'conflict');
        expect(fresh.details).toMatchObject({ expected: 3, actual: 0 });
        expect((await put(store, t, [ev('acct', 'acct.changed', { ok: true }, { expected_version: 1 })]))[0].version).toBe(2);
        expect((await store.query(t)).events).toHaveLength(2);
      });

      it('in a batch, each event expects the version just before it', async () => {
        const t = newTenant();
        const ok = await put(store, t, [
          ev('a', 'x.v', {}, { expected_version: 0 }),
          ev('b', 'x.v', {}, { expected_version: 0 }),
          ev('a', 'x.v', {}, { expected_version: 1 }),
          ev('a', 'x.v', {}, { expected_version: 2 }),
          ev('b', 'x.v', {}),
          ev('b', 'x.v', {}, { expected_version: 2 }),
        ]);
        expect(ok.map((e) => `${e.entity_id}${e.version}`)).toEqual(['a1', 'b1', 'a2', 'a3', 'b2', 'b3']);
        const err = await expectCode(store.append(t, [ev('c', 'x.v', {}, { expected_version: 0 }), ev('c', 'x.v', {}, { expected_version: 0 })]), 'conflict');
        expect(err.details).toMatchObject({ expected: 0, actual: 1 });
        await expectCode(store.state(t, 'c'), 'not_found');
        expect((await store.query(t)).events).toHaveLength(6);
      });
    });

    // --- dry run -------------------------------------------------------------------------------------

    describe('dry_run', () => {
      it('validates and checks conflicts but writes nothing', async () => {
        const t = newTenant();
        const dry = await store.append(t, [ev('d-1', 'd.created', { a: 1 }), ev('d-1', 'd.changed', { b: 2 }, { expected_version: 1 })], { dry_run: true });
        expect(dry.dry_run).toBe(true);
        expect(dry.events).toHaveLength(2);
        expect(dry.events.map((e) => [e.entity_id, e.event_type, e.duplicate])).toEqual([
          ['d-1', 'd.created', false],
          ['d-1', 'd.changed', false],
        ]);
        expect(dry.last_position, 'a dry run writes no position').toBe(0);
        await expectEmpty(t, 'dry run');

        await expectCode(store.append(t, [ev('d-1', 'd.changed', {}, { expected_version: 4 })], { dry_run: true }), 'conflict');
        await expectInvalid(store.append(t, [ev('d-1', 'd.changed', [] as never)], { dry_run: true }), 'events[0].payload');

        const [real] = await put(store, t, [ev('d-1', 'd.created', { a: 1 }, { id: 'dry-key' })]);
        expect(real.version, 'the dry run consumed no version').toBe(1);
        const dup = await store.append(t, [ev('d-1', 'd.created', { a: 1 }, { id: 'dry-key' })], { dry_run: true });
        expect(dup.events[0].duplicate).toBe(true);
        expect(dup.events[0].position).toBe(real.position);
        await expectCode(store.append(t, [ev('d-1', 'd.created', { a: 2 }, { id: 'dry-key' })], { dry_run: true }), 'conflict');
        expect((await store.query(t)).events).toHaveLength(1);
      });
    });

    // --- validation ----------------------------------------------------------------------------------

    describe('invalid input', () => {
      const good = (): NewEvent => ev('ok-1', 'thing.created', { fine: true });

      it('rejects bad events with the offending field named, writing nothing of the batch', async () => {
        const t = newTenant();
        const cases: Array<[string, unknown, string]> = [
          ['empty entity_id', ev('', 'x.y'), 'events[1].entity_id'],
          ['entity_id of 257 chars', ev('e'.repeat(LIMITS.maxIdLength + 1), 'x.y'), 'events[1].entity_id'],
          ['NUL in entity_id', ev('a\u0000b', 'x.y'), 'events[1].entity_id'],
          ['newline in entity_id', ev('a\nb', 'x.y'), 'events[1].entity_id'],
          ['DEL in entity_id', ev('a\u007fb', 'x.y'), 'events[1].entity_id'],
          ['reserved entity_id', ev(CONTROL_ENTITY, 'x.y'), 'events[1].entity_id'],
          ['$-prefixed entity_id', ev('$mine', 'x.y'), 'events[1].entity_id'],
          ['non-string entity_id', { entity_id: 42, event_type: 'x.y', payload: {} }, 'events[1].entity_id'],
          ['missing entity_id', { event_type: 'x.y', payload: {} }, 'events[1].entity_id'],
          ['empty event_type', ev('e', ''), 'events[1].event_type'],
          ['reserved event_type', ev('e', TOMBSTONE_EVENT), 'events[1].event_type'],
          ['newline in event_type', ev('e', 'x\ny'), 'events[1].event_type'],
          ['event_type of 257 chars', ev('e', 't'.repeat(LIMITS.maxIdLength + 1)), 'events[1].event_type'],
          ['empty id', ev('e', 'x.y', {}, { id: '' }), 'events[1].id'],
          ['$-prefixed id', ev('e', 'x.y', {}, { id: '$id' }), 'events[1].id'],
          ['NUL in id', ev('e', 'x.y', {}, { id: 'a\u0000' }), 'events[1].id'],
          ['tab in id', ev('e', 'x.y', {}, { id: 'a\tb' }), 'events[1].id'],
          ['id of 257 chars', ev('e', 'x.y', {}, { id: 'i'.repeat(LIMITS.maxIdLength + 1) }), 'events[1].id'],
          ['array payload', { entity_id: 'e', event_type: 'x.y', payload: [1, 2] }, 'events[1].payload'],
          ['string payload', { entity_id: 'e', event_type: 'x.y', payload: 'text' }, 'events[1].payload'],
          ['null payload', { entity_id: 'e', event_type: 'x.y', payload: null }, 'events[1].payload'],
          ['number payload', { entity_id: 'e', event_type: 'x.y', payload: 7 }, 'events[1].payload'],
          ['missing payload', { entity_id: 'e', event_type: 'x.y' }, 'events[1].payload'],
          ['string metadata', { entity_id: 'e', event_type: 'x.y', payload: {}, metadata: 'm' }, 'events[1].metadata'],
          ['array metadata', { entity_id: 'e', event_type: 'x.y', payload: {}, metadata: [1] }, 'events[1].metadata'],
          ['occurred_at not a date', ev('e', 'x.y', {}, { occurred_at: 'yesterday' }), 'events[1].occurred_at'],
          ['occurred_at Feb 30', ev('e', 'x.y', {}, { occurred_at: '2024-02-30T00:00:00Z' }), 'events[1].occurred_at'],
          ['occurred_at month 13', ev('e', 'x.y', {}, { occurred_at: '2024-13-01T00:00:00Z' }), 'events[1].occurred_at'],
          ['empty occurred_at', ev('e', 'x.y', {}, { occurred_at: '' }), 'events[1].occurred_at'],
          ['numeric occurred_at', { entity_id: 'e', event_type: 'x.y', payload: {}, occurred_at: 1_700_000_000_000 }, 'events[1].occurred_at'],
          ['negative expected_version', ev('e', 'x.y', {}, { expected_version: -1 }), 'events[1].expected_version'],
          ['fractional expected_version', ev('e', 'x.y', {}, { expected_version: 1.5 }), 'events[1].expected_version'],
          ['string expected_version', { entity_id: 'e', event_type: 'x.y', payload: {}, expected_version: '0' }, 'events[1].expected_version'],
          ['NaN expected_version', ev('e', 'x.y', {}, { expected_version: Number.NaN }), 'events[1].expected_version'],
        ];
        for (const [label, bad, field] of cases) {
          await expectInvalid(store.append(t, [good(), bad as NewEvent]), field, label);
          const after = await store.query(t, { include_deleted: true });
          expect(after.events, `${label}: nothing written`).toEqual([]);
        }
        await expectEmpty(t, 'after every bad batch');
        // The store still works, and nothing consumed a version.
        const [r] = await put(store, t, [good()]);
        expect(r.version).toBe(1);
      });

      it('rejects an empty or non-array batch and a bad tenant', async () => {
        const t = newTenant();
        await expectInvalid(store.append(t, []), 'events', 'empty batch');
        await expectInvalid(store.append(t, {} as never), 'events', 'non-array batch');
        await expectInvalid(store.append('', [good()]), /tenant/, 'empty tenant');
        await expectInvalid(store.append('a\nb', [good()]), /tenant/, 'newline in tenant');
        await expectInvalid(store.query('', {}), /tenant/, 'empty tenant on read');
        await expectEmpty(t, 'bad batches');
        expect((await put(store, t, [good()]))[0].version).toBe(1);
      });

      it(`rejects a payload over the size limit (${maxPayloadBytes} bytes of JSON), counting UTF-8 bytes`, async () => {
        const t = newTenant();
        expect(Buffer.byteLength(JSON.stringify(payloadOfBytes(maxPayloadBytes)))).toBe(maxPayloadBytes);
        await expectInvalid(store.append(t, [good(), ev('big', 'x.y', payloadOfBytes(maxPayloadBytes + 1))]), 'events[1].payload', 'one byte over');
        // Two-byte characters: under the limit in UTF-16 code units, over it in bytes.
        const wide: JsonObject = { s: 'é'.repeat(Math.floor((maxPayloadBytes - 8) / 2) + 1) };
        expect(JSON.stringify(wide).length).toBeLessThan(maxPayloadBytes);
        expect(Buffer.byteLength(JSON.stringify(wide))).toBeGreaterThan(maxPayloadBytes);
        await expectInvalid(store.append(t, [ev('big', 'x.y', wide)]), 'events[0].payload', 'multi-byte over');
        await expectEmpty(t, 'oversized payloads');
        const [r] = await put(store, t, [ev('big', 'x.y', payloadOfBytes(maxPayloadBytes))]);
        expect(r.version, 'a payload of exactly the limit is accepted').toBe(1);
        expect(((await store.get(t, r.id)).payload.s as string).length).toBe(maxPayloadBytes - 8);
      });

      it('rejects bad query filters with the field named', async () => {
        const t = newTenant();
        await put(store, t, [ev('a', 'x.y'), ev('a', 'x.y'), ev('b', 'x.y'), ev('b', 'x.y')]);
        const otherQuery = await store.query(t, { entity_id: 'a', limit: 1 });
        expect(otherQuery.next_cursor).not.toBeNull();
        const cases: Array<[string, unknown, string]> = [
          ['unknown field', { bogus: 1 }, 'filter.bogus'],
          ['limit 0', { limit: 0 }, 'filter.limit'],
          ['limit 1001', { limit: LIMITS.maxPageSize + 1 }, 'filter.limit'],
          ['fractional limit', { limit: 2.5 }, 'filter.limit'],
          ['string limit', { limit: '10' }, 'filter.limit'],
          ['random cursor', { cursor: 'definitely not a cursor!' }, 'filter.cursor'],
          ['base64url of garbage', { cursor: Buffer.from('garbage bytes, not a cursor').toString('base64url') }, 'filter.cursor'],
          ['base64 with padding', { cursor: Buffer.from('garbage').toString('base64') }, 'filter.cursor'],
          ['base64 of foreign JSON', { cursor: Buffer.from(JSON.stringify({ k: 3, q: 'nope' })).toString('base64url') }, 'filter.cursor'],
          ['cursor of another query', { entity_id: 'b', cursor: otherQuery.next_cursor }, 'filter.cursor'],
          ['since not a date', { since: 'yesterday' }, 'filter.since'],
          ['until Feb 30', { until: '2024-02-30T00:00:00Z' }, 'filter.until'],
          ['as_of not a date', { as_of: 'soon' }, 'filter.as_of'],
          ['occurred_since month 13', { occurred_since: '2024-13-01T00:00:00Z' }, 'filter.occurred_since'],
          ['empty occurred_until', { occurred_until: '' }, 'filter.occurred_until'],
          ['bad order', { order: 'sideways' }, 'filter.order'],
        ];
        for (const [label, filter, field] of cases) await expectInvalid(store.query(t, filter as QueryFilter), field, label);
        // Still answering, and the limit bounds are inclusive.
        expect((await store.query(t, { limit: LIMITS.maxPageSize })).events).toHaveLength(4);
        expect((await store.query(t, { limit: 1 })).events).toHaveLength(1);
      });

      it('rejects bad options of the other reads and of tombstones', async () => {
        const t = newTenant();
        await put(store, t, [ev('a', 'x.y')]);
        await expectInvalid(store.state(t, 'a', { as_of: 'not a time' }), /as_of/, 'state as_of');
        await expectInvalid(store.entities(t, { limit: 0 }), /limit/, 'entities limit 0');
        await expectInvalid(store.entities(t, { limit: LIMITS.maxPageSize + 1 }), /limit/, 'entities limit 1001');
        await expectInvalid(store.entities(t, { cursor: 'garbage!!' }), /cursor/, 'entities cursor');
        await expectInvalid(store.entities(t, { bogus: true } as never), /bogus/, 'entities unknown option');
        await expectInvalid(store.eventTypes(t, { limit: 1.5 }), /limit/, 'eventTypes limit');
        await expectInvalid(store.eventTypes(t, { cursor: Buffer.from('junk').toString('base64url') }), /cursor/, 'eventTypes cursor');
        await expectInvalid(store.watch(t, { timeout_ms: -1 }), /timeout_ms/, 'watch timeout -1');
        await expectInvalid(store.watch(t, { timeout_ms: LIMITS.maxWatchTimeoutMs + 1 }), /timeout_ms/, 'watch timeout too long');
        await expectInvalid(store.watch(t, { after: -1, timeout_ms: 0 }), /after/, 'watch after -1');
        await expectInvalid(store.watch(t, { limit: 0, timeout_ms: 0 }), /limit/, 'watch limit 0');
        await expectInvalid(store.tombstone(t, { entity_id: 'a', reason: '' }), /reason/, 'empty reason');
        await expectInvalid(store.tombstone(t, { entity_id: 'a', reason: '   ' }), /reason/, 'blank reason');
        await expectInvalid(store.tombstone(t, { entity_id: 'a' } as never), /reason/, 'missing reason');
        await expectInvalid(store.restore(t, { entity_id: 'a', reason: '' }), /reason/, 'restore without reason');
        await expectInvalid(store.tombstone(t, { entity_id: 'a', since: 'nope', reason: 'r' }), /since/, 'tombstone since');
        expect((await store.query(t)).events).toHaveLength(1);
        expect((await store.query(t, { entity_id: CONTROL_ENTITY })).events).toEqual([]);
        expect((await store.stats(t)).tombstoned_events).toBe(0);
      });
    });

    // --- get -----------------------------------------------------------------------------------------

    describe('get', () => {
      it('returns the event by id, the same as query; unknown ids are not_found', async () => {
        const t = newTenant();
        const r = await put(store, t, [ev('g-1', 'g.made', { a: [1, { b: 2 }] }, { metadata: { m: true } }), ev('g-2', 'g.made', {}, { id: 'mine' })]);
        const listed = (await store.query(t)).events;
        expect(await store.get(t, r[0].id)).toEqual(listed[0]);
        expect(await store.get(t, 'mine')).toEqual(listed[1]);
        await expectCode(store.get(t, 'no-such-id'), 'not_found');
        await expectCode(store.get(t, '0190d6a0-0000-7000-8000-000000000000'), 'not_found', 'unknown UUIDv7-shaped id');
      });
    });

    // --- query ---------------------------------------------------------------------------------------

    describe('query', () => {
      /** A small log over four recorded instants, with payloads, metadata and world times to filter on. */
      async function seed(t: string): Promise<{ model: Recorded[]; times: string[] }> {
        const model: Recorded[] = [];
        const times: string[] = [];
        const batches: NewEvent[][] = [
          [
            ev('user-1', 'user.created', { user: { plan: 'free', seats: 1 }, tags: ['a'] }, { occurred_at: '2020-01-01T00:00:00Z' }),
            ev('user-2', 'user.created', { user: { plan: 'pro', seats: 3 }, tags: ['a', 'b'] }, { occurred_at: '2020-01-02T00:00:00Z' }),
            ev('order-1', 'order.placed', { total: 10, user: { plan: 'pro' } }, { occurred_at: '2020-01-03T00:00:00Z', metadata: { channel: 'web' } }),
          ],
          [
            ev('user-1', 'user.upgraded', { user: { plan: 'pro' } }),
            ev('order-2', 'order.placed', { total: '10' }, { occurred_at: '2020-01-02T12:00:00.500Z' }),
            ev('user-10', 'user.created', { user: { plan: 'pro', seats: 3 }, tags: ['b', 'a'] }),
          ],
          [ev('order-1', 'order.shipped', { carrier: 'ups', n: null }), ev('user-2', 'user.deleted', {})],
          Array.from({ length: 6 }, (_, i) => ev(`misc-${i % 2}`, 'misc.tick', { i, user: { plan: i % 2 === 0 ? 'pro' : 'free', seats: 3 } })),
        ];
        for (const batch of batches) {
          const recorded = await put(store, t, batch);
          model.push(...recorded);
          times.push(recorded[0].timestamp);
          await tick();
        }
        for (let i = 1; i < times.length; i++) expect(ms(times[i]), 'precondition: batches are recorded at distinct instants').toBeGreaterThan(ms(times[i - 1]));
        return { model, times };
      }

      it('filters by entity, type, prefixes, payload paths, recorded and world time, and as_of (alone and combined)', async () => {
        const t = newTenant();
        const { model, times } = await seed(t);
        const [t1, t2, t3, t4] = times;
        const filters: QueryFilter[] = [
          {},
          { entity_id: 'user-1' },
          { entity_id: 'nobody' },
          { entity_prefix: 'user-1' },
          { entity_prefix: 'order-' },
          { event_type: 'order.placed' },
          { event_type_prefix: 'user.' },
          { event_type_prefix: 'user.c' },
          { payload_equals: { 'user.plan': 'pro' } },
          { payload_equals: { user: { plan: 'pro', seats: 3 } } },
          { payload_equals: { user: { seats: 3, plan: 'pro' } } },
          { payload_equals: { user: { plan: 'pro' } } },
          { payload_equals: { tags: ['a', 'b'] } },
          { payload_equals: { 'user.plan': 'pro', 'user.seats': 3 } },
          { payload_equals: { total: 10 } },
          { payload_equals: { total: '10' } },
          { payload_equals: { carrier: 'ups', 'user.plan': 'pro' } },
          { since: t2 },
          { until: t2 },
          { since: t2, until: t2 },
          { since: t2, until: t3 },
          { since: iso(ms(t1) + 1) },
          { until: iso(ms(t2) - 1) },
          { as_of: t2 },
          { as_of: iso(ms(t3) - 1) },
          { as_of: iso(ms(t1) - 1) },
          { as_of: iso(ms(t4) + 60_000) },
          { occurred_since: '2020-01-02T00:00:00Z', occurred_until: '2020-01-02T12:00:00.500Z' },
          { occurred_since: '2020-01-02T00:00:00.001Z' },
          { occurred_until: '2020-12-31T00:00:00Z' },
          { entity_prefix: 'user-', event_type: 'user.created', since: t1, payload_equals: { 'user.seats': 3 } },
          { entity_prefix: 'user-', as_of: t2, event_type_prefix: 'user.' },
          { event_type: 'misc.tick', payload_equals: { 'user.plan': 'free' }, since: t4 },
          { entity_id: 'order-1', event_type: 'order.shipped' },
          { entity_id: 'order-1', occurred_until: '2020-06-01T00:00:00Z' },
        ];
        for (const filter of filters) {
          const expected = ids(model.filter((e) => matches(e, filter)));
          const label = preview(filter);
          const asc = await store.query(t, filter);
          expect(ids(asc.events), `asc ${label}`).toEqual(expected);
          expect(asc.has_more).toBe(false);
          expect(asc.next_cursor).toBeNull();
          const desc = await store.query(t, { ...filter, order: 'desc' });
          expect(ids(desc.events), `desc ${label}`).toEqual([...expected].reverse());
          expect(ids(await drain(store, t, filter, 2)), `paged asc ${label}`).toEqual(expected);
          expect(ids(await drain(store, t, { ...filter, order: 'desc' }, 3)), `paged desc ${label}`).toEqual([...expected].reverse());
        }
        // Events come back whole.
        const [placed] = (await store.query(t, { entity_id: 'order-1', limit: 1 })).events;
        const m = model.find((e) => e.entity_id === 'order-1')!;
        expect(placed).toEqual({
          id: m.id,
          tenant_id: t,
          entity_id: 'order-1',
          event_type: 'order.placed',
          payload: { total: 10, user: { plan: 'pro' } },
          metadata: { channel: 'web' },
          timestamp: m.timestamp,
          occurred_at: '2020-01-03T00:00:00.000Z',
          version: 1,
          position: m.position,
          hash: expect.stringMatching(HEX64),
        });
      });

      it('pages with a default limit of 100 and at most 1000, has_more exact on the last page', async () => {
        const t = newTenant();
        const batch = Array.from({ length: 1001 }, (_, i) => ev(`p-${i % 10}`, 'p.made', { i }));
        const r = await put(store, t, batch);
        const first = await store.query(t);
        expect(first.events).toHaveLength(LIMITS.defaultPageSize);
        expect(first.has_more).toBe(true);
        expect(typeof first.next_cursor).toBe('string');
        const big = await store.query(t, { limit: 1000 });
        expect(big.events).toHaveLength(1000);
        expect(big.has_more).toBe(true);
        const rest = await store.query(t, { limit: 1000, cursor: big.next_cursor! });
        expect(ids(rest.events)).toEqual([r[1000].id]);
        expect(rest.has_more).toBe(false);
        expect(rest.next_cursor).toBeNull();
        // Exactly two full pages: the second one says there is nothing more (no empty third page).
        const exact = await store.query(t, { entity_id: 'p-3', limit: 50 });
        expect(exact.has_more).toBe(true);
        const second = await store.query(t, { entity_id: 'p-3', limit: 50, cursor: exact.next_cursor! });
        expect(second.events).toHaveLength(50);
        expect(second.has_more).toBe(false);
        expect(second.next_cursor).toBeNull();
        expect(ids(await drain(store, t, { order: 'desc' }, 97))).toEqual(ids(r).reverse());
        const empty = await store.query(newTenant());
        expect(empty).toEqual({ events: [], next_cursor: null, has_more: false });
      });

      it('paging returns every event exactly once while appends arrive between pages (asc: new events at the end)', async () => {
        const t = newTenant();
        const initial = await put(store, t, Array.from({ length: 30 }, (_, i) => ev(`c-${i % 4}`, 'c.made', { i })));
        const added: Recorded[] = [];
        const seen = await drain(store, t, {}, 4, async () => {
          added.push(...(await put(store, t, [ev('c-0', 'c.made', { late: added.length }), ev('c-new', 'c.made', {})])));
        });
        expect(added.length).toBeGreaterThan(0);
        expect(ids(seen)).toEqual([...ids(initial), ...ids(added)]);
        // With a filter, only matching late events join.
        const late: Recorded[] = [];
        const filtered = await drain(store, t, { entity_id: 'c-1' }, 3, async () => {
          late.push(...(await put(store, t, [ev('c-1', 'c.made', { late: true }), ev('c-2', 'c.made', { late: true })])));
        });
        const everything = [...initial, ...added, ...late];
        expect(ids(filtered)).toEqual(ids(everything.filter((e) => e.entity_id === 'c-1')));
      });

      it('paging in desc order returns every event older than the first page exactly once while appends arrive', async () => {
        const t = newTenant();
        const initial = await put(store, t, Array.from({ length: 30 }, (_, i) => ev(`c-${i % 4}`, 'c.made', { i })));
        const late: Recorded[] = [];
        const seen = await drain(store, t, { order: 'desc' }, 4, async () => {
          late.push(...(await put(store, t, [ev('c-0', 'c.made', { late: true })])));
        });
        expect(late.length).toBeGreaterThan(0);
        expect(ids(seen), 'exactly the events before the first page, newest first').toEqual(ids(initial).reverse());
        // With a filter: everything c-0 had when paging started, exactly once, and nothing newer.
        const existing = [...initial, ...late].filter((e) => e.entity_id === 'c-0');
        let appended = 0;
        const byEntity = await drain(store, t, { order: 'desc', entity_prefix: 'c-0' }, 2, async () => {
          appended += (await put(store, t, [ev('c-0', 'c.made', { later: true }), ev('c-3', 'c.made', {})])).length;
        });
        expect(appended).toBeGreaterThan(0);
        expect(ids(byEntity)).toEqual(ids(existing).reverse());
      });

      it('paging stays exact with appends in flight during the reads', async () => {
        const t = newTenant();
        const initial = await put(store, t, Array.from({ length: 40 }, (_, i) => ev(`f-${i % 5}`, 'f.made', { i })));
        const inflight: Array<Promise<Recorded[]>> = [];
        const seen = await drain(store, t, {}, 3, async () => {
          inflight.push(put(store, t, [ev('f-0', 'f.made', { late: true }), ev('f-9', 'f.made', { late: true })]));
        });
        const late = (await Promise.all(inflight)).flat();
        const lateIds = new Set(ids(late));
        expect(new Set(ids(seen)).size, 'no event twice').toBe(seen.length);
        for (let i = 1; i < seen.length; i++) expect(seen[i].position).toBeGreaterThan(seen[i - 1].position);
        expect(ids(seen.slice(0, initial.length))).toEqual(ids(initial));
        for (const e of seen.slice(initial.length)) expect(lateIds.has(e.id), `unexpected ${e.id}`).toBe(true);
        // The in-flight events that made it are a prefix of the late ones in position order.
        const lateSorted = [...late].sort((a, b) => a.position - b.position);
        expect(ids(seen.slice(initial.length))).toEqual(ids(lateSorted.slice(0, seen.length - initial.length)));
      });
    });

    // --- state ---------------------------------------------------------------------------------------

    describe('state', () => {
      it('folds payloads by RFC 7396 merge-patch in version order', async () => {
        const t = newTenant();
        const steps: Array<[string, JsonObject, JsonObject | null]> = [
          ['p.set', { name: 'a', profile: { city: 'x', zip: '1' }, tags: ['a', 'b'], n: 1 }, { name: 'a', profile: { city: 'x', zip: '1' }, tags: ['a', 'b'], n: 1 }],
          ['p.set', { profile: { zip: null, country: 'y' }, tags: ['c'], n: 'one' }, { name: 'a', profile: { city: 'x', country: 'y' }, tags: ['c'], n: 'one' }],
          ['p.set', { name: null, missing: null }, { profile: { city: 'x', country: 'y' }, tags: ['c'], n: 'one' }],
          ['p.set', { profile: 5 }, { profile: 5, tags: ['c'], n: 'one' }],
          ['p.set', { profile: { a: { b: null, c: 1 } } }, { profile: { a: { c: 1 } }, tags: ['c'], n: 'one' }],
          ['p.set', { tags: [{ k: null }] }, { profile: { a: { c: 1 } }, tags: [{ k: null }], n: 'one' }],
          ['p.deleted', { ignored: true }, null],
          ['p.set', { fresh: true }, { fresh: true }],
        ];
        const times: string[] = [];
        for (let i = 0; i < steps.length; i++) {
          const [type, payload] = steps[i];
          times.push((await put(store, t, [ev('person', type, payload)]))[0].timestamp);
          await tick();
        }
        for (let i = 0; i < steps.length; i++) {
          const [type, , expected] = steps[i];
          const s = await store.state(t, 'person', { as_of: times[i] });
          expect(s, `after version ${i + 1}`).toEqual({
            entity_id: 'person',
            state: expected,
            version: i + 1,
            last_updated: times[i],
            event_count: i + 1,
            deleted: type.endsWith('.deleted'),
            as_of: times[i],
          });
        }
        const now = await store.state(t, 'person');
        expect(now).toEqual({ entity_id: 'person', state: { fresh: true }, version: 8, last_updated: times[7], event_count: 8, deleted: false, as_of: null });
      });

      it('as_of between writes gives the older state; before the first event or for an unknown entity, not_found', async () => {
        const t = newTenant();
        const [v1] = await put(store, t, [ev('clock', 'c.set', { v: 1 })]);
        await tick();
        const [v2] = await put(store, t, [ev('clock', 'c.set', { v: 2 })]);
        await tick();
        const [v3] = await put(store, t, [ev('clock', 'c.deleted', {})]);
        expect(ms(v2.timestamp)).toBeGreaterThan(ms(v1.timestamp));
        const between = iso(ms(v1.timestamp) + 1);
        expect(ms(between)).toBeLessThan(ms(v2.timestamp));
        expect(await store.state(t, 'clock', { as_of: between })).toMatchObject({ state: { v: 1 }, version: 1, event_count: 1, last_updated: v1.timestamp, as_of: between });
        expect(await store.state(t, 'clock', { as_of: iso(ms(v3.timestamp) - 1) })).toMatchObject({ state: { v: 2 }, version: 2, deleted: false });
        expect(await store.state(t, 'clock')).toMatchObject({ state: null, deleted: true, version: 3, event_count: 3, last_updated: v3.timestamp });
        await expectCode(store.state(t, 'clock', { as_of: iso(ms(v1.timestamp) - 1) }), 'not_found', 'before the first event');
        await expectCode(store.state(t, 'unknown-entity'), 'not_found', 'unknown entity');
        await expectCode(store.state(newTenant(), 'clock'), 'not_found', 'other tenant');
      });

      it('agrees with a naive fold at every as_of for a long entity history (snapshots)', async () => {
        const t = newTenant();
        const payloadFor = (v: number): JsonObject => {
          const p: JsonObject = { v, [`k${v % 11}`]: v % 4 === 0 ? null : v };
          if (v % 5 === 0) p.nested = { [`n${v % 3}`]: v % 2 === 0 ? null : { deep: v, list: [v] } };
          if (v % 7 === 0) p.list = [v, { at: v }];
          if (v % 13 === 0) p.nested = v;
          return p;
        };
        const typeFor = (v: number): string => (v === 120 || v === 233 ? 'big.deleted' : 'big.updated');
        const boundaries = [1, 7, 8, 9, 15, 16, 17, 64, 100, 101, 119, 120, 121, 150, 199, 232, 233, 234, 256, 257, 300];
        const history: Array<{ event_type: string; payload: JsonObject }> = [];
        const at: Array<{ version: number; timestamp: string }> = [];
        let previous = 0;
        for (const boundary of boundaries) {
          const batch: NewEvent[] = [];
          for (let v = previous + 1; v <= boundary; v++) {
            batch.push(ev('big-1', typeFor(v), payloadFor(v), v === previous + 1 ? { expected_version: previous } : {}));
            history.push({ event_type: typeFor(v), payload: payloadFor(v) });
          }
          const r = await put(store, t, batch);
          expect(r[r.length - 1].version).toBe(boundary);
          at.push({ version: boundary, timestamp: r[0].timestamp });
          previous = boundary;
          await tick();
        }
        for (let i = 1; i < at.length; i++) expect(ms(at[i].timestamp)).toBeGreaterThan(ms(at[i - 1].timestamp));
        const check = async (asOf: string | undefined, version: number, timestamp: string): Promise<void> => {
          const expected = naiveFold(history.slice(0, version));
          const s = await store.state(t, 'big-1', asOf === undefined ? {} : { as_of: asOf });
          expect(s, `as_of ${asOf} (version ${version})`).toEqual({
            entity_id: 'big-1',
            state: expected.state,
            version,
            last_updated: timestamp,
            event_count: version,
            deleted: expected.deleted,
            as_of: asOf ?? null,
          });
        };
        // Newest first, then oldest first, so a fold cache cannot serve one from the other by accident.
        for (const { version, timestamp } of [...at].reverse()) await check(timestamp, version, timestamp);
        for (let i = 0; i < at.length; i++) {
          const mid = iso(ms(at[i].timestamp) + 2);
          if (i + 1 < at.length) expect(ms(mid)).toBeLessThan(ms(at[i + 1].timestamp));
          await check(mid, at[i].version, at[i].timestamp);
        }
        await check(undefined, 300, at[at.length - 1].timestamp);
        expect((await store.state(t, 'big-1', { as_of: at[11].timestamp })).deleted).toBe(true);
      });
    });

    // --- entities, event types, stats --------------------------------------------------------------

    describe('entities, eventTypes and stats', () => {
      it('lists entities sorted by id with summaries, a prefix filter and cursor paging', async () => {
        const t = newTenant();
        const names = ['b-2', 'a-10', 'B-1', 'a-2', 'a-1', 'order-1', 'a-1x', 'z', 'b-1', 'a-3', 'order-2', 'a-20', 'c'];
        const model: Recorded[] = [];
        for (let round = 0; round < 3; round++) {
          const batch = names.filter((_, i) => (i + round) % 2 === 0 || round === 0).map((n) => ev(n, round === 2 && n.startsWith('order') ? 'order.deleted' : `${n[0]}.touched`, { round }));
          model.push(...(await put(store, t, batch)));
          await tick();
        }
        const expected = [...names].sort().map((n) => {
          const mine = model.filter((e) => e.entity_id === n);
          const last = mine[mine.length - 1];
          return {
            entity_id: n,
            event_count: mine.length,
            version: mine.length,
            first_event_at: mine[0].timestamp,
            last_event_at: last.timestamp,
            last_event_id: last.id,
            last_event_type: last.event_type,
            deleted: last.event_type.endsWith('.deleted'),
          };
        });
        expect(expected.some((e) => e.deleted)).toBe(true);
        expect(expected.map((e) => e.entity_id).slice(0, 3), 'sorted by code unit: uppercase first').toEqual(['B-1', 'a-1', 'a-10']);
        const all = await store.entities(t);
        expect(all).toEqual({ entities: expected, next_cursor: null, has_more: false });

        const paged: unknown[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 20; page++) {
          const r = await store.entities(t, cursor === undefined ? { limit: 4 } : { limit: 4, cursor });
          expect(r.has_more).toBe(r.next_cursor !== null);
          expect(r.entities.length).toBeLessThanOrEqual(4);
          paged.push(...r.entities);
          if (!r.has_more) break;
          cursor = r.next_cursor!;
        }
        expect(paged).toEqual(expected);

        const prefixed = expected.filter((e) => e.entity_id.startsWith('a-'));
        expect((await store.entities(t, { prefix: 'a-' })).entities).toEqual(prefixed);
        const p1 = await store.entities(t, { prefix: 'a-', limit: 3 });
        expect(p1.entities).toEqual(prefixed.slice(0, 3));
        expect(p1.has_more).toBe(true);
        const p2 = await store.entities(t, { prefix: 'a-', limit: 3, cursor: p1.next_cursor! });
        expect(p2.entities).toEqual(prefixed.slice(3, 6));
        expect(p2.has_more, 'exactly two full pages').toBe(false);
        expect(p2.next_cursor).toBeNull();
        expect((await store.entities(t, { prefix: 'nothing-' })).entities).toEqual([]);
      });

      it('counts events per type with a prefix filter and paging', async () => {
        const t = newTenant();
        const r1 = await put(store, t, [ev('e1', 'a.x'), ev('e2', 'a.x'), ev('e1', 'b.z'), ev('e3', 'a.y')]);
        await tick();
        const r2 = await put(store, t, [ev('e2', 'a.x'), ev('e3', 'b.z'), ev('e4', 'ab.w')]);
        const all = await store.eventTypes(t);
        expect(all).toEqual({
          event_types: [
            { event_type: 'a.x', count: 3, last_event_at: r2[0].timestamp },
            { event_type: 'a.y', count: 1, last_event_at: r1[3].timestamp },
            { event_type: 'ab.w', count: 1, last_event_at: r2[2].timestamp },
            { event_type: 'b.z', count: 2, last_event_at: r2[1].timestamp },
          ],
          next_cursor: null,
          has_more: false,
        });
        expect((await store.eventTypes(t, { prefix: 'a.' })).event_types.map((x) => x.event_type)).toEqual(['a.x', 'a.y']);
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const r = await store.eventTypes(t, cursor === undefined ? { limit: 1 } : { limit: 1, cursor });
          expect(r.event_types.length).toBeLessThanOrEqual(1);
          seen.push(...r.event_types.map((x) => x.event_type));
          if (!r.has_more) break;
          cursor = r.next_cursor!;
        }
        expect(seen).toEqual(['a.x', 'a.y', 'ab.w', 'b.z']);
      });

      it('reports stats per tenant', async () => {
        const t = newTenant();
        const other = newTenant();
        expect(await store.stats(t)).toEqual({
          tenant_id: t,
          events: 0,
          tombstoned_events: 0,
          entities: 0,
          event_types: 0,
          first_event_at: null,
          last_event_at: null,
          last_position: 0,
        });
        const r1 = await put(store, t, [ev('s-1', 's.a'), ev('s-2', 's.b')]);
        await tick();
        const r2 = await put(store, t, [ev('s-1', 's.a')]);
        await put(store, other, [ev('s-1', 's.a'), ev('s-9', 's.z')]);
        expect(await store.stats(t)).toEqual({
          tenant_id: t,
          events: 3,
          tombstoned_events: 0,
          entities: 2,
          event_types: 2,
          first_event_at: r1[0].timestamp,
          last_event_at: r2[0].timestamp,
          last_position: r2[0].position,
        });
      });
    });

    // --- watch ---------------------------------------------------------------------------------------

    describe('watch', () => {
      it('returns events after a position at once, oldest first, and continues without gaps', async () => {
        const t = newTenant();
        const r = await put(store, t, [ev('w-1', 'w.a'), ev('w-2', 'w.b'), ev('w-1', 'w.b'), ev('w-3', 'w.a'), ev('w-1', 'w.a')]);
        const started = Date.now();
        const all = await store.watch(t, { after: 0, timeout_ms: 500 });
        expect(Date.now() - started).toBeLessThan(400);
        expect(all.timed_out).toBe(false);
        expect(ids(all.events)).toEqual(ids(r));
        expect(all.last_position).toBe(r[4].position);
        expect(ids((await store.watch(t, { after: r[1].position, timeout_ms: 0 })).events)).toEqual(ids(r.slice(2)));

        const firstTwo = await store.watch(t, { after: 0, limit: 2, timeout_ms: 0 });
        expect(ids(firstTwo.events)).toEqual(ids(r.slice(0, 2)));
        const rest = await store.watch(t, { after: firstTwo.last_position, timeout_ms: 0 });
        expect(ids(rest.events), 'continuing from last_position skips nothing').toEqual(ids(r.slice(2)));

        expect(ids((await store.watch(t, { after: 0, timeout_ms: 0, entity_id: 'w-1' })).events)).toEqual([r[0].id, r[2].id, r[4].id]);
        expect(ids((await store.watch(t, { after: 0, timeout_ms: 0, event_type: 'w.b' })).events)).toEqual([r[1].id, r[2].id]);

        const none = await store.watch(t, { after: r[4].position, timeout_ms: 0 });
        expect(none.events).toEqual([]);
        expect(none.timed_out).toBe(true);
        expect(none.last_position, 'never backwards').toBeGreaterThanOrEqual(r[4].position);
      });

      it('filters by event type prefix, and includes control events only when asked', async () => {
        const t = newTenant();
        const r = await put(store, t, [ev('p-1', 'prime.node.created'), ev('u-1', 'user.signed_up'), ev('p-2', 'prime.edge.created'), ev('u-1', 'user.renamed')]);
        const primeOnly = await store.watch(t, { after: 0, timeout_ms: 0, event_type_prefix: 'prime.' });
        expect(ids(primeOnly.events)).toEqual([r[0].id, r[2].id]);
        expect(primeOnly.last_position).toBe(r[2].position);
        // Nothing of the prefix after the last prime event, yet the log moved: one answer says both.
        const moved = await store.watch(t, { after: r[2].position, timeout_ms: 0, event_type_prefix: 'prime.' });
        expect(moved.events).toEqual([]);
        expect(moved.last_position, 'the tenant end, past the last match').toBe(r[3].position);
        expect(ids((await store.watch(t, { after: 0, timeout_ms: 0, event_type_prefix: 'user.', entity_id: 'u-1' })).events)).toEqual([r[1].id, r[3].id]);
        expect((await store.watch(t, { after: 0, timeout_ms: 0, event_type_prefix: 'nothing.' })).events).toEqual([]);

        const done = await store.tombstone(t, { ids: [r[1].id], reason: 'test' });
        const after = await put(store, t, [ev('p-3', 'prime.node.created')]);
        const withControl = await store.watch(t, { after: r[3].position, timeout_ms: 0, event_type_prefix: 'prime.', include_control: true });
        expect(withControl.events.map((e) => [e.entity_id, e.event_type, e.position])).toEqual([
          [CONTROL_ENTITY, TOMBSTONE_EVENT, done.position],
          ['p-3', 'prime.node.created', after[0].position],
        ]);
        expect(ids((await store.watch(t, { after: r[3].position, timeout_ms: 0, event_type_prefix: 'prime.' })).events), 'no control events unless asked').toEqual([after[0].id]);
        expect(ids((await store.watch(t, { after: r[3].position, timeout_ms: 0, include_control: true })).events)).toHaveLength(2);
        await expectInvalid(store.watch(t, { timeout_ms: 0, include_control: 'yes' as never }), /include_control/, 'include_control not a boolean');
        await expectInvalid(store.watch(t, { timeout_ms: 0, event_type_prefix: 7 as never }), /event_type_prefix/, 'prefix not a string');
      });

      it('wakes a prefix watch only for a matching event', async () => {
        const t = newTenant();
        const [first] = await put(store, t, [ev('x', 'other.thing')]);
        const waiting = store.watch(t, { after: first.position, timeout_ms: 1500, event_type_prefix: 'prime.' });
        await tick();
        await put(store, t, [ev('x', 'other.thing')]);
        await tick();
        const [match] = await put(store, t, [ev('p', 'prime.node.created')]);
        const woke = await waiting;
        expect(ids(woke.events)).toEqual([match.id]);
        expect(woke.timed_out).toBe(false);
      });

      it('waits up to timeout_ms when nothing is new, then reports timed_out', async () => {
        const t = newTenant();
        const [r] = await put(store, t, [ev('w', 'w.a')]);
        const started = Date.now();
        const w = await store.watch(t, { after: r.position, timeout_ms: 150 });
        const elapsed = Date.now() - started;
        expect(w).toMatchObject({ events: [], timed_out: true });
        expect(w.last_position).toBeGreaterThanOrEqual(r.position);
        expect(elapsed).toBeGreaterThanOrEqual(130);
        expect(elapsed).toBeLessThan(1000);
        const empty = await store.watch(newTenant(), { timeout_ms: 0 });
        expect(empty).toMatchObject({ events: [], timed_out: true });
      });

      it('an append during the wait wakes it promptly; without after, only new events are returned', async () => {
        const t = newTenant();
        const [old] = await put(store, t, [ev('w', 'w.a', { old: true })]);
        const started = Date.now();
        const waiting = store.watch(t, { timeout_ms: 500 });
        await sleep(40);
        const [fresh] = await put(store, t, [ev('w', 'w.a', { fresh: true })]);
        const w = await waiting;
        const elapsed = Date.now() - started;
        expect(w.timed_out).toBe(false);
        expect(ids(w.events)).toEqual([fresh.id]);
        expect(w.last_position).toBe(fresh.position);
        expect(w.last_position).toBeGreaterThan(old.position);
        expect(elapsed, 'woken by the append, well before the timeout').toBeLessThan(400);

        const waiting2 = store.watch(t, { after: w.last_position, timeout_ms: 500 });
        await sleep(20);
        const [third] = await put(store, t, [ev('w2', 'w.b')]);
        expect(ids((await waiting2).events)).toEqual([third.id]);
      });

      it("another tenant's appends neither wake nor show up", async () => {
        const a = newTenant();
        const b = newTenant();
        const [ra] = await put(store, a, [ev('w', 'w.a')]);
        const started = Date.now();
        const waiting = store.watch(a, { after: ra.position, timeout_ms: 300 });
        await sleep(30);
        const rb = await put(store, b, [ev('w', 'w.a'), ev('x', 'x.a')]);
        const w = await waiting;
        expect(w.events).toEqual([]);
        expect(w.timed_out).toBe(true);
        expect(Date.now() - started).toBeGreaterThanOrEqual(280);
        expect(w.last_position).toBeGreaterThanOrEqual(ra.position);
        const fromStart = await store.watch(a, { after: 0, timeout_ms: 0 });
        expect(ids(fromStart.events)).toEqual([ra.id]);
        expect(ids((await store.watch(b, { after: 0, timeout_ms: 0 })).events)).toEqual(ids(rb));
      });
    });

    // --- tombstones ----------------------------------------------------------------------------------

    describe('tombstone and restore', () => {
      it('hides tombstoned events from every read, shows them with include_deleted, and restores them', async () => {
        const t = newTenant();
        const [e1, e2, e3, other] = await put(store, t, [ev('acct-1', 'acct.opened', { a: 1 }), ev('acct-1', 'acct.changed', { b: 2 }), ev('acct-1', 'acct.changed', { c: 3 }), ev('acct-2', 'acct.opened', {})]);
        const beforeTombstone = e3.timestamp;
        await tick();

        const dry = await store.tombstone(t, { ids: [e2.id], reason: 'check first', dry_run: true });
        expect(dry).toEqual({ count: 1, event_ids: [e2.id], event_ids_truncated: false, position: null, dry_run: true });
        expect((await store.get(t, e2.id)).id).toBe(e2.id);
        expect((await store.stats(t)).events).toBe(4);
        expect((await store.query(t, { entity_id: CONTROL_ENTITY })).events).toEqual([]);
        const verifyBefore = await store.verify(t);

        const done = await store.tombstone(t, { ids: [e2.id], reason: 'gdpr request 7' });
        expect(done).toMatchObject({ count: 1, event_ids: [e2.id], event_ids_truncated: false, dry_run: false });
        expect(typeof done.position).toBe('number');
        expect(done.position!).toBeGreaterThan(other.position);

        expect(ids((await store.query(t)).events)).toEqual([e1.id, e3.id, other.id]);
        expect(ids((await store.query(t, { entity_id: 'acct-1', event_type: 'acct.changed' })).events)).toEqual([e3.id]);
        await expectCode(store.get(t, e2.id), 'not_found', 'get of a tombstoned event');
        const shown = await store.get(t, e2.id, { include_deleted: true });
        expect(shown).toMatchObject({ id: e2.id, deleted: true, payload: { b: 2 } });
        const withDeleted = (await store.query(t, { include_deleted: true })).events;
        expect(ids(withDeleted)).toEqual([e1.id, e2.id, e3.id, other.id]);
        expect(withDeleted.map((e) => e.deleted)).toEqual([undefined, true, undefined, undefined]);
        expect(await store.state(t, 'acct-1')).toMatchObject({ state: { a: 1, c: 3 }, version: 3, event_count: 2 });
        expect((await store.entities(t, { prefix: 'acct-1' })).entities[0]).toMatchObject({ entity_id: 'acct-1', event_count: 2 });
        expect((await store.eventTypes(t)).event_types).toEqual([
          { event_type: 'acct.changed', count: 1, last_event_at: e3.timestamp },
          { event_type: 'acct.opened', count: 2, last_event_at: other.timestamp },
        ]);
        expect(await store.stats(t)).toMatchObject({ events: 3, tombstoned_events: 1, entities: 2, event_types: 2 });
        expect(ids((await store.watch(t, { after: 0, timeout_ms: 0 })).events), 'watch skips tombstoned events').not.toContain(e2.id);

        // The tombstone is an event in the log, with its reason; reads as of an earlier time still see the event.
        const control = (await store.query(t, { entity_id: CONTROL_ENTITY })).events;
        expect(control).toHaveLength(1);
        expect(control[0]).toMatchObject({ entity_id: CONTROL_ENTITY, event_type: TOMBSTONE_EVENT, position: done.position, tenant_id: t });
        expect(control[0].payload.reason).toBe('gdpr request 7');
        const verifyAfter = await store.verify(t);
        expect(verifyAfter).toMatchObject({ ok: true, checked: 5, first_broken_position: null });
        expect(verifyAfter.head_hash).not.toBe(verifyBefore.head_hash);
        expect(verifyAfter.head_hash).toBe(control[0].hash);

        const past = await store.query(t, { as_of: beforeTombstone, include_deleted: true });
        expect(ids(past.events)).toEqual([e1.id, e2.id, e3.id, other.id]);
        expect(past.events[1].deleted, 'not deleted as of then').toBeUndefined();
        expect(ids((await store.query(t, { as_of: beforeTombstone })).events)).toContain(e2.id);
        expect(await store.state(t, 'acct-1', { as_of: beforeTombstone })).toMatchObject({ state: { a: 1, b: 2, c: 3 }, version: 3, event_count: 3 });

        // Tombstoning an already tombstoned event counts 0 for it.
        const again = await store.tombstone(t, { ids: [e2.id, e3.id], reason: 'again' });
        expect(again).toMatchObject({ count: 1, event_ids: [e3.id] });
        const noop = await store.tombstone(t, { ids: [e2.id], reason: 'noop' });
        expect(noop).toMatchObject({ count: 0, event_ids: [], position: null, dry_run: false });
        expect((await store.query(t, { entity_id: CONTROL_ENTITY })).events, 'nothing matched: no control event').toHaveLength(2);
        expect(await store.state(t, 'acct-1')).toMatchObject({ state: { a: 1 }, event_count: 1 });
        // Tombstoned events keep their versions: the next one continues after them.
        const [next] = await put(store, t, [ev('acct-1', 'acct.changed', { d: 4 }, { expected_version: 3 })]);
        expect(next.version).toBe(4);
        const afterTombstones = next.timestamp;
        await tick();

        const dryRestore = await store.restore(t, { ids: [e2.id, e3.id], reason: 'peek', dry_run: true });
        expect(dryRestore).toMatchObject({ count: 2, position: null, dry_run: true });
        expect((await store.stats(t)).tombstoned_events).toBe(2);
        const restored = await store.restore(t, { ids: [e2.id, e3.id, e1.id], reason: 'mistake' });
        expect(restored.count).toBe(2);
        expect([...restored.event_ids].sort()).toEqual([e2.id, e3.id].sort());
        expect(ids((await store.query(t)).events)).toEqual([e1.id, e2.id, e3.id, other.id, next.id]);
        expect((await store.get(t, e2.id)).deleted).toBeUndefined();
        expect(await store.state(t, 'acct-1')).toMatchObject({ state: { a: 1, b: 2, c: 3, d: 4 }, version: 4, event_count: 4 });
        expect(await store.stats(t)).toMatchObject({ events: 5, tombstoned_events: 0 });
        expect((await store.restore(t, { ids: [e2.id], reason: 'twice' })).count).toBe(0);
        const controls = (await store.query(t, { entity_id: CONTROL_ENTITY })).events;
        expect(controls.map((e) => [e.event_type, e.payload.reason])).toEqual([
          [TOMBSTONE_EVENT, 'gdpr request 7'],
          [TOMBSTONE_EVENT, 'again'],
          [RESTORE_EVENT, 'mistake'],
        ]);
        // Time travel across tombstone and restore.
        expect(ids((await store.query(t, { as_of: afterTombstones })).events)).toEqual([e1.id, other.id, next.id]);
        expect(await store.state(t, 'acct-1', { as_of: afterTombstones })).toMatchObject({ state: { a: 1, d: 4 }, event_count: 2 });
        expect((await store.verify(t)).checked).toBe(5 + 3);
      });

      it('selects by entity_id, event_type and recorded time (intersection), and control events stay out of listings', async () => {
        const t = newTenant();
        const [x1] = await put(store, t, [ev('x', 'x.a', { n: 1 })]);
        await tick();
        const [x2, y1] = await put(store, t, [ev('x', 'x.b', { n: 2 }), ev('y', 'y.t', { n: 1 })]);
        await tick();
        const [x3, y2] = await put(store, t, [ev('x', 'x.a', { n: 3 }), ev('y', 'y.t', { n: 2 })]);
        expect(ms(x2.timestamp)).toBeGreaterThan(ms(x1.timestamp));
        expect(ms(x3.timestamp)).toBeGreaterThan(ms(x2.timestamp));

        const window = await store.tombstone(t, { entity_id: 'x', since: x2.timestamp, until: x2.timestamp, reason: 'window' });
        expect(window).toMatchObject({ count: 1, event_ids: [x2.id] });
        const typed = await store.tombstone(t, { entity_id: 'x', event_type: 'x.a', since: x3.timestamp, reason: 'typed' });
        expect(typed).toMatchObject({ count: 1, event_ids: [x3.id] });
        expect(await store.state(t, 'x')).toMatchObject({ state: { n: 1 }, event_count: 1, version: 1 });

        const byType = await store.tombstone(t, { event_type: 'y.t', reason: 'drop y' });
        expect(byType.count).toBe(2);
        expect([...byType.event_ids].sort()).toEqual([y1.id, y2.id].sort());
        await expectCode(store.state(t, 'y'), 'not_found', 'entity with every event tombstoned');
        expect((await store.entities(t)).entities.map((e) => e.entity_id), 'no control entity, no fully tombstoned entity').toEqual(['x']);
        expect((await store.eventTypes(t)).event_types.map((e) => e.event_type)).toEqual(['x.a']);
        expect(await store.stats(t)).toMatchObject({ events: 1, tombstoned_events: 4, entities: 1, event_types: 1 });
        expect(ids((await store.query(t)).events), 'an unfiltered query shows no control events').toEqual([x1.id]);
        expect(ids((await store.query(t, { entity_prefix: '$' })).events)).toEqual([]);
        expect((await store.query(t, { entity_id: CONTROL_ENTITY })).events.map((e) => e.payload.reason)).toEqual(['window', 'typed', 'drop y']);

        const restoreAll = await store.restore(t, { entity_id: 'y', reason: 'bring y back' });
        expect(restoreAll.count).toBe(2);
        expect(await store.state(t, 'y')).toMatchObject({ state: { n: 2 }, version: 2, event_count: 2 });
        expect((await store.tombstone(t, { entity_id: 'nobody', reason: 'nothing' })).count).toBe(0);
      });

      it('tombstoning a .deleted event un-deletes the entity state', async () => {
        const t = newTenant();
        const [, del] = await put(store, t, [ev('doc', 'doc.created', { title: 't' }), ev('doc', 'doc.deleted', {})]);
        expect(await store.state(t, 'doc')).toMatchObject({ state: null, deleted: true });
        expect((await store.entities(t)).entities[0]).toMatchObject({ entity_id: 'doc', deleted: true });
        await store.tombstone(t, { ids: [del.id], reason: 'undo delete' });
        expect(await store.state(t, 'doc')).toMatchObject({ state: { title: 't' }, deleted: false, event_count: 1 });
        expect((await store.entities(t)).entities[0]).toMatchObject({ entity_id: 'doc', deleted: false, event_count: 1, last_event_type: 'doc.created' });
      });
    });

    // --- tenant isolation ----------------------------------------------------------------------------

    describe('tenant isolation', () => {
      it("no read of tenant B ever sees tenant A's events", async () => {
        const a = newTenant();
        const b = newTenant();
        const ra = await put(store, a, [ev('shared', 'doc.created', { owner: 'a' }, { id: 'client-1' }), ev('only-a', 'a.secret', { s: 1 }), ev('shared', 'doc.updated', { x: 1 })]);
        const [rb] = await put(store, b, [ev('shared', 'doc.created', { owner: 'b' }, { id: 'client-1' })]);
        expect(rb).toMatchObject({ duplicate: false, version: 1 });
        const verifyB = await store.verify(b);
        await put(store, a, [ev('shared', 'doc.updated', { y: 2 }), ev('only-a', 'a.secret', { s: 2 })]);

        const qb = await store.query(b, { limit: 1000, include_deleted: true });
        expect(ids(qb.events)).toEqual([rb.id]);
        expect(qb.events[0].tenant_id).toBe(b);
        for (const filter of [{ entity_id: 'only-a' }, { event_type: 'a.secret' }, { entity_prefix: 'only' }, { payload_equals: { owner: 'a' } }, { entity_id: CONTROL_ENTITY }] as QueryFilter[]) {
          expect((await store.query(b, filter)).events, preview(filter)).toEqual([]);
        }
        await expectCode(store.get(b, ra[1].id), 'not_found', "get of A's generated id from B");
        await expectCode(store.get(b, ra[1].id, { include_deleted: true }), 'not_found', 'with include_deleted');
        expect((await store.get(b, 'client-1')).payload).toEqual({ owner: 'b' });
        expect((await store.get(a, 'client-1')).payload).toEqual({ owner: 'a' });
        await expectCode(store.state(b, 'only-a'), 'not_found', "state of A's entity from B");
        expect(await store.state(b, 'shared')).toMatchObject({ state: { owner: 'b' }, version: 1, event_count: 1 });
        expect(await store.state(a, 'shared')).toMatchObject({ state: { owner: 'a', x: 1, y: 2 }, version: 3 });
        expect((await store.entities(b)).entities).toEqual([
          { entity_id: 'shared', event_count: 1, version: 1, first_event_at: rb.timestamp, last_event_at: rb.timestamp, last_event_id: rb.id, last_event_type: 'doc.created', deleted: false },
        ]);
        expect((await store.eventTypes(b)).event_types).toEqual([{ event_type: 'doc.created', count: 1, last_event_at: rb.timestamp }]);
        expect(await store.stats(b)).toMatchObject({ tenant_id: b, events: 1, entities: 1, event_types: 1, last_position: rb.position, first_event_at: rb.timestamp, last_event_at: rb.timestamp });
        expect(ids((await store.watch(b, { after: 0, timeout_ms: 0 })).events)).toEqual([rb.id]);
        const vb = await store.verify(b);
        expect(vb).toMatchObject({ ok: true, checked: 1, first_broken_position: null });
        expect(vb.head_hash, "A's appends do not move B's chain").toBe(verifyB.head_hash);
        expect(vb.head_hash).toBe((await store.get(b, rb.id)).hash);
        expect((await store.verify(a)).checked).toBe(5);

        // Tombstones and restores only ever touch the caller's events.
        expect((await store.tombstone(b, { ids: [ra[1].id, ra[2].id], reason: 'cross-tenant' })).count).toBe(0);
        expect((await store.get(a, ra[1].id)).id).toBe(ra[1].id);
        expect((await store.tombstone(b, { entity_id: 'shared', reason: "b's own" })).count).toBe(1);
        expect(await store.state(a, 'shared')).toMatchObject({ version: 3, event_count: 3 });
        expect((await store.tombstone(a, { ids: [ra[1].id], reason: "a's own" })).count).toBe(1);
        expect((await store.restore(b, { ids: [ra[1].id], reason: 'cross-tenant restore' })).count).toBe(0);
        await expectCode(store.get(a, ra[1].id), 'not_found', 'still tombstoned in A');
        expect(await store.stats(a)).toMatchObject({ events: 4, tombstoned_events: 1 });
        expect(await store.stats(b)).toMatchObject({ events: 0, tombstoned_events: 1 });
        expect((await store.query(b, { entity_id: CONTROL_ENTITY })).events.map((e) => e.payload.reason)).toEqual(["b's own"]);
        expect((await store.query(a, { entity_id: CONTROL_ENTITY })).events.map((e) => e.payload.reason)).toEqual(["a's own"]);
      });

      it('a tenant that never wrote reads as empty', async () => {
        const a = newTenant();
        const fresh = newTenant();
        const [ra] = await put(store, a, [ev('e', 'e.t', { x: 1 }, { id: 'known' })]);
        expect(await store.query(fresh)).toEqual({ events: [], next_cursor: null, has_more: false });
        expect(await store.entities(fresh)).toEqual({ entities: [], next_cursor: null, has_more: false });
        expect(await store.eventTypes(fresh)).toEqual({ event_types: [], next_cursor: null, has_more: false });
        expect(await store.stats(fresh)).toMatchObject({ events: 0, entities: 0, last_position: 0, first_event_at: null });
        expect(await store.verify(fresh)).toMatchObject({ ok: true, checked: 0, head_hash: null, first_broken_position: null });
        await expectCode(store.get(fresh, ra.id), 'not_found');
        await expectCode(store.get(fresh, 'known'), 'not_found');
        await expectCode(store.state(fresh, 'e'), 'not_found');
        expect(await store.watch(fresh, { after: 0, timeout_ms: 0 })).toMatchObject({ events: [], timed_out: true });
      });
    });

    // --- verify, health, close -----------------------------------------------------------------------

    describe('verify, health and close', () => {
      it('verify checks every event of the tenant and reports the head of its chain', async () => {
        const t = newTenant();
        const r = await put(store, t, Array.from({ length: 12 }, (_, i) => ev(`v-${i % 3}`, 'v.t', { i })));
        const v = await store.verify(t);
        expect(v).toMatchObject({ ok: true, checked: 12, first_broken_position: null });
        expect(typeof v.message).toBe('string');
        expect(v.head_hash).toMatch(HEX64);
        expect(v.head_hash).toBe((await store.get(t, r[11].id)).hash);
        const [more] = await put(store, t, [ev('v-0', 'v.t', {})]);
        const v2 = await store.verify(t);
        expect(v2.checked).toBe(13);
        expect(v2.head_hash).toBe((await store.get(t, more.id)).hash);
      });

      it('health reports ok and a kind', async () => {
        const h = await store.health();
        expect(h.ok).toBe(true);
        expect(typeof h.kind).toBe('string');
        expect(h.kind.length).toBeGreaterThan(0);
      });

      it('after close every call rejects, and close is idempotent', async () => {
        const t = newTenant();
        const [r] = await put(store, t, [ev('c', 'c.t')]);
        await store.close();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['append', () => store.append(t, [ev('c', 'c.t')])],
          ['query', () => store.query(t)],
          ['get', () => store.get(t, r.id)],
          ['state', () => store.state(t, 'c')],
          ['entities', () => store.entities(t)],
          ['eventTypes', () => store.eventTypes(t)],
          ['stats', () => store.stats(t)],
          ['watch', () => store.watch(t, { after: 0, timeout_ms: 0 })],
          ['tombstone', () => store.tombstone(t, { entity_id: 'c', reason: 'r' })],
          ['verify', () => store.verify(t)],
          ['health', () => store.health()],
        ];
        for (const [label, call] of calls) await rejection(call(), `${label} after close`);
        await store.close();
      });
    });

    // --- concurrency ---------------------------------------------------------------------------------

    describe('concurrency', () => {
      it('200 concurrent appends to one entity all succeed with versions 1..200 exactly once', async () => {
        const t = newTenant();
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.append(t, [ev('hot', 'hot.hit', { i })])));
        const versions = results.map((r) => r.events[0].version).sort((x, y) => x - y);
        expect(versions).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(new Set(results.map((r) => r.events[0].position)).size).toBe(200);
        const stored = await drain(store, t, { entity_id: 'hot' }, 1000);
        expect(stored.map((e) => e.version)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(stored.map((e) => e.payload.i).sort((x, y) => (x as number) - (y as number))).toEqual(Array.from({ length: 200 }, (_, i) => i));
        // Version order is position order, and recorded time follows it.
        for (let i = 1; i < stored.length; i++) {
          expect(stored[i].position).toBeGreaterThan(stored[i - 1].position);
          expect(ms(stored[i].timestamp)).toBeGreaterThanOrEqual(ms(stored[i - 1].timestamp));
        }
        expect(await store.state(t, 'hot')).toMatchObject({ version: 200, event_count: 200 });
        expect((await store.verify(t)).checked).toBe(200);
      });

      it('concurrent appends with the same expected_version: exactly one wins, the others conflict', async () => {
        const t = newTenant();
        for (const expected of [0, 1]) {
          const settled = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.append(t, [ev('race', 'race.run', { i, expected }, { expected_version: expected })])));
          const won = settled.filter((s) => s.status === 'fulfilled');
          const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(9);
          for (const l of lost) {
            expect((l.reason as AllSourceError).code).toBe('conflict');
            expect((l.reason as AllSourceError).details).toMatchObject({ expected, actual: expected + 1 });
          }
        }
        expect((await store.query(t, { entity_id: 'race' })).events.map((e) => e.version)).toEqual([1, 2]);
      });

      it('concurrent retries of one client id write it once', async () => {
        const t = newTenant();
        const results = await Promise.all(Array.from({ length: 10 }, () => store.append(t, [ev('once', 'once.t', { a: 1 }, { id: 'retry-me' })])));
        const originals = results.filter((r) => !r.events[0].duplicate);
        expect(originals).toHaveLength(1);
        expect(new Set(results.map((r) => r.events[0].position)).size).toBe(1);
        expect((await store.query(t)).events).toHaveLength(1);
      });

      it('concurrent appends in several tenants keep each tenant gapless and isolated', async () => {
        const tenants = [newTenant(), newTenant(), newTenant()];
        await Promise.all(tenants.flatMap((t, k) => Array.from({ length: 30 }, (_, i) => store.append(t, [ev('same', 'm.t', { k, i }), ev(`own-${k}`, 'm.t', { i })]))));
        for (const [k, t] of tenants.entries()) {
          const all = await drain(store, t, {}, 1000);
          expect(all).toHaveLength(60);
          expect(all.every((e) => e.tenant_id === t && (e.payload.k === undefined || e.payload.k === k))).toBe(true);
          expect(all.filter((e) => e.entity_id === 'same').map((e) => e.version)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
          expect((await store.verify(t)).checked).toBe(60);
        }
      });
    });
    // --- search --------------------------------------------------------------------------------------

    describe('search', () => {
      it('ranks events by BM25 relevance over payload words, case-insensitively', async () => {
        const t = newTenant();
        await put(store, t, [
          ev('n-1', 'note.added', { text: 'Coffee with Ada about the Paris launch' }),
          ev('n-2', 'note.added', { text: 'paris paris PARIS', tags: ['travel'] }),
          ev('n-3', 'note.added', { text: 'Grocery list: milk, eggs' }),
          ev('n-4', 'note.added', { nested: { deep: ['launch checklist'] }, count: 42 }),
        ]);
        const paris = await store.search(t, { query: 'Paris' });
        expect(paris.hits.map((h) => h.event.entity_id)).toEqual(['n-2', 'n-1']);
        expect(paris.hits[0].score).toBeGreaterThan(paris.hits[1].score);
        expect((await store.search(t, { query: 'launch' })).hits.map((h) => h.event.entity_id).sort()).toEqual(['n-1', 'n-4']);
        expect((await store.search(t, { query: '42' })).hits.map((h) => h.event.entity_id)).toEqual(['n-4']);
        expect((await store.search(t, { query: 'nothing-like-this' })).hits).toEqual([]);
        expect((await store.search(t, { query: 'paris', entity_id: 'n-1' })).hits).toHaveLength(1);
        expect((await store.search(t, { query: 'paris', event_type: 'other' })).hits).toHaveLength(0);
      });

      it('pages by cursor without repeats, keeps the first page\'s cut, honours as_of, tombstones and tenants', async () => {
        const t = newTenant();
        await put(store, t, Array.from({ length: 25 }, (_, i) => ev(`s-${i}`, 'doc.added', { text: `alpha ${'beta '.repeat(i % 5)}` })));
        const seen: string[] = [];
        let cursor: string | undefined;
        let writes = 0;
        do {
          const page = await store.search(t, { query: 'alpha beta', limit: 4, cursor });
          seen.push(...page.hits.map((h) => h.event.id));
          cursor = page.next_cursor ?? undefined;
          await put(store, t, [ev('late', 'doc.added', { text: `alpha beta beta beta ${writes++}` })]);
        } while (cursor);
        expect(seen).toHaveLength(25);
        expect(new Set(seen).size).toBe(25);
        await sleep(5);
        const before = new Date().toISOString();
        await sleep(5);
        await put(store, t, [ev('newer', 'doc.added', { text: 'gamma' })]);
        expect((await store.search(t, { query: 'gamma', as_of: before })).hits).toHaveLength(0);
        expect((await store.search(t, { query: 'gamma' })).hits).toHaveLength(1);
        const target = (await store.search(t, { query: 'gamma' })).hits[0].event;
        await store.tombstone(t, { ids: [target.id], reason: 'test' });
        expect((await store.search(t, { query: 'gamma' })).hits).toHaveLength(0);
        expect((await store.search(t, { query: 'gamma', include_deleted: true })).hits[0].event.deleted).toBe(true);
        expect((await store.search(newTenant(), { query: 'alpha' })).hits).toEqual([]);
        await expectInvalid(store.search(t, { query: '' }), 'options.query');
        await expectInvalid(store.search(t, { query: 'x', limit: 0 }), 'options.limit');
        await expectInvalid(store.search(t, { query: 'x', cursor: 'bogus!' }), 'options.cursor');
        await expectInvalid(store.search(t, { query: 'x', bogus: 1 } as never), 'options.bogus');
      });
    });
  });
}
