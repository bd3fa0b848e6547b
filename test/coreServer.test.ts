// The Core server's edge, against a real server on 127.0.0.1:0 through HttpCore and plain HTTP
// (undici): bearer keys (missing, malformed, unknown, revoked, read-only), tenant scoping on every
// route (another tenant's data is "not found"), admin routes, errors with statuses and request
// ids, body limits, 503 while the store opens and during shutdown, rate limits, metrics without
// tenant labels, logs without keys or payloads, the OpenAPI document, and a restart of the Core
// in the middle of a run with no acknowledged write lost.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreAdminClient, openHttpCore, type HttpCore } from '../src/core/http/index.js';
import { ROUTES } from '../src/core/http/schemas.js';
import { startCoreServer } from '../src/core/http/server.js';
import { openEmbeddedCore, type EventStore } from '../src/index.js';
import { startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function http(url: string, init: { method?: string; key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  }
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers, body });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json: json as Json };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

describe('Core server', () => {
  let core: TestCore;
  let admin: CoreAdminClient;
  const clients: HttpCore[] = [];
  const client = async (key?: string): Promise<HttpCore> => {
    const c = await openHttpCore({ url: core.server.url, key, retryForMs: 500 });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    core = await startTestCore();
    admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await admin.close();
    await core.cleanup();
  });

  it('refuses requests without a valid key, with 401 and WWW-Authenticate', async () => {
    const url = `${core.server.url}/api/v1/tenants/acme/stats`;
    for (const key of [undefined, 'nope', 'as_live_000000000000_' + 'x'.repeat(43), `${TEST_ADMIN_KEY}x`]) {
      const res = await http(url, { key });
      expect(res.status, String(key)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json.error.code).toBe('unauthorized');
    }
    const malformed = await http(url, { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    await expectCode((await client()).stats('acme'), 'unauthorized');
    await expectCode((await client('as_live_bad')).append('acme', [{ entity_id: 'e', event_type: 't', payload: {} }]), 'unauthorized');
  });

  it('scopes a tenant key to its tenant: another tenant is not found on every route, never forbidden', async () => {
    await admin.createTenant('alpha');
    await admin.createTenant('beta');
    const alphaKey = (await admin.createKey({ tenant: 'alpha' })).key;
    const betaKey = (await admin.createKey({ tenant: 'beta' })).key;
    const alpha = await client(alphaKey);
    const [written] = (await alpha.append('alpha', [{ entity_id: 'secret', event_type: 'doc.created', payload: { text: 'alpha only' } }])).events;

    const beta = await client(betaKey);
    const asBeta: Array<[string, () => Promise<unknown>]> = [
      ['append', () => beta.append('alpha', [{ entity_id: 'x', event_type: 't', payload: {} }])],
      ['query', () => beta.query('alpha')],
      ['get', () => beta.get('alpha', written.id)],
      ['state', () => beta.state('alpha', 'secret')],
      ['search', () => beta.search('alpha', { query: 'alpha' })],
      ['entities', () => beta.entities('alpha')],
      ['eventTypes', () => beta.eventTypes('alpha')],
      ['stats', () => beta.stats('alpha')],
      ['watch', () => beta.watch('alpha', { after: 0, timeout_ms: 0 })],
      ['tombstone', () => beta.tombstone('alpha', { entity_id: 'secret', reason: 'x' })],
      ['restore', () => beta.restore('alpha', { entity_id: 'secret', reason: 'x' })],
      ['verify', () => beta.verify('alpha')],
      ['a tenant that does not exist', () => beta.stats('gamma')],
      ['the admin tenant', () => beta.query('allsource.admin')],
    ];
    for (const [label, call] of asBeta) {
      await expect(call(), label).rejects.toMatchObject({ code: 'not_found' });
    }
    // Nothing beta tried changed alpha.
    expect((await alpha.stats('alpha')).events).toBe(1);
    expect((await alpha.query('alpha')).events.map((e) => e.id)).toEqual([written.id]);
    // Beta's own tenant works, and never shows alpha's data.
    await beta.append('beta', [{ entity_id: 'b', event_type: 't', payload: {} }]);
    expect((await beta.query('beta')).events.map((e) => e.entity_id)).toEqual(['b']);
    // Admin routes are not there for a tenant key.
    for (const [method, path] of [['GET', '/api/v1/admin/tenants'], ['GET', '/api/v1/admin/keys'], ['POST', '/api/v1/admin/tenants']]) {
      const res = await http(`${core.server.url}${path}`, { method, key: betaKey, body: method === 'POST' ? { tenant: 'z' } : undefined });
      expect(res.status, path).toBe(404);
    }
    // Even the admin key cannot read the admin tenant through the data routes.
    expect((await http(`${core.server.url}/api/v1/tenants/allsource.admin/events`, { key: TEST_ADMIN_KEY })).status).toBe(404);
  });

  it('revocation takes effect on the next request; a read-only key reads but gets 403 on writes', async () => {
    await admin.createTenant('acme');
    const rw = await admin.createKey({ tenant: 'acme', label: 'ci' });
    const ro = await admin.createKey({ tenant: 'acme', read_only: true });
    expect(rw.key).toMatch(/^as_live_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const writer = await client(rw.key);
    const reader = await client(ro.key);
    await writer.append('acme', [{ entity_id: 'e', event_type: 't', payload: { n: 1 } }]);
    expect((await reader.state('acme', 'e')).state).toEqual({ n: 1 });
    for (const write of [
      () => reader.append('acme', [{ entity_id: 'e', event_type: 't', payload: {} }]),
      () => reader.tombstone('acme', { entity_id: 'e', reason: 'x' }),
      () => reader.restore('acme', { entity_id: 'e', reason: 'x' }),
    ]) {
      await expectCode(write(), 'forbidden');
    }
    const direct = await http(`${core.server.url}/api/v1/tenants/acme/events`, { method: 'POST', key: ro.key, body: { entity_id: 'e', event_type: 't', payload: {} } });
    expect(direct.status).toBe(403);
    expect((await writer.stats('acme')).events).toBe(1);

    const keys = await admin.listKeys('acme');
    expect(keys.map((k) => [k.key_id, k.read_only, k.label, k.revoked_at])).toEqual([
      [rw.key_id, false, 'ci', null],
      [ro.key_id, true, null, null],
    ]);
    expect(JSON.stringify(keys)).not.toContain(rw.key.slice(-20));
    const revoked = await admin.revokeKey(rw.key_id);
    expect(revoked.revoked_at).not.toBeNull();
    await expectCode(writer.stats('acme'), 'unauthorized');
    expect((await reader.stats('acme')).events).toBe(1);
    expect((await admin.revokeKey(rw.key_id)).revoked_at, 'revoking twice is a no-op').toBe(revoked.revoked_at);
    expect((await admin.listTenants()).find((t) => t.tenant === 'acme')?.active_keys).toBe(1);
  });

  it('admin: tenants are unique, keys need an existing tenant, the admin tenant is reserved, bad ids are named', async () => {
    await admin.createTenant('acme');
    await expectCode(admin.createTenant('acme'), 'conflict');
    await expectCode(admin.createKey({ tenant: 'nobody' }), 'not_found');
    await expect(admin.createTenant('allsource.admin')).rejects.toMatchObject({ code: 'invalid', field: 'tenant' });
    await expect(admin.createTenant('$x')).rejects.toMatchObject({ code: 'invalid', field: 'tenant' });
    await expect(admin.revokeKey('zzz')).rejects.toMatchObject({ code: 'invalid', field: 'key_id' });
    await expectCode(admin.revokeKey('0123456789ab'), 'not_found');
    const res = await http(`${core.server.url}/api/v1/admin/keys`, { method: 'POST', key: TEST_ADMIN_KEY, body: { tenant: 'acme', read_only: 'yes' } });
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('read_only');
    expect((await admin.listTenants()).map((t) => t.tenant)).toEqual(['acme']);
  });

  it('answers errors as JSON with the right status and a request id, honouring a sane x-request-id', async () => {
    const url = core.server.url;
    const bad = await http(`${url}/api/v1/tenants/acme/events?limit=abc`, { key: TEST_ADMIN_KEY, headers: { 'x-request-id': 'req-42' } });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-request-id']).toBe('req-42');
    expect(bad.json.error).toMatchObject({ code: 'invalid', field: 'filter.limit' });
    const unknownParam = await http(`${url}/api/v1/tenants/acme/events?entity=x`, { key: TEST_ADMIN_KEY });
    expect(unknownParam.json.error).toMatchObject({ code: 'invalid', field: 'filter.entity' });
    const notJsonFilter = await http(`${url}/api/v1/tenants/acme/events?payload_equals=%7Bplan`, { key: TEST_ADMIN_KEY });
    expect(notJsonFilter.json.error).toMatchObject({ code: 'invalid', field: 'filter.payload_equals' });
    const forged = await http(`${url}/health`, { headers: { 'x-request-id': 'bad id\twith tab' } });
    expect(forged.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await http(`${url}/api/v1/nothing-here`, { key: TEST_ADMIN_KEY })).status).toBe(404);
    const notJson = await http(`${url}/api/v1/tenants/acme/events`, { method: 'POST', key: TEST_ADMIN_KEY, body: '{"entity_id":' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe('invalid');
    const missing = await http(`${url}/api/v1/tenants/acme/events`, { method: 'POST', key: TEST_ADMIN_KEY, body: { entity_id: 'e', event_type: 't' } });
    expect(missing.json.error).toMatchObject({ code: 'invalid', field: 'events[0].payload' });
    const admin404 = await http(`${url}/api/v1/tenants/acme/events/no-such-event`, { key: TEST_ADMIN_KEY });
    expect(admin404.status).toBe(404);
    await http(`${url}/api/v1/tenants/acme/events`, { method: 'POST', key: TEST_ADMIN_KEY, body: { entity_id: 'e', event_type: 't', payload: {} } });
    const conflict = await http(`${url}/api/v1/tenants/acme/events`, { method: 'POST', key: TEST_ADMIN_KEY, body: { entity_id: 'e', event_type: 't', payload: {}, expected_version: 0 } });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.details).toMatchObject({ expected: 0, actual: 1 });
    expect((await http(`${url}/api/v1/tenants/acme/stats`, { key: TEST_ADMIN_KEY })).json.events).toBe(1);
  });

  it('concurrent appends travel in one bulk request and each answers on its own', async () => {
    const c = await client(TEST_ADMIN_KEY);
    await c.append('acme', [{ entity_id: 'taken', event_type: 't', payload: {} }]);
    const before = (await http(`${core.server.url}/metrics`)).text;
    const bulkCount = (text: string): number => Number(/route="\/api\/v1\/tenants\/:tenant\/events\/bulk",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
    const settled = await Promise.allSettled([
      ...Array.from({ length: 30 }, (_, i) => c.append('acme', [{ entity_id: `e-${i}`, event_type: 't', payload: { i } }])),
      c.append('acme', [{ entity_id: 'taken', event_type: 't', payload: {}, expected_version: 0 }]),
      c.append('acme', [{ entity_id: 'x', event_type: 't', payload: {} }], { dry_run: true }),
    ]);
    expect(settled.slice(0, 30).every((s) => s.status === 'fulfilled')).toBe(true);
    expect(settled[30]).toMatchObject({ status: 'rejected', reason: { code: 'conflict', details: { expected: 0, actual: 1 } } });
    expect(settled[31]).toMatchObject({ status: 'fulfilled', value: { dry_run: true } });
    const versions = settled.slice(0, 30).map((s) => (s as PromiseFulfilledResult<{ events: { entity_id: string; version: number }[] }>).value.events[0]);
    expect(versions.map((e) => [e.entity_id, e.version])).toEqual(Array.from({ length: 30 }, (_, i) => [`e-${i}`, 1]));
    expect(bulkCount((await http(`${core.server.url}/metrics`)).text) - bulkCount(before), 'one bulk request').toBe(1);
    expect((await c.stats('acme')).events).toBe(31);

    // The route directly: items fail alone, with the error as the error handler would send it.
    const res = await http(`${core.server.url}/api/v1/tenants/acme/events/bulk`, {
      method: 'POST',
      key: TEST_ADMIN_KEY,
      body: { appends: [{ events: [{ entity_id: 'ok', event_type: 't', payload: {} }] }, { events: [{ entity_id: '$bad', event_type: 't', payload: {} }] }] },
    });
    expect(res.status).toBe(200);
    expect(res.json.results[0].result.events[0]).toMatchObject({ entity_id: 'ok', version: 1 });
    expect(res.json.results[1].error).toMatchObject({ code: 'invalid', field: 'events[0].entity_id' });
    expect((await http(`${core.server.url}/api/v1/tenants/acme/events/bulk`, { method: 'POST', key: TEST_ADMIN_KEY, body: { appends: [] } })).json.error.field).toBe('appends');
  });

  it('refuses an oversize body with 413 and writes nothing', async () => {
    const small = await startTestCore({ server: { bodyLimit: 64 * 1024 } });
    try {
      const res = await http(`${small.server.url}/api/v1/tenants/acme/events`, { method: 'POST', key: TEST_ADMIN_KEY, body: { entity_id: 'e', event_type: 't', payload: { text: 'x'.repeat(100_000) } } });
      expect(res.status).toBe(413);
      expect(res.json.error).toMatchObject({ code: 'invalid', field: 'body' });
      const viaClient = await openHttpCore({ url: small.server.url, key: TEST_ADMIN_KEY });
      await expect(viaClient.append('acme', [{ entity_id: 'e', event_type: 't', payload: { text: 'x'.repeat(100_000) } }])).rejects.toMatchObject({ code: 'invalid', field: 'body' });
      expect((await viaClient.stats('acme')).events).toBe(0);
      await viaClient.close();
    } finally {
      await small.cleanup();
    }
  });

  it('limits requests per key with 429 and Retry-After when configured', async () => {
    const limited = await startTestCore({ server: { rateLimit: 5 } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | string[] | undefined;
      for (let i = 0; i < 8; i++) {
        const res = await http(`${limited.server.url}/api/v1/tenants/acme/stats`, { key: TEST_ADMIN_KEY });
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers['retry-after'];
          expect(res.json.error.code).toBe('quota_exceeded');
        }
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses).toContain(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await http(`${limited.server.url}/health`)).status, 'health is not limited').toBe(200);
    } finally {
      await limited.cleanup();
    }
  });

  it('exposes Prometheus metrics by route template, never by tenant', async () => {
    const c = await client(TEST_ADMIN_KEY);
    await c.append('tenant-in-url', [{ entity_id: 'e', event_type: 't', payload: {} }, { entity_id: 'e', event_type: 't', payload: {} }]);
    await c.query('tenant-in-url', { entity_id: 'e' });
    const text = (await http(`${core.server.url}/metrics`)).text;
    expect(text).toMatch(/allsource_core_http_requests_total\{method="POST",route="\/api\/v1\/tenants\/:tenant\/events\/batch",status="201"\} 1/);
    expect(text).toMatch(/allsource_core_http_request_duration_seconds_bucket\{le="0.001",method="GET",route="\/api\/v1\/tenants\/:tenant\/events"\}/);
    expect(text).toMatch(/allsource_core_appended_events_total 2/);
    expect(text).toMatch(/allsource_core_appended_bytes_total \d+/);
    expect(text).toMatch(/allsource_core_open_tenants [1-9]/);
    expect(text).toMatch(/allsource_core_process_resident_memory_bytes/);
    expect(text).not.toContain('tenant-in-url');
  });

  it('serves an OpenAPI 3.1 document with every route', async () => {
    const doc = (await http(`${core.server.url}/api/v1/openapi.json`)).json;
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) => Object.values(p).map((op) => op.operationId));
    expect(operations.sort()).toEqual(Object.keys(ROUTES).sort());
    expect(doc.paths['/api/v1/tenants/{tenant}/events'].get.parameters.map((p: { name: string }) => p.name)).toContain('payload_equals');
  });
});

