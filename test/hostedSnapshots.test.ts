// Prime snapshots kept on the Core (hosted mode), through the real parts: a Core server on
// 127.0.0.1:0 over an EmbeddedCore, HttpCore clients, Prime services and hosted MCP edges built as
// `serve --core` builds them. A first instance hydrates and uploads the tenant's snapshot as the
// artifact `prime-snapshot`; a fresh one (no local state) loads it, folds only the tail, and
// answers exactly like a full fold of the log. Artifacts damaged on the Core's disk, damaged
// before upload, stale (a position past the log), foreign (another tenant's) or made with another
// embedder are ignored with a log line, and the answers stay right. The routes refuse an artifact
// over the cap, bad names and facts (naming the field), and another tenant's key; read-only keys
// read but do not write; a Core that keeps no artifacts says so, and Prime folds the log; the
// `allsource core` binary keeps them under its data directory, capped by --max-artifact-bytes.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../bench/workload.js';
import { CoreAdminClient, openHttpCore, type HttpCore } from '../src/core/http/index.js';
import type { NewEvent } from '../src/core/types.js';
import { createHashEmbedder, HASH_EMBEDDER_NAME } from '../src/embed/hashEmbedder.js';
import { createCoreSnapshotStore, PRIME_SNAPSHOT_ARTIFACT } from '../src/prime/coreSnapshots.js';
import { edgeCreated, nodeCreated, nodeDeleted, nodeUpdated } from '../src/prime/events.js';
import { createPrimeService, type PrimeServiceOptions } from '../src/prime/service.js';
import { SNAPSHOT_FORMAT } from '../src/prime/snapshot.js';
import { startHostedMcpServer, type McpHttpServer } from '../transports/http.js';
import { startCoreProcess, startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';

/** One clock for every service, so recall's recency term is the same in the ones compared. */
const now = (): number => Date.parse('2030-01-01T00:00:00.000Z');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let core: TestCore;
let store: HttpCore;
let lines: string[];
/** The Core's request log (method, route, status of each request it answered). */
let requests: Array<{ method?: string; route?: string; status?: number }>;
const closers: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  requests = [];
  core = await startTestCore({ server: { logger: pino({}, { write: (line: string) => void requests.push(JSON.parse(line) as (typeof requests)[number]) }) } });
  store = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY, retryForMs: 500 });
  lines = [];
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await store.close();
  await core.cleanup();
});

type Service = ReturnType<typeof createPrimeService>;
/** A Prime service as `serve --core` builds one (snapshots on the Core), on `client` (default: the admin HttpCore). */
function hosted(options: Partial<PrimeServiceOptions> & { client?: HttpCore } = {}): Service {
  const { client = store, ...rest } = options;
  const prime = createPrimeService({ store: client, now, log: (line) => lines.push(line), snapshotStore: createCoreSnapshotStore(client), snapshots: { minEvents: 1, delayMs: 20 }, ...rest });
  closers.push(() => prime.close());
  return prime;
}
/** A reader that never uploads while a test compares answers. */
const reader = (options: Partial<PrimeServiceOptions> & { client?: HttpCore } = {}): Service => hosted({ snapshots: { minEvents: 1, delayMs: 3_600_000 }, ...options });
function fromLog(): Service {
  const prime = createPrimeService({ store, now, log: () => {} });
  closers.push(() => prime.close());
  return prime;
}

async function seed(tenant: string, count: number): Promise<void> {
  const random = mulberry32(7);
  const words = ['garden', 'paint', 'trip', 'Paris', 'budget', 'doctor', 'flight', 'concert', 'recipe', 'book'];
  const text = (): string => Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
  const events: NewEvent[] = [];
  for (let i = 0; i < count; i++) events.push(nodeCreated(`n${i}`, i % 5 === 0 ? 'person' : 'note', { name: `N${i}`, text: text() }));
  for (let i = 1; i < count; i++) events.push(edgeCreated({ id: `e${i}`, source: `n${i % 7}`, target: `n${i}`, relation: i % 3 === 0 ? 'knows' : 'said', properties: {}, weight: 1 }));
  for (let i = 3; i < count; i += 11) events.push(nodeUpdated(`n${i}`, { text: text() }));
  for (let i = 4; i < count; i += 13) events.push(nodeDeleted(`n${i}`));
  await store.append(tenant, events);
}

