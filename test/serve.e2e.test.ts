// `allsource serve` over a remote Core, end to end: one real Core server and two stateless MCP
// edges (startHostedMcpServer, as `serve --core` runs them) on 127.0.0.1:0, real MCP clients over
// streamable HTTP. The production checks: no key ⇒ 401 and nothing written; tenants see only
// their own data; a cold second instance counts exactly; a write through one instance is read
// through the other at once; read-only keys see only read tools; protocol 2025-06-18, 2025-11-25
// (SDK v1 client) and 2026-07-28 (SDK v2 client) clients all work; GET is 405; a foreign Origin or Host is refused.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHTTPClientTransportV2 } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreAdminClient } from '../src/core/http/index.js';
import { ALL_TOOLS } from '../tools/index.js';
import { startHostedMcpServer, type McpHttpServer } from '../transports/http.js';
import { startTestCore, TEST_ADMIN_KEY, type TestCore } from './helpers/coreServer.js';

let core: TestCore;
let one: McpHttpServer;
let two: McpHttpServer;
const keys: Record<string, string> = {};
const clients: Client[] = [];

async function connect(server: McpHttpServer, key: string | undefined): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } } });
  const client = new Client({ name: 'serve-e2e', version: '0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are checked field by field
type Json = Record<string, any>;

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; data: Json }> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { isError: r.isError === true, data: (r.structuredContent ?? {}) as Json };
}

async function post(url: string, body: unknown, headers: Record<string, string | undefined> = {}) {
  const res = await request(url, { method: 'POST', headers: Object.fromEntries(Object.entries({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }).filter(([, v]) => v !== undefined)) as Record<string, string>, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Json) : undefined };
}

beforeAll(async () => {
  core = await startTestCore();
  const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
  for (const tenant of ['alpha', 'beta', 'metered']) {
    await admin.createTenant(tenant);
    keys[tenant] = (await admin.createKey({ tenant })).key;
  }
  keys.alphaReader = (await admin.createKey({ tenant: 'alpha', read_only: true })).key;
  await admin.setQuota('metered', 5);
  await admin.close();
  const edge = { coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, host: '127.0.0.1', port: 0, logger: false as const };
  one = await startHostedMcpServer(edge);
  two = await startHostedMcpServer(edge);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await one?.close();
  await two?.close();
  await core?.cleanup();
});