describe('Core server lifecycle', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'allsource-core-life-'));
    dirs.push(dir);
    return dir;
  };

  it('refuses to start without an admin key, and --insecure-local only on loopback', async () => {
    const base = { openStore: async () => ({}) as EventStore, keySecret: randomBytes(32), port: 0, logger: false as const };
    await expect(startCoreServer(base)).rejects.toMatchObject({ code: 'invalid', field: 'ALLSOURCE_ADMIN_KEY' });
    await expect(startCoreServer({ ...base, adminKey: 'short' })).rejects.toMatchObject({ code: 'invalid', field: 'ALLSOURCE_ADMIN_KEY' });
    await expect(startCoreServer({ ...base, insecureLocal: true, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'invalid', field: 'host' });
    const dataDir = await tempDir();
    const local = await startCoreServer({ ...base, insecureLocal: true, openStore: () => openEmbeddedCore({ dataDir, durability: 'none' }) });
    await local.ready;
    try {
      const open = await openHttpCore({ url: local.url });
      await open.append('t', [{ entity_id: 'e', event_type: 't', payload: {} }]);
      expect((await open.stats('t')).events).toBe(1);
      await open.close();
    } finally {
      await local.close();
    }
  });

  it('answers 503 with Retry-After until the store is open; /health is live at once', async () => {
    const dataDir = await tempDir();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await startCoreServer({
      openStore: async () => {
        await gate;
        return openEmbeddedCore({ dataDir, durability: 'none' });
      },
      keySecret: randomBytes(32),
      adminKey: TEST_ADMIN_KEY,
      port: 0,
      logger: false,
    });
    try {
      expect((await http(`${server.url}/health`)).status).toBe(200);
      expect((await http(`${server.url}/ready`)).status).toBe(503);
      const early = await http(`${server.url}/api/v1/tenants/t/stats`, { key: TEST_ADMIN_KEY });
      expect(early.status).toBe(503);
      expect(early.headers['retry-after']).toBe('1');
      expect(early.json.error.code).toBe('unavailable');
      // HttpCore retries reads through a 503: a read issued now is answered once the store opens.
      const c = await openHttpCore({ url: server.url, key: TEST_ADMIN_KEY });
      const pending = c.stats('t');
      setTimeout(release, 200);
      expect((await pending).events).toBe(0);
      expect((await http(`${server.url}/ready`)).status).toBe(200);
      await c.close();
    } finally {
      release();
      await server.close();
    }
  });

  it('shuts down gracefully: a waiting watch answers, in-flight appends finish, then the port closes', async () => {
    const core = await startTestCore();
    const c = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY, retryForMs: 300 });
    const [first] = (await c.append('t', [{ entity_id: 'e', event_type: 't', payload: {} }])).events;
    const watching = c.watch('t', { after: first.position, timeout_ms: 30_000 });
    const appends = Array.from({ length: 20 }, (_, i) => c.append('t', [{ entity_id: 'e', event_type: 't', payload: { i }, id: `inflight-${i}` }]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const closing = core.cleanup();
    const watched = await watching;
    expect(Date.now() - started, 'the watch did not wait out its 30 s').toBeLessThan(5000);
    expect(watched.last_position).toBeGreaterThanOrEqual(first.position);
    const settled = await Promise.allSettled(appends);
    await closing;
    for (const s of settled) if (s.status === 'rejected') expect((s.reason as { code: string }).code).toBe('unavailable');
    await expectCode(c.stats('t'), 'unavailable');
    await c.close();
  });

  it('a Core restarted in the middle of a run: reads recover, no acknowledged write is lost or doubled', async () => {
    const dataDir = await tempDir();
    const first = await startTestCore({ dataDir, store: { durability: 'fsync' } });
    const port = Number(new URL(first.server.url).port);
    const c = await openHttpCore({ url: first.server.url, key: TEST_ADMIN_KEY, retryForMs: 10_000 });
    const acknowledged = new Set<string>();
    let restarted = false;
    let acknowledgedAfterRestart = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 400; i++) {
        const id = `w-${i}`;
        // Every event carries an id, so HttpCore may retry an append whose answer was lost.
        await c.append('t', [{ entity_id: `e-${i % 7}`, event_type: 'w.t', payload: { i }, id }]);
        acknowledged.add(id);
        if (restarted) acknowledgedAfterRestart++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await first.server.close();
    const readDuringRestart = c.stats('t');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await startTestCore({ dataDir, store: { durability: 'fsync' }, server: { port } });
    restarted = true;
    try {
      expect((await readDuringRestart).tenant_id).toBe('t');
      await new Promise((resolve) => setTimeout(resolve, 150));
      stop = true;
      await writer;
      expect(acknowledgedAfterRestart, 'the writer carried on against the new Core').toBeGreaterThan(0);
      const stored: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.query('t', { limit: 1000, cursor });
        stored.push(...page.events.map((e) => e.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      expect(new Set(stored).size, 'no event twice').toBe(stored.length);
      for (const id of acknowledged) expect(stored).toContain(id);
      expect((await c.verify('t')).ok).toBe(true);
    } finally {
      await c.close();
      await second.cleanup();
    }
  });

  it('logs one JSON line per request with id, tenant, route, status and latency; never keys or payloads', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const core = await startTestCore({ server: { logger: pino({ base: undefined }, sink) } });
    try {
      await core.server.app.ready();
      await new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY }).createTenant('acme');
      const key = (await new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY }).createKey({ tenant: 'acme' })).key;
      const c = await openHttpCore({ url: core.server.url, key });
      await c.append('acme', [{ entity_id: 'e', event_type: 't', payload: { secret_word: 'swordfish' } }]);
      await c.query('acme', { payload_equals: { secret_word: 'swordfish' } });
      await c.close();
      const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
      const append = requests.find((l) => l.route === '/api/v1/tenants/:tenant/events/batch');
      expect(append).toMatchObject({ tenant: 'acme', method: 'POST', status: 201 });
      expect(typeof append.req_id).toBe('string');
      expect(typeof append.latency_ms).toBe('number');
      const all = lines.join('\n');
      expect(all).not.toContain('swordfish');
      expect(all).not.toContain(key);
      expect(all).not.toContain(key.slice(8, 20) + '_');
      expect(all).not.toContain(TEST_ADMIN_KEY);
    } finally {
      await core.cleanup();
    }
  });
});