/** Events after the snapshot: a restored projection must fold exactly these. */
async function tail(tenant: string): Promise<void> {
  await store.append(tenant, [nodeCreated('late', 'note', { text: 'a late garden note about Paris' }), edgeCreated({ id: 'late-e', source: 'n1', target: 'late', relation: 'said', properties: {}, weight: 1 }), nodeUpdated('n10', { text: 'rewritten about the doctor' }), nodeDeleted('n12')]);
}

/** What the tools read, for comparing two services on one tenant. */
async function answers(prime: Service, tenant: string) {
  const { cache: _cache, ...stats } = await prime.stats(tenant, {});
  return {
    stats,
    recall: await Promise.all(['garden Paris', 'doctor flight book', 'late note', 'concert'].map((text) => prime.recall(tenant, { text, top_k: 10 }))),
    search: await prime.search(tenant, { text: 'garden paint', limit: 15 }),
    neighbors: await prime.neighbors(tenant, { node_id: 'n1', depth: 2, limit: 30 }),
    similar: await prime.similar(tenant, { text: 'paint the garden', top_k: 8 }),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
/** Resolves once the tenant's snapshot is on the Core (uploaded in the background), and `by` has counted it. */
async function uploaded(tenant: string, by?: Service): Promise<void> {
  await waitFor(`the ${tenant} snapshot`, async () => ((await store.listArtifacts(tenant)).some((a) => a.name === PRIME_SNAPSHOT_ARTIFACT) && (by === undefined || by.snapshotInfo()!.written > 0) ? true : undefined));
}

/** Counts the store's full-log queries (a hydration from the log pages through query; a restored one only watches the tail). */
function counting(client: HttpCore): { client: HttpCore; queries: () => number } {
  let queries = 0;
  const proxy = new Proxy(client, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'query') return (...args: unknown[]) => (queries++, (value as (...a: unknown[]) => unknown).apply(target, args));
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { client: proxy, queries: () => queries };
}

async function raw(path: string, init: { method?: 'GET' | 'PUT' | 'DELETE'; key?: string; body?: Buffer | string; contentType?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${init.key ?? TEST_ADMIN_KEY}` };
  if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/octet-stream';
  const res = await request(`${core.server.url}/api/v1${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await res.body.text();
  let json: { error?: { code: string; field?: string; message: string } } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json };
}

describe('Prime snapshots on the Core', () => {
  it('a fresh instance loads the artifact, folds only the tail, and answers like a full fold', async () => {
    await seed('acme', 300);
    const first = hosted();
    await first.stats('acme', {});
    await uploaded('acme', first);
    expect(first.snapshotInfo()).toMatchObject({ written: 1, write_failures: 0 });
    const [meta] = await store.listArtifacts('acme');
    expect(meta).toMatchObject({ name: PRIME_SNAPSHOT_ARTIFACT, format: SNAPSHOT_FORMAT, embedder: HASH_EMBEDDER_NAME, position: (await store.stats('acme')).last_position });
    expect(meta.sha256).toMatch(/^[0-9a-f]{64}$/);

    await tail('acme');
    const { client, queries } = counting(store);
    const second = reader({ client });
    const restored = await answers(second, 'acme');
    expect(second.snapshotInfo()).toMatchObject({ loaded: 1, rejected: 0 });
    // It never paged through the log: only the tail, by watch.
    expect(queries()).toBe(0);
    expect(restored).toEqual(await answers(fromLog(), 'acme'));
    expect(restored.stats).toMatchObject({ nodes: 300 - 23 + 1 - 1 });
  });

  it('two serve instances: the second starts from the first one’s upload and recalls identically', async () => {
    const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
    await admin.createTenant('alpha');
    const { key } = await admin.createKey({ tenant: 'alpha' });
    await admin.close();
    await seed('alpha', 200);
    const edge = { coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, host: '127.0.0.1', port: 0, logger: false as const, primeSnapshots: { minEvents: 1, delayMs: 20 } };
    const connect = async (server: McpHttpServer): Promise<Client> => {
      const client = new Client({ name: 'hosted-snapshots', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      closers.push(() => client.close());
      return client;
    };
    const ask = async (client: Client, name: string, args: Record<string, unknown>) => ((await client.callTool({ name, arguments: args })) as CallToolResult).structuredContent as Record<string, unknown>;
    const recallIds = async (client: Client, text: string) => ((await ask(client, 'prime_recall', { text, top_k: 10 })).results as Array<{ node: { id: string }; found_by: unknown }>).map((r) => [r.node.id, r.found_by]);

    const one = await startHostedMcpServer(edge);
    closers.push(() => one.close());
    const a1 = await connect(one);
    const fullFold = await recallIds(a1, 'garden Paris');
    await uploaded('alpha');
    await tail('alpha');

    const two = await startHostedMcpServer(edge);
    closers.push(() => two.close());
    const a2 = await connect(two);
    const mark = requests.length;
    const first = await recallIds(a2, 'garden Paris');
    // Instance two fetched the artifact and never paged through alpha's log.
    const made = requests.slice(mark);
    expect(made.filter((r) => r.method === 'GET' && r.route === '/api/v1/tenants/:tenant/artifacts/:name' && r.status === 200)).toHaveLength(1);
    expect(made.filter((r) => r.route === '/api/v1/tenants/:tenant/events')).toEqual([]);
    expect(first).toEqual(await recallIds(a1, 'garden Paris'));
    for (const text of ['late note', 'doctor flight']) expect(await recallIds(a2, text)).toEqual(await recallIds(a1, text));
    expect(fullFold.length).toBeGreaterThan(0);
    const stats = (client: Client) => ask(client, 'prime_stats', {}).then(({ nodes, edges, events }) => ({ nodes, edges, events }));
    expect(await stats(a2)).toEqual(await stats(a1));
  });

  it('ignores an artifact damaged on the Core’s disk or before upload, and still answers right', async () => {
    await seed('acme', 300);
    await hosted().stats('acme', {});
    await uploaded('acme');
    const truth = await answers(fromLog(), 'acme');

    const dir = join(core.dataDir, 'artifacts');
    const [tenantDir] = readdirSync(dir);
    const file = join(dir, tenantDir, `${PRIME_SNAPSHOT_ARTIFACT}.art`);
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    for (let i = Math.floor(flipped.length / 2); i < Math.floor(flipped.length / 2) + 16; i++) flipped[i] ^= 0xff;
    writeFileSync(file, flipped);
    const onDisk = reader();
    expect(await answers(onDisk, 'acme')).toEqual(truth);
    expect(onDisk.snapshotInfo()).toMatchObject({ loaded: 0, rejected: 1 });
    expect(lines.join('\n')).toMatch(/ignoring the Prime snapshot prime-snapshot .*(checksum|cannot be read|does not add up)/);

    // Damaged before it was sent: the Core's digest matches, the snapshot's own checksums do not.
    writeFileSync(file, good);
    const fetched = (await store.getArtifact('acme', PRIME_SNAPSHOT_ARTIFACT))!;
    const bytes = Buffer.from(fetched.bytes);
    bytes[Math.floor(bytes.length / 3)] ^= 0x01;
    await store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, fetched.meta, bytes);
    lines = [];
    const sent = reader();
    expect(await answers(sent, 'acme')).toEqual(truth);
    expect(sent.snapshotInfo()).toMatchObject({ loaded: 0, rejected: 1 });
    expect(lines.join('\n')).toMatch(/ignoring the Prime snapshot .*(checksum|cannot be read|does not add up)/);
  });

  it('ignores a stale, foreign or other-embedder artifact, and still answers right', async () => {
    // The other tenant first: its snapshot's position is then inside acme's log, and only its tenant gives it away.
    await seed('other', 120);
    await seed('acme', 300);
    await hosted().stats('acme', {});
    await uploaded('acme');
    const truth = await answers(fromLog(), 'acme');
    const genuine = (await store.getArtifact('acme', PRIME_SNAPSHOT_ARTIFACT))!;
    const lastPosition = (await store.stats('acme')).last_position;

    const cases: Array<[string, () => Promise<unknown>, RegExp, Partial<PrimeServiceOptions>?]> = [
      ['a position past the log', () => store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, { ...genuine.meta, position: lastPosition + 1000 }, genuine.bytes), /beyond the log's last position/],
      ['another embedder, by name', () => store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, { ...genuine.meta, embedder: 'text-embedding-3-small' }, genuine.bytes), /made with the embedder text-embedding-3-small/],
      ['another format', () => store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, { ...genuine.meta, format: SNAPSHOT_FORMAT + 1 }, genuine.bytes), /format 2, this build reads 1/],
      // The same name, another vector length: only the snapshot's own header knows.
      ['another embedder, by dims', () => store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, genuine.meta, genuine.bytes), /256-d embeddings, the embedder gives 64/, { embedder: createHashEmbedder({ dims: 64 }) }],
    ];
    for (const [label, plant, why, extra] of cases) {
      await plant();
      lines = [];
      const prime = reader(extra);
      const got = await answers(prime, 'acme');
      if (extra === undefined) expect(got, label).toEqual(truth);
      expect(prime.snapshotInfo(), label).toMatchObject({ loaded: 0, rejected: 1 });
      expect(lines.join('\n'), label).toMatch(why);
    }

    // Another tenant's snapshot under this tenant's name (an operator's copy): not this tenant's.
    await hosted().stats('other', {});
    await uploaded('other');
    const foreign = (await store.getArtifact('other', PRIME_SNAPSHOT_ARTIFACT))!;
    await store.putArtifact('acme', PRIME_SNAPSHOT_ARTIFACT, foreign.meta, foreign.bytes);
    lines = [];
    const prime = reader();
    expect(await answers(prime, 'acme')).toEqual(truth);
    expect(prime.snapshotInfo()).toMatchObject({ loaded: 0, rejected: 1 });
    expect(lines.join('\n')).toMatch(/belongs to another tenant|not the one it folded|no longer has the last event/);
  });

  it('refuses an artifact over the cap (413, naming body) and Prime answers anyway', async () => {
    const small = await startTestCore({ server: { maxArtifactBytes: 64 * 1024 } });
    closers.push(() => small.cleanup());
    const client = await openHttpCore({ url: small.server.url, key: TEST_ADMIN_KEY, retryForMs: 500 });
    closers.push(() => client.close());
    await expect(client.putArtifact('acme', 'prime-snapshot', { position: 1, format: 1, embedder: 'x' }, Buffer.alloc(100 * 1024))).rejects.toMatchObject({ code: 'invalid', field: 'body', message: expect.stringMatching(/102400 bytes, over this Core's cap of 65536 bytes/) });
    const res = await request(`${small.server.url}/api/v1/tenants/acme/artifacts/prime-snapshot?position=1&format=1&embedder=x`, { method: 'PUT', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(70 * 1024) });
    expect(res.statusCode).toBe(413);
    await res.body.text();
    expect(await client.listArtifacts('acme')).toEqual([]);
    // Under the cap is fine.
    await client.putArtifact('acme', 'tiny', { position: 1, format: 1, embedder: 'x' }, Buffer.from('hello'));
    expect((await client.getArtifact('acme', 'tiny'))!.bytes.toString()).toBe('hello');

    const events = Array.from({ length: 300 }, (_, i) => nodeCreated(`n${i}`, 'note', { text: `memory ${i} about the garden and Paris, long enough to add up ${'x'.repeat(200)}` }));
    await client.append('acme', events);
    const prime = hosted({ client });
    expect((await prime.stats('acme', {})).nodes).toBe(300);
    await waitFor('the failed upload', async () => (prime.snapshotInfo()!.write_failures > 0 ? true : undefined));
    expect(lines.join('\n')).toMatch(/cannot write the Prime snapshot .*over this Core's cap/);
    expect((await prime.recall('acme', { text: 'garden Paris', top_k: 3 })).results).toHaveLength(3);
  });

  it("keeps tenants apart: another tenant's key finds nothing; a read-only key reads but does not write", async () => {
    const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
    await admin.createTenant('alpha');
    await admin.createTenant('beta');
    const alphaKey = (await admin.createKey({ tenant: 'alpha' })).key;
    const betaKey = (await admin.createKey({ tenant: 'beta' })).key;
    const readerKey = (await admin.createKey({ tenant: 'alpha', read_only: true })).key;
    await admin.close();
    const open = async (key: string): Promise<HttpCore> => {
      const client = await openHttpCore({ url: core.server.url, key, retryForMs: 500 });
      closers.push(() => client.close());
      return client;
    };
    const alpha = await open(alphaKey);
    const beta = await open(betaKey);
    const alphaReader = await open(readerKey);
    const facts = { position: 1, format: 1, embedder: 'x' };
    await alpha.putArtifact('alpha', 'prime-snapshot', facts, Buffer.from('alpha secret'));

    expect(await beta.getArtifact('alpha', 'prime-snapshot')).toBeNull();
    await expect(beta.listArtifacts('alpha')).rejects.toMatchObject({ code: 'not_found' });
    await expect(beta.putArtifact('alpha', 'prime-snapshot', facts, Buffer.from('overwritten'))).rejects.toMatchObject({ code: 'not_found' });
    await expect(beta.deleteArtifact('alpha', 'prime-snapshot')).rejects.toMatchObject({ code: 'not_found' });
    const peek = await raw('/tenants/alpha/artifacts/prime-snapshot', { key: betaKey });
    expect(peek.status).toBe(404);
    expect(peek.json?.error?.message).toMatch(/tenant "alpha" not found/);
    expect(await beta.listArtifacts('beta')).toEqual([]);
    expect(await beta.getArtifact('beta', 'prime-snapshot')).toBeNull();

    expect((await alphaReader.getArtifact('alpha', 'prime-snapshot'))!.bytes.toString()).toBe('alpha secret');
    await expect(alphaReader.putArtifact('alpha', 'prime-snapshot', facts, Buffer.from('x'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(alphaReader.deleteArtifact('alpha', 'prime-snapshot')).rejects.toMatchObject({ code: 'forbidden' });
    // Nothing beta or the reader tried changed alpha's.
    expect((await alpha.getArtifact('alpha', 'prime-snapshot'))!.bytes.toString()).toBe('alpha secret');
    expect(await alpha.deleteArtifact('alpha', 'prime-snapshot')).toBe(true);
    expect(await alpha.getArtifact('alpha', 'prime-snapshot')).toBeNull();
    // Facts outside ASCII survive the header they come back in.
    await alpha.putArtifact('alpha', 'named', { ...facts, embedder: 'modèle-东京' }, Buffer.from('x'));
    expect((await alpha.getArtifact('alpha', 'named'))!.meta.embedder).toBe('modèle-东京');
  });

  it('names the field of bad input and stores nothing', async () => {
    const put = (query: string, body: Buffer | string = Buffer.from('x'), contentType?: string, name = 'prime-snapshot') => raw(`/tenants/acme/artifacts/${name}${query}`, { method: 'PUT', body, contentType });
    const bad: Array<[string, Awaited<ReturnType<typeof put>>]> = [
      ['name', await put('?position=1&format=1&embedder=x', undefined, undefined, 'Bad_Name')],
      ['name', await raw('/tenants/acme/artifacts/-dash')],
      ['position', await put('?position=-1&format=1&embedder=x')],
      ['position', await put('?format=1&embedder=x')],
      ['format', await put('?position=1&format=one&embedder=x')],
      ['embedder', await put('?position=1&format=1')],
      ['colour', await put('?position=1&format=1&embedder=x&colour=red')],
      ['content-type', await put('?position=1&format=1&embedder=x', '{"a":1}', 'application/json')],
    ];
    for (const [field, res] of bad) {
      expect(res.status, field).toBe(400);
      expect(res.json?.error, field).toMatchObject({ code: 'invalid', field });
    }
    expect(bad[0][1].json?.error?.message).toMatch(/name: must be 1-63 characters: a lowercase letter/);
    await expect(store.putArtifact('acme', 'UPPER', { position: 1, format: 1, embedder: 'x' }, Buffer.from('x'))).rejects.toMatchObject({ code: 'invalid', field: 'name' });
    expect(await store.listArtifacts('acme')).toEqual([]);

    // At most eight names per tenant; replacing one of them is always fine.
    const facts = { position: 1, format: 1, embedder: 'x' };
    for (let i = 0; i < 8; i++) await store.putArtifact('acme', `a${i}`, facts, Buffer.from(`v${i}`));
    await expect(store.putArtifact('acme', 'a8', facts, Buffer.from('x'))).rejects.toMatchObject({ code: 'quota_exceeded', field: 'name' });
    await store.putArtifact('acme', 'a0', { ...facts, position: 2 }, Buffer.from('again'));
    expect((await store.listArtifacts('acme')).map((a) => [a.name, a.position])).toEqual([...Array.from({ length: 8 }, (_, i) => [`a${i}`, i === 0 ? 2 : 1])]);
    expect(await store.listArtifacts('other')).toEqual([]);
  });

  it('on a Core that keeps no artifacts, says so, and Prime folds the log without asking again', async () => {
    const bare = await startTestCore({ server: { artifacts: undefined } });
    closers.push(() => bare.cleanup());
    const client = await openHttpCore({ url: bare.server.url, key: TEST_ADMIN_KEY, retryForMs: 500 });
    closers.push(() => client.close());
    await expect(client.putArtifact('acme', 'prime-snapshot', { position: 1, format: 1, embedder: 'x' }, Buffer.from('x'))).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/keeps no derived artifacts/) });
    expect(await client.getArtifact('acme', 'prime-snapshot')).toBeNull();
    await client.append('acme', Array.from({ length: 50 }, (_, i) => nodeCreated(`n${i}`, 'note', { text: `note ${i}` })));
    const prime = hosted({ client });
    expect((await prime.stats('acme', {})).nodes).toBe(50);
    await waitFor('the refused upload', async () => (prime.snapshotInfo()!.write_failures > 0 ? true : undefined));
    await client.append('acme', [nodeCreated('more', 'note', { text: 'more' })]);
    await prime.stats('acme', {});
    await prime.writeSnapshots();
    expect(prime.snapshotInfo()).toMatchObject({ written: 0, write_failures: 1 });
  });

  it('`allsource core` keeps them under its data directory, capped by --max-artifact-bytes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'allsource-artifacts-cli-'));
    closers.push(() => rm(dataDir, { recursive: true, force: true }));
    const child = await startCoreProcess(dataDir, { PATH: process.env.PATH, HOME: dataDir, ALLSOURCE_ADMIN_KEY: TEST_ADMIN_KEY }, ['--max-artifact-bytes', '4096']);
    closers.push(async () => void (child.child.exitCode === null && child.child.kill('SIGKILL')));
    const client = await openHttpCore({ url: child.url, key: TEST_ADMIN_KEY, retryForMs: 500 });
    closers.push(() => client.close());
    const meta = await client.putArtifact('acme', 'prime-snapshot', { position: 7, format: 1, embedder: 'x' }, Buffer.alloc(4096, 1));
    expect(meta).toMatchObject({ name: 'prime-snapshot', position: 7, bytes: 4096 });
    const [tenantDir] = readdirSync(join(dataDir, 'artifacts'));
    expect(existsSync(join(dataDir, 'artifacts', tenantDir, 'prime-snapshot.art'))).toBe(true);
    await expect(client.putArtifact('acme', 'prime-snapshot', { position: 8, format: 1, embedder: 'x' }, Buffer.alloc(4097))).rejects.toMatchObject({ code: 'invalid', field: 'body', message: expect.stringMatching(/cap of 4096 bytes/) });
    // The refused upload left the stored one as it was; the log never saw either.
    expect((await client.getArtifact('acme', 'prime-snapshot'))!.meta.position).toBe(7);
    expect((await client.stats('acme')).events).toBe(0);
  });
});