describe('allsource serve over a remote Core', () => {
  it('refuses a missing or bad key with 401 and runs nothing', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'prime_add_node', arguments: { type: 'x' } } };
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${TEST_ADMIN_KEY}` }]) {
      const res = await post(`${one.url}/mcp`, body, headers);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.headers['www-authenticate']).not.toContain('resource_metadata');
    }
    // Key mode advertises no OAuth metadata: a client that saw it might drop its static header.
    const prm = await request(`${one.url}/.well-known/oauth-protected-resource`);
    expect(prm.statusCode).toBe(404);
    await prm.body.text();
    const inQuery = await post(`${one.url}/mcp?key=${keys.alpha}`, body);
    expect(inQuery.status).toBe(400);
    await expect(connect(one, undefined)).rejects.toThrow();
    const stats = await request(`${core.server.url}/api/v1/tenants/alpha/stats`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(((await stats.body.json()) as { events: number }).events).toBe(0);
  });

  it('scopes every call to the key: B cannot see A; a cold instance counts exactly; writes are fresh across instances', async () => {
    const a1 = await connect(one, keys.alpha);
    const ada = (await call(a1, 'prime_add_node', { type: 'person', properties: { name: 'Ada', note: 'wrote the first program' } })).data;
    expect((await call(a1, 'prime_get_node', { node_id: ada.id })).data.properties.name).toBe('Ada');
    const engine = (await call(a1, 'prime_add_node', { type: 'machine', properties: { name: 'Engine' } })).data;
    await call(a1, 'prime_add_edge', { source: ada.id, target: engine.id, relation: 'programmed' });

    const b2 = await connect(two, keys.beta);
    const stolen = await call(b2, 'prime_get_node', { node_id: ada.id });
    expect(stolen.isError).toBe(true);
    expect(stolen.data.error.code).toBe('not_found');
    expect((await call(b2, 'prime_recall', { text: 'who wrote the first program?' })).data.results).toEqual([]);
    expect((await call(b2, 'prime_stats')).data).toMatchObject({ nodes: 0, edges: 0 });

    // Instance two has never seen alpha: it hydrates from the Core and counts exactly.
    const a2 = await connect(two, keys.alpha);
    expect((await call(a2, 'prime_stats')).data).toMatchObject({ nodes: 2, edges: 1, events: 3 });
    // Now warm on both: a write through one is read through two on the very next call.
    const babbage = (await call(a1, 'prime_add_node', { type: 'person', properties: { name: 'Babbage' } })).data;
    expect((await call(a2, 'prime_get_node', { node_id: babbage.id })).data.properties.name).toBe('Babbage');
    expect((await call(a2, 'prime_stats')).data).toMatchObject({ nodes: 3, edges: 1, events: 4 });
    const recalled = (await call(a2, 'prime_recall', { text: 'Babbage' })).data.results.map((r: { node: { id: string } }) => r.node.id);
    expect(recalled).toContain(babbage.id);
  });

  it('keeps create_entities names unique across instances, racing writers included', async () => {
    const b1 = await connect(one, keys.beta);
    const b2 = await connect(two, keys.beta);
    const names = Array.from({ length: 8 }, (_, i) => `Person ${i}`);
    const batch = { entities: names.map((name) => ({ name, entityType: 'person', observations: [] })) };
    const [r1, r2] = await Promise.all([call(b1, 'create_entities', batch), call(b2, 'create_entities', batch)]);
    expect(r1.isError || r2.isError, JSON.stringify([r1.data, r2.data]).slice(0, 400)).toBe(false);
    const createdNames = [...r1.data.entities, ...r2.data.entities].map((e: { name: string }) => e.name).sort();
    expect(createdNames, 'each name created once, by one instance or the other').toEqual([...names].sort());
    const graph = (await call(b2, 'read_graph', { limit: 100 })).data.entities.map((e: { name: string }) => e.name).filter((n: string) => n.startsWith('Person '));
    expect(graph.sort()).toEqual([...names].sort());
    // Deleted through one instance, the name is free again through the other.
    await call(b1, 'delete_entities', { entityNames: ['Person 0'] });
    expect((await call(b2, 'create_entities', { entities: [{ name: 'Person 0', entityType: 'person', observations: ['back'] }] })).data.entities).toHaveLength(1);
    expect((await call(b1, 'create_entities', { entities: [{ name: 'Person 0', entityType: 'person', observations: [] }] })).data.entities).toHaveLength(0);
    expect((await call(b1, 'open_nodes', { names: ['Person 0'] })).data.entities[0].observations).toEqual(['back']);
  });

  it('drives all 43 tools as tenant B at tenant A\'s data and finds nothing of A\'s', async () => {
    const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
    await admin.createTenant('gamma');
    await admin.createTenant('delta');
    const gammaKey = (await admin.createKey({ tenant: 'gamma' })).key;
    const deltaKey = (await admin.createKey({ tenant: 'delta' })).key;
    await admin.close();
    const a = await connect(one, gammaKey);
    const marker = 'zanzibar-quokka';
    const ev = (await call(a, 'ingest_event', { entity_id: 'secret-entity', event_type: 'secret.recorded', payload: { text: `the ${marker} memo` } })).data;
    const n1 = (await call(a, 'prime_add_node', { type: 'secret', properties: { name: 'Secret Sam', text: `${marker} plans` } })).data;
    const n2 = (await call(a, 'prime_add_node', { type: 'secret', properties: { name: 'Secret Sue' } })).data;
    const edge = (await call(a, 'prime_add_edge', { source: n1.id, target: n2.id, relation: 'knows' })).data;
    await call(a, 'prime_embed', { id: 'secret-vector', text: `${marker} vector` });
    await call(a, 'create_entities', { entities: [{ name: 'Secret Entity', entityType: 'secret', observations: [marker] }] });
    const before = (await call(a, 'get_stats')).data;
    const secrets = [ev.event_id ?? ev.id, n1.id, n2.id, edge.id, 'secret-vector', 'Secret Sam', 'Secret Entity', marker, 'secret-entity', 'gamma'];

    const b = await connect(two, deltaKey);
    const probes: Record<string, Record<string, unknown>> = {
      ingest_event: { entity_id: 'secret-entity', event_type: 'probe', payload: {}, expected_version: 1 },
      ingest_events: { events: [{ entity_id: 'secret-entity', event_type: 'probe', payload: {} }], dry_run: true },
      query_events: { entity_id: 'secret-entity' },
      get_event: { event_id: ev.event_id ?? ev.id },
      reconstruct_state: { entity_id: 'secret-entity' },
      analyze_changes: { entity_id: 'secret-entity', from_time: '2000-01-01T00:00:00Z' },
      get_snapshot: { entity_id: 'secret-entity' },
      list_entities: {},
      list_event_types: {},
      get_stats: {},
      get_cluster_status: {},
      search_events: { query: marker },
      watch_events: { after: 0, timeout_ms: 0 },
      delete_events: { entity_id: 'secret-entity', reason: 'probe' },
      restore_events: { entity_id: 'secret-entity', reason: 'probe' },
      export_events: { format: 'jsonl' },
      import_events: { data: '', format: 'jsonl', validate_only: true },
      verify_integrity: {},
      prime_add_node: { type: 'probe' },
      prime_update_node: { node_id: n1.id, properties: { hacked: true } },
      prime_get_node: { node_id: n1.id },
      prime_forget: { node_id: n1.id },
      prime_add_edge: { source: n1.id, target: n2.id, relation: 'probe' },
      prime_remove_edge: { edge_id: edge.id },
      prime_neighbors: { node_id: n1.id },
      prime_search: { text: marker },
      prime_shortest_path: { from: n1.id, to: n2.id },
      prime_subgraph: { node_id: n1.id },
      prime_history: { node_id: n1.id },
      prime_embed: { id: 'probe-vector', text: 'probe' },
      prime_similar: { id: 'secret-vector' },
      prime_recall: { text: `${marker} plans` },
      prime_context: { query: marker },
      prime_stats: {},
      create_entities: { entities: [{ name: 'Probe', entityType: 'probe', observations: [] }] },
      create_relations: { relations: [{ from: 'Secret Entity', to: 'Probe', relationType: 'probe' }] },
      add_observations: { observations: [{ entityName: 'Secret Entity', contents: ['probe'] }] },
      delete_entities: { entityNames: ['Secret Entity'] },
      delete_observations: { deletions: [{ entityName: 'Secret Entity', observations: [marker] }] },
      delete_relations: { relations: [{ from: 'Secret Sam', to: 'Secret Sue', relationType: 'knows' }] },
      read_graph: {},
      search_nodes: { query: 'Secret' },
      open_nodes: { names: ['Secret Entity', 'Secret Sam'] },
    };
    expect(Object.keys(probes).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
    for (const [tool, args] of Object.entries(probes)) {
      const r = (await b.callTool({ name: tool, arguments: args })) as CallToolResult;
      const seen = JSON.stringify([r.structuredContent ?? null, r.content]);
      // An error may echo what B itself sent; anything else of A's must not appear.
      const sent = JSON.stringify(args);
      for (const secret of secrets) if (!sent.includes(secret)) expect(seen, `${tool} showed ${secret}`).not.toContain(secret);
      if (/^(get_event|reconstruct_state|get_snapshot|prime_get_node|prime_update_node|prime_forget|prime_neighbors|prime_history|prime_subgraph|prime_add_edge|prime_shortest_path|prime_remove_edge|prime_similar|add_observations|create_relations)$/.test(tool)) {
        expect(r.isError, `${tool} on A's id or name is an error in B's tenant`).toBe(true);
        expect((r.structuredContent as { error: { code: string } }).error.code, tool).toMatch(/^(not_found|invalid)$/);
      }
    }
    // Nothing B did changed A's data.
    const after = (await call(a, 'get_stats')).data;
    expect(after.events).toBe(before.events);
    expect((await call(a, 'prime_get_node', { node_id: n1.id })).data.properties).toEqual({ name: 'Secret Sam', text: `${marker} plans` });
    expect((await call(a, 'open_nodes', { names: ['Secret Entity'] })).data.entities).toHaveLength(1);
  });

  it('gateway mode: X-Tenant-Id is trusted only from a holder of the edge key', async () => {
    const edgeKey = 'edge-key-0123456789abcdef';
    const gateway = await startHostedMcpServer({ coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, gatewayKey: edgeKey, host: '127.0.0.1', port: 0, logger: false });
    try {
      const listTools = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
      const url = `${gateway.url}/mcp`;
      expect((await post(url, listTools, { 'x-tenant-id': 'alpha' })).status, 'no edge key').toBe(401);
      expect((await post(url, listTools, { 'x-tenant-id': 'alpha', authorization: `Bearer ${keys.alpha}` })).status, 'a tenant key is not the edge key').toBe(401);
      expect((await post(url, listTools, { authorization: `Bearer ${edgeKey}` })).status, 'no tenant').toBe(400);
      const readOnly = await post(url, listTools, { authorization: `Bearer ${edgeKey}`, 'x-tenant-id': 'alpha', 'x-tenant-read-only': 'true' });
      expect(readOnly.json?.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(ALL_TOOLS.filter((t) => !t.writes).map((t) => t.name).sort());
      const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${edgeKey}`, 'x-tenant-id': 'alpha' } } });
      const client = new Client({ name: 'gateway', version: '0' });
      await client.connect(transport);
      clients.push(client);
      expect((await call(client, 'prime_stats')).data.nodes, "alpha's nodes, through the gateway").toBeGreaterThanOrEqual(3);
    } finally {
      await gateway.close();
    }
  });

  it('limits each tenant to its rate with 429 and Retry-After, without touching other tenants', async () => {
    const limited = await startHostedMcpServer({ coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, rateLimit: { perSecond: 1, burst: 3 }, host: '127.0.0.1', port: 0, logger: false });
    try {
      const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
      const statuses: number[] = [];
      let retryAfter: string | string[] | undefined;
      for (let i = 0; i < 5; i++) {
        const res = await post(`${limited.url}/mcp`, ping, { authorization: `Bearer ${keys.alpha}` });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers['retry-after'];
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await post(`${limited.url}/mcp`, ping, { authorization: `Bearer ${keys.beta}` })).status, 'another tenant has its own bucket').toBe(200);
      expect(await (await request(`${limited.url}/metrics`)).body.text()).toMatch(/allsource_mcp_rate_limited_total 2/);
    } finally {
      await limited.close();
    }
  });

  it("holds a tenant's daily quota across instances: 429 with Retry-After past it, other tenants untouched", async () => {
    const headers = { authorization: `Bearer ${keys.metered}`, 'mcp-protocol-version': '2025-11-25' };
    const toolCall = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'ingest_event', arguments: { entity_id: 'meter', event_type: 'tick', payload: { n: id } } } });
    const answers = [];
    for (let i = 1; i <= 7; i++) answers.push(await post(`${(i % 2 === 0 ? two : one).url}/mcp`, toolCall(i), headers));
    expect(answers.slice(0, 5).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    for (const refused of answers.slice(5)) {
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers['retry-after']);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(86_400);
      expect(refused.json?.error.message).toMatch(/daily quota of 5 tool calls/);
      expect(refused.json?.id).toBe(answers.indexOf(refused) + 1);
    }
    // Exactly five ticks were written, and calls that are not tool calls still answer.
    const admin = new CoreAdminClient({ url: core.server.url, key: TEST_ADMIN_KEY });
    try {
      expect((await admin.getQuota('metered')).leased_today).toBe(5);
    } finally {
      await admin.close();
    }
    expect((await post(`${one.url}/mcp`, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, headers)).status).toBe(200);
    const alpha = await post(`${one.url}/mcp`, toolCall(10), { ...headers, authorization: `Bearer ${keys.alpha}` });
    expect(alpha.status).toBe(200);
    const metrics = await (await request(`${one.url}/metrics`)).body.text();
    expect(metrics).toMatch(/allsource_mcp_quota_refused_total [1-9]/);
  });

  it('serves read-only keys only the read tools, in tools/list and tools/call', async () => {
    const reader = await connect(one, keys.alphaReader);
    const listed = (await reader.listTools()).tools.map((t) => t.name).sort();
    expect(listed).toEqual(ALL_TOOLS.filter((t) => !t.writes).map((t) => t.name).sort());
    // A tool that is not served is a protocol error ("Tool prime_add_node not found").
    await expect(reader.callTool({ name: 'prime_add_node', arguments: { type: 'x' } })).rejects.toThrow(/not found/);
    expect((await call(reader, 'prime_stats')).isError).toBe(false);
  });

  it('answers clients of protocol 2025-06-18 and 2025-11-25, statelessly, on either instance', async () => {
    const latest = await connect(two, keys.alpha);
    expect(latest.getServerVersion()?.name).toBe('allsource');
    const headers = { authorization: `Bearer ${keys.alpha}` };
    const init = await post(`${one.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'old', version: '0' } } }, headers);
    expect(init.status).toBe(200);
    expect(init.json?.result.protocolVersion).toBe('2025-06-18');
    expect(init.headers['mcp-session-id']).toBeUndefined();
    // No session: the next request may land anywhere.
    const listed = await post(`${two.url}/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...headers, 'mcp-protocol-version': '2025-06-18' });
    expect(listed.status).toBe(200);
    expect(listed.json?.result.tools.length).toBe(ALL_TOOLS.length);
    const bogus = await post(`${two.url}/mcp`, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...headers, 'mcp-protocol-version': '1999-01-01' });
    expect(bogus.status).toBe(400);
  });

  it('answers a 2026-07-28 client (SDK v2, no handshake, Mcp-Method/Mcp-Name headers) beside the older ones', async () => {
    const client = new ClientV2({ name: 'serve-e2e-modern', version: '0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransportV2(new URL(`${one.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${keys.alpha}` } } }));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await client.listTools()).tools).toHaveLength(ALL_TOOLS.length);
      const stats = await client.callTool({ name: 'prime_stats', arguments: {} });
      expect(stats.isError).toBeFalsy();
      expect(typeof (stats.structuredContent as { nodes: number }).nodes).toBe('number');
      const bad = await client.callTool({ name: 'prime_get_node', arguments: { node_id: 'nope' } });
      expect(bad.isError).toBe(true);
      expect((bad.structuredContent as { error: { code: string } }).error.code).toBe('not_found');
    } finally {
      await client.close();
    }
    // The headers must match the body: a mismatched Mcp-Name is refused before anything runs.
    const mismatch = await post(`${one.url}/mcp`, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'prime_stats', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} } } }, { authorization: `Bearer ${keys.alpha}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'something_else' });
    expect(mismatch.status).toBe(400);
    expect(JSON.stringify(mismatch.json)).toMatch(/Mcp-Name/);
  });

  it('answers over SSE when started with responseMode sse: 2025 and 2026-07-28 clients alike', async () => {
    const sse = await startHostedMcpServer({ coreUrl: core.server.url, adminKey: TEST_ADMIN_KEY, host: '127.0.0.1', port: 0, logger: false, responseMode: 'sse' });
    try {
      const raw = await request(`${sse.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${keys.alpha}`, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'prime_stats', arguments: {} } }),
      });
      expect(raw.statusCode).toBe(200);
      expect(raw.headers['content-type']).toMatch(/^text\/event-stream/);
      const frames = (await raw.body.text()).split('\n').filter((line) => line.startsWith('data: ') && line.length > 6);
      expect(frames).toHaveLength(1);
      const answer = JSON.parse(frames[0].slice(6)) as Json;
      expect(answer.id).toBe(5);
      expect(typeof answer.result.structuredContent.nodes).toBe('number');

      const legacy = await connect(sse, keys.alpha);
      const added = await call(legacy, 'prime_add_node', { type: 'note', properties: { text: 'streamed over SSE' } });
      expect(added.isError).toBe(false);
      const modern = new ClientV2({ name: 'serve-e2e-sse', version: '0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await modern.connect(new StreamableHTTPClientTransportV2(new URL(`${sse.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${keys.alpha}` } } }));
      try {
        const got = await modern.callTool({ name: 'prime_get_node', arguments: { node_id: added.data.id } });
        expect(got.isError).toBeFalsy();
        expect(JSON.stringify(got.structuredContent)).toContain('streamed over SSE');
      } finally {
        await modern.close();
      }
    } finally {
      await sse.close();
    }
  });

  it('offers no GET stream (405), refuses foreign Origins and Hosts (403), limits bodies (413)', async () => {
    const get = await request(`${one.url}/mcp`, { headers: { authorization: `Bearer ${keys.alpha}`, accept: 'text/event-stream' } });
    expect(get.statusCode).toBe(405);
    await get.body.text();
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const headers = { authorization: `Bearer ${keys.alpha}` };
    expect((await post(`${one.url}/mcp`, ping, { ...headers, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(`${one.url}/mcp`, ping, { ...headers, host: 'evil.example' })).status).toBe(403);
    expect((await post(`${one.url}/mcp`, ping, { ...headers, origin: 'http://localhost:5173' })).status).toBe(200);
    const big = await post(`${one.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ingest_event', arguments: { entity_id: 'e', event_type: 't', payload: { text: 'x'.repeat(17 * 1024 * 1024) } } } }, headers);
    expect(big.status).toBe(413);
    const metrics = await (await request(`${one.url}/metrics`)).body.text();
    expect(metrics).toMatch(/allsource_mcp_tool_calls_total\{tool="prime_add_node",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(/allsource_mcp_warm_tenants [1-9]/);
    expect(metrics).not.toContain('alpha');
  });
});
