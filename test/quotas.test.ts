// Daily tool-call quotas: the Core's fold (Quotas) over a real EmbeddedCore, two of them racing on
// one store (the expected_version guard keeps the total within the limit), day rollover, bad input
// that names its field and writes nothing, the admin REST routes through a real Core server, and
// the MCP edge's quota gate (chunked leases from a fake authority shared by two gates).

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreAdminClient } from '../src/core/http/index.js';
import { ADMIN_TENANT, Keyring } from '../src/core/http/keys.js';
import { createQuotaGate, leaseChunk } from '../src/core/http/quotaGate.js';
import { Quotas, type LeaseResult } from '../src/core/http/quotas.js';
import { openEmbeddedCore, type EventStore } from '../src/index.js';
import { startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';

const NOON = Date.parse('2026-12-04T12:00:00.000Z');
const LATE = Date.parse('2026-12-04T23:00:00.000Z');
const MIDNIGHT = '2026-12-05T00:00:00.000Z';

/** A clock tests move by hand. */
function clock(start: number): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}

describe('Quotas (the Core fold over an EmbeddedCore)', () => {
  let dataDir: string;
  let store: EventStore;
  let keyring: Keyring;
  const quotas = (now?: () => number): Quotas => new Quotas({ store, tenantExists: (t) => keyring.hasTenant(t), now });
  const adminPosition = async (): Promise<number> => (await store.stats(ADMIN_TENANT)).last_position;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'allsource-quotas-'));
    store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
    keyring = new Keyring({ store, secret: randomBytes(32) });
    await keyring.createTenant('acme');
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every tenant is unlimited by default, and leasing for it appends nothing', async () => {
    const q = quotas(() => NOON);
    const before = await adminPosition();
    for (let i = 0; i < 20; i++) expect(await q.lease('acme', 500)).toEqual({ tenant: 'acme', day: '2026-12-04', daily_tool_calls: null, granted: 500, leased_today: 0, resets_at: MIDNIGHT });
    // A tenant the keyring never created leases the same way (the one-box edge with --local).
    expect((await q.lease('elsewhere', 3)).granted).toBe(3);
    expect(await q.getQuota('acme')).toEqual({ tenant: 'acme', daily_tool_calls: null, day: '2026-12-04', leased_today: 0, remaining_today: null, resets_at: MIDNIGHT });
    // Setting the value a tenant already has records nothing either.
    await q.setQuota('acme', null);
    expect(await adminPosition()).toBe(before);
  });

  it('never leases past the limit, even with two Core processes racing over one store', async () => {
    // Each Core process folds on its own; b's appends are watched for the conflicts the guard raises.
    let conflicts = 0;
    const watched = new Proxy(store, {
      get: (target, name) =>
        name === 'append'
          ? (...args: Parameters<EventStore['append']>) => target.append(...args).catch((err: { code?: string }) => ((conflicts += err.code === 'conflict' ? 1 : 0), Promise.reject(err)))
          : (target[name as keyof EventStore] as (...a: unknown[]) => unknown).bind(target),
    });
    const a = quotas(() => NOON);
    const b = new Quotas({ store: watched, now: () => NOON });
    expect(await a.setQuota('acme', 100)).toMatchObject({ daily_tool_calls: 100, leased_today: 0, remaining_today: 100 });
    const asks = Array.from({ length: 80 }, (_, i) => ({ by: i % 2 === 0 ? a : b, calls: 1 + (i % 7) }));
    const settled = await Promise.allSettled(asks.map(({ by, calls }) => by.lease('acme', calls)));
    const granted = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.granted] : []));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [(s.reason as { code?: string }).code] : []));
    // A lease that loses a race folds the winner's and asks again (10 tries, with random pauses).
    expect(failures).toEqual([]);
    expect(conflicts, 'the two folds did race').toBeGreaterThan(0);
    const total = granted.reduce((sum, n) => sum + n, 0);
    expect(total).toBe(100); // 80 asks of 1-7 calls want far more than 100
    // What the log recorded is exactly what was granted, as any fresh fold reads it.
    expect((await quotas(() => NOON).getQuota('acme')).leased_today).toBe(total);
    expect((await store.query(ADMIN_TENANT, { event_type: 'quota.leased', limit: 1000 })).events).toHaveLength(granted.filter((n) => n > 0).length);
    expect((await b.lease('acme', 5)).granted).toBe(0);
  });

  it('grants what is left, then nothing (appending nothing), and starts again at UTC midnight', async () => {
    const time = clock(LATE);
    const q = quotas(time.now);
    await q.setQuota('acme', 10);
    expect(await q.lease('acme', 7)).toMatchObject({ granted: 7, leased_today: 7, daily_tool_calls: 10, day: '2026-12-04', resets_at: MIDNIGHT });
    expect(await q.lease('acme', 7)).toMatchObject({ granted: 3, leased_today: 10 });
    const full = await adminPosition();
    expect(await q.lease('acme', 1)).toMatchObject({ granted: 0, leased_today: 10 });
    expect(await adminPosition()).toBe(full);
    expect(await q.getQuota('acme')).toMatchObject({ leased_today: 10, remaining_today: 0 });

    time.set(Date.parse(MIDNIGHT) + 1);
    expect(await q.getQuota('acme')).toEqual({ tenant: 'acme', daily_tool_calls: 10, day: '2026-12-05', leased_today: 0, remaining_today: 10, resets_at: '2026-12-06T00:00:00.000Z' });
    expect(await q.lease('acme', 4)).toMatchObject({ granted: 4, leased_today: 4, day: '2026-12-05' });
    // A Core that starts today folds only today's leases, and keeps the quota.
    expect(await quotas(time.now).getQuota('acme')).toMatchObject({ daily_tool_calls: 10, leased_today: 4 });
    // Lowering the quota under today's usage leaves nothing, never a negative.
    expect(await q.setQuota('acme', 2)).toMatchObject({ daily_tool_calls: 2, leased_today: 4, remaining_today: 0 });
    expect((await q.lease('acme', 1)).granted).toBe(0);
    expect(await q.setQuota('acme', 0)).toMatchObject({ remaining_today: 0 });
    expect(await q.setQuota('acme', null)).toMatchObject({ daily_tool_calls: null, remaining_today: null });
    expect((await q.lease('acme', 9)).granted).toBe(9);
  });

  it('refuses bad input naming the field, and records nothing', async () => {
    const q = quotas(() => NOON);
    const before = await adminPosition();
    const refusals: Array<[string, () => Promise<unknown>, string, string]> = [
      ['negative quota', () => q.setQuota('acme', -1), 'invalid', 'daily_tool_calls'],
      ['fractional quota', () => q.setQuota('acme', 1.5), 'invalid', 'daily_tool_calls'],
      ['quota as text', () => q.setQuota('acme', '5'), 'invalid', 'daily_tool_calls'],
      ['huge quota', () => q.setQuota('acme', 1e13), 'invalid', 'daily_tool_calls'],
      ['missing quota', () => q.setQuota('acme', undefined), 'invalid', 'daily_tool_calls'],
      ['unknown tenant', () => q.setQuota('nobody', 5), 'not_found', 'tenant'],
      ['quota of an unknown tenant', () => q.getQuota('nobody'), 'not_found', 'tenant'],
      ['the admin tenant', () => q.setQuota(ADMIN_TENANT, 5), 'invalid', 'tenant'],
      ['empty tenant', () => q.lease('', 1), 'invalid', 'tenant'],
      ['zero calls', () => q.lease('acme', 0), 'invalid', 'calls'],
      ['too many calls', () => q.lease('acme', 100_001), 'invalid', 'calls'],
      ['fractional calls', () => q.lease('acme', 2.5), 'invalid', 'calls'],
    ];
    for (const [label, call, code, field] of refusals) await expect(call(), label).rejects.toMatchObject({ code, field });
    expect(await adminPosition()).toBe(before);
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
async function http(url: string, init: { method?: string; key?: string; body?: unknown } = {}): Promise<{ status: number; json: Record<string, any> }> {
  const headers: Record<string, string> = {};
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('quota routes of a real Core server', () => {
  let core: TestCore;
  let admin: CoreAdminClient;
  let inProcess: () => Quotas;
  beforeEach(async () => {
    // `extend` is how the one-box `serve --data` reaches the Core's Quotas in-process.
    core = await startTestCore({ server: { extend: (_app, c) => void (inProcess = c.quotas) } });
    admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
  });
  afterEach(async () => {
    await admin.close();
    await core.cleanup();
  });

  it('sets, shows and leases through the admin client; in-process leases share the count', async () => {
    await admin.createTenant('acme');
    expect(await admin.getQuota('acme')).toMatchObject({ tenant: 'acme', daily_tool_calls: null, leased_today: 0, remaining_today: null });
    expect((await admin.leaseQuota('acme', 20)).granted).toBe(20);
    expect(await admin.setQuota('acme', 50)).toMatchObject({ daily_tool_calls: 50, leased_today: 0, remaining_today: 50 });
    expect(await admin.leaseQuota('acme', 20)).toMatchObject({ tenant: 'acme', daily_tool_calls: 50, granted: 20, leased_today: 20 });
    expect(await inProcess().lease('acme', 10)).toMatchObject({ granted: 10, leased_today: 30 });
    expect((await admin.leaseQuota('acme', 40)).granted).toBe(20);
    expect((await admin.leaseQuota('acme', 1)).granted).toBe(0);
    const shown = await admin.getQuota('acme');
    expect(shown).toMatchObject({ daily_tool_calls: 50, leased_today: 50, remaining_today: 0 });
    expect(Date.parse(shown.resets_at) - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(shown.resets_at).toMatch(/T00:00:00\.000Z$/);
  });

  it('admin key only; bad bodies are 400 naming the field and change nothing', async () => {
    await admin.createTenant('acme');
    const key = (await admin.createKey({ tenant: 'acme' })).key;
    const url = `${core.server.url}/api/v1/admin/tenants/acme/quota`;
    for (const [method, path, body] of [['GET', url, undefined], ['PUT', url, { daily_tool_calls: 5 }], ['POST', `${url}/lease`, { calls: 1 }]] as const) {
      expect((await http(path, { method, key, body })).status, `${method} with a tenant key`).toBe(404);
      expect((await http(path, { method, body })).status, `${method} without a key`).toBe(401);
    }
    const bad: Array<[string, string, unknown, number, string]> = [
      ['PUT', url, { daily_tool_calls: -1 }, 400, 'daily_tool_calls'],
      ['PUT', url, { daily_tool_calls: 'many' }, 400, 'daily_tool_calls'],
      ['PUT', url, { daily_tool_calls: 2.5 }, 400, 'daily_tool_calls'],
      // Sent types are not coerced: "" is not null (unlimited), false is not 0, "7" is not 7.
      ['PUT', url, { daily_tool_calls: '' }, 400, 'daily_tool_calls'],
      ['PUT', url, { daily_tool_calls: false }, 400, 'daily_tool_calls'],
      ['PUT', url, { daily_tool_calls: '7' }, 400, 'daily_tool_calls'],
      ['POST', `${url}/lease`, { calls: true }, 400, 'calls'],
      ['POST', `${url}/lease`, { calls: null }, 400, 'calls'],
      ['PUT', url, {}, 400, 'daily_tool_calls'],
      ['PUT', url, { daily_tool_calls: 5, per: 'day' }, 400, 'per'],
      ['POST', `${url}/lease`, { calls: 0 }, 400, 'calls'],
      ['POST', `${url}/lease`, { calls: 100_001 }, 400, 'calls'],
      ['PUT', `${core.server.url}/api/v1/admin/tenants/nobody/quota`, { daily_tool_calls: 5 }, 404, 'tenant'],
      ['GET', `${core.server.url}/api/v1/admin/tenants/${ADMIN_TENANT}/quota`, undefined, 404, 'tenant'],
    ];
    for (const [method, path, body, status, field] of bad) {
      const res = await http(path, { method, key: TEST_ADMIN_KEY, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.field, JSON.stringify(body)).toBe(field);
    }
    expect(await admin.getQuota('acme')).toMatchObject({ daily_tool_calls: null, leased_today: 0 });
  });
});

/** An in-memory Core quota for one tenant, with the same rule as Quotas.lease, counting leases. */
function fakeAuthority(time: { now: () => number }, limit: number | null) {
  const state = { limit, day: '', leased: 0, asked: [] as number[] };
  const lease = async (tenant: string, calls: number): Promise<LeaseResult> => {
    await new Promise((resolve) => setImmediate(resolve)); // a round trip: concurrent takes really overlap
    const now = time.now();
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== state.day) Object.assign(state, { day, leased: 0 });
    state.asked.push(calls);
    const granted = state.limit === null ? calls : Math.min(calls, Math.max(0, state.limit - state.leased));
    if (state.limit !== null) state.leased += granted;
    return { tenant, day, daily_tool_calls: state.limit, granted, leased_today: state.leased, resets_at: new Date((Math.floor(now / 86_400_000) + 1) * 86_400_000).toISOString() };
  };
  return { state, lease };
}

describe('quota gate (the MCP edge)', () => {
  it('sizes leases by what is left: 1 first, a sixteenth of the rest, 1 to 1000', () => {
    expect([undefined, 0, 15, 16, 1600, 16_000, 10_000_000].map(leaseChunk)).toEqual([1, 1, 1, 1, 100, 1000, 1000]);
  });

  it('two gates sharing one authority serve exactly the limit, then refuse until midnight', async () => {
    const time = clock(LATE);
    const core = fakeAuthority(time, 1000);
    const gates = [createQuotaGate({ lease: core.lease, now: time.now }), createQuotaGate({ lease: core.lease, now: time.now })];
    let served = 0;
    const refused = [false, false];
    while (!refused[0] || !refused[1]) {
      // Bursts of concurrent calls on both gates, as two serve instances would see them.
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => gates[i % 2].take('acme').then((r) => ({ gate: i % 2, r }))));
      for (const { gate, r } of burst) {
        if (r.ok) served++;
        else {
          refused[gate] = true;
          expect(r).toEqual({ ok: false, retryAfterSeconds: 3600, limit: 1000 });
        }
      }
    }
    expect(served).toBe(1000);
    expect(core.state.leased).toBe(1000);
    // Chunked: far fewer leases than calls, getting small near the limit.
    expect(core.state.asked[0]).toBe(1);
    expect(core.state.asked.length).toBeLessThan(250);
    expect(core.state.asked.slice(-3)).toEqual([1, 1, 1]);
    // A refusal is remembered: more calls within the TTL do not ask the Core.
    const asked = core.state.asked.length;
    for (let i = 0; i < 50; i++) expect((await gates[i % 2].take('acme')).ok).toBe(false);
    expect(core.state.asked.length).toBe(asked);

    // The admin raises the quota: it holds within the TTL (5 s).
    core.state.limit = 1010;
    time.advance(5001);
    expect(await gates[0].take('acme')).toEqual({ ok: true });
    // A new UTC day: a fresh count.
    time.set(Date.parse(MIDNIGHT) + 1000);
    let tomorrow = 0;
    for (let i = 0; i < 30; i++) if ((await gates[i % 2].take('acme')).ok) tomorrow++;
    expect(tomorrow).toBe(30);
    expect(core.state).toMatchObject({ day: '2026-12-05' });
  });

  it('concurrent takes of one tenant share one lease in flight; a lease failure reaches every waiter, then leases again', async () => {
    const time = clock(NOON);
    const core = fakeAuthority(time, 100);
    let fail = true;
    const gate = createQuotaGate({ lease: (t, n) => (fail ? Promise.reject(Object.assign(new Error('down'), { code: 'unavailable' })) : core.lease(t, n)), now: time.now });
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => gate.take('acme')));
    expect(failed.every((s) => s.status === 'rejected')).toBe(true);
    fail = false;
    const taken = await Promise.all(Array.from({ length: 10 }, () => gate.take('acme')));
    expect(taken.every((r) => r.ok)).toBe(true);
    // One lease at a time: 1 first (its answer says 99 are left), then a sixteenth of what is left.
    expect(core.state.asked).toEqual([1, 6, 5]);
  });

  it('remembers "unlimited" for the TTL without leasing per call; a quota set meanwhile holds after it', async () => {
    const time = clock(NOON);
    const core = fakeAuthority(time, null);
    const gate = createQuotaGate({ lease: core.lease, now: time.now, unlimitedTtlMs: 5000 });
    for (let i = 0; i < 200; i++) expect((await gate.take('acme')).ok).toBe(true);
    expect(core.state.asked).toHaveLength(1);
    core.state.limit = 3;
    time.advance(4999);
    expect((await gate.take('acme')).ok).toBe(true);
    expect(core.state.asked).toHaveLength(1);
    time.advance(2);
    const after = await Promise.all(Array.from({ length: 5 }, () => gate.take('acme')));
    expect(after.filter((r) => r.ok)).toHaveLength(3);
    expect(after.find((r) => !r.ok)).toEqual({ ok: false, retryAfterSeconds: 12 * 3600 - 5, limit: 3 });
  });

  it("drops yesterday's allowance at midnight", async () => {
    const time = clock(LATE);
    const core = fakeAuthority(time, 10_000);
    const gate = createQuotaGate({ lease: core.lease, now: time.now });
    expect((await gate.take('acme')).ok).toBe(true); // leases 1
    expect((await gate.take('acme')).ok).toBe(true); // leases 624 (a sixteenth of 9,999), keeps 623
    time.set(Date.parse(MIDNIGHT));
    expect((await gate.take('acme')).ok).toBe(true);
    expect(core.state.asked).toEqual([1, 624, 1]);
    expect(core.state).toMatchObject({ day: '2026-12-05', leased: 1 });
  });
});
