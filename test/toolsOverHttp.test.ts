// All 43 MCP tools on HttpCore: one scripted session that calls every tool through a real MCP
// Client, run twice — on an EmbeddedCore in-process and on HttpCore against a real Core server
// on 127.0.0.1:0 — and the two transcripts must agree step by step (ids, times and hashes made
// neutral), so an agent cannot tell which store it is talking to.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { describe, expect, it } from 'vitest';
import { openHttpCore } from '../src/core/http/index.js';
import { createPrimeService } from '../src/prime/service.js';
import { openEmbeddedCore, type EventStore } from '../src/index.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer } from '../tools/registry.js';
import { startTestCore, TEST_ADMIN_KEY } from './helpers/coreServer.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- transcripts are walked generically
type Json = Record<string, any>;
interface Step {
  tool: string;
  result: Json;
  isError: boolean;
}

/** Runs the scripted session against `store`; returns the transcript. */
async function session(store: EventStore): Promise<Step[]> {
  const prime = createPrimeService({ store, vectorSearch: 'exact', log: () => {} });
  const server = createAllsourceServer({ store, prime, tenant: 'agent-1', mode: 'hosted', log: () => {} });
  const client = new Client({ name: 'over-http-test', version: '0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  const steps: Step[] = [];
  const call = async (tool: string, args: Json = {}): Promise<Json> => {
    const r = await client.callTool({ name: tool, arguments: args });
    const result = (r.structuredContent ?? {}) as Json;
    steps.push({ tool, result, isError: r.isError === true });
    return result;
  };
  try {
    const first = await call('ingest_event', { entity_id: 'user-1', event_type: 'user.signed_up', payload: { plan: 'free', name: 'Ada Lovelace' } });
    await call('ingest_events', { events: [
      { entity_id: 'user-1', event_type: 'user.upgraded', payload: { plan: 'pro' } },
      { entity_id: 'user-2', event_type: 'user.signed_up', payload: { plan: 'free', name: 'Alan Turing' } },
    ] });
    await call('ingest_event', { entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'Ada King' }, expected_version: 1 }); // conflict: it is at 2
    await call('query_events', { entity_prefix: 'user-', limit: 2 });
    await call('query_events', { payload_equals: { plan: 'free' } });
    await call('get_event', { event_id: first.event_id ?? first.id });
    await call('reconstruct_state', { entity_id: 'user-1' });
    await call('reconstruct_state', { entity_id: 'nobody' });
    await call('analyze_changes', { entity_id: 'user-1', from_time: '2000-01-01T00:00:00Z' });
    await call('get_snapshot', { entity_id: 'user-1' });
    await call('list_entities', {});
    await call('list_event_types', { prefix: 'user.' });
    await call('get_stats');
    await call('get_cluster_status');
    await call('search_events', { query: 'turing' });
    await call('watch_events', { after: 0, timeout_ms: 0, limit: 2 });
    await call('delete_events', { entity_id: 'user-2', reason: 'test', dry_run: true });
    await call('delete_events', { entity_id: 'user-2', reason: 'gdpr' });
    await call('restore_events', { entity_id: 'user-2', reason: 'mistake' });
    const exported = await call('export_events', { format: 'jsonl', entity_id: 'user-1' });
    await call('import_events', { data: exported.data ?? exported.content ?? '', format: 'jsonl', entity_id_prefix: 'copy-', validate_only: true });
    await call('verify_integrity');

    const ada = await call('prime_add_node', { type: 'person', properties: { name: 'Ada', note: 'wrote the first program for the analytical engine' } });
    const engine = await call('prime_add_node', { type: 'machine', properties: { name: 'Analytical Engine', note: 'designed by Babbage' } });
    const babbage = await call('prime_add_node', { type: 'person', properties: { name: 'Babbage' } });
    await call('prime_update_node', { node_id: ada.id, properties: { born: 1815 } });
    await call('prime_get_node', { node_id: ada.id });
    const edge = await call('prime_add_edge', { source: ada.id, target: engine.id, relation: 'programmed' });
    await call('prime_add_edge', { source: babbage.id, target: engine.id, relation: 'designed', weight: 2 });
    await call('prime_neighbors', { node_id: engine.id, direction: 'both' });
    await call('prime_search', { type: 'person' });
    await call('prime_shortest_path', { from: ada.id, to: babbage.id });
    await call('prime_subgraph', { node_id: engine.id, depth: 1 });
    await call('prime_history', { node_id: ada.id });
    await call('prime_embed', { id: 'memo-1', text: 'the engine used punched cards' });
    await call('prime_similar', { text: 'punched cards', top_k: 3 });
    await call('prime_recall', { text: 'who programmed the analytical engine?', top_k: 3 });
    await call('prime_context', { query: 'analytical engine', max_tokens: 300 });
    await call('prime_stats');
    await call('prime_remove_edge', { edge_id: edge.id });
    await call('prime_forget', { node_id: babbage.id, reason: 'test' });

    await call('create_entities', { entities: [
      { name: 'Grace', entityType: 'person', observations: ['wrote a compiler'] },
      { name: 'COBOL', entityType: 'language', observations: [] },
    ] });
    await call('create_relations', { relations: [{ from: 'Grace', to: 'COBOL', relationType: 'influenced' }] });
    await call('add_observations', { observations: [{ entityName: 'Grace', contents: ['admiral'] }] });
    await call('delete_observations', { deletions: [{ entityName: 'Grace', observations: ['admiral'] }] });
    await call('read_graph', { limit: 10 });
    await call('search_nodes', { query: 'compiler' });
    await call('open_nodes', { names: ['Grace', 'Nobody'] });
    await call('delete_relations', { relations: [{ from: 'Grace', to: 'COBOL', relationType: 'influenced' }] });
    await call('delete_entities', { entityNames: ['COBOL'] });
    await call('get_stats');
  } finally {
    await client.close();
    await server.close();
    await prime.close();
  }
  return steps;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The transcript with what legitimately differs between two runs made neutral. */
function neutral(value: unknown, ids: Map<string, string>, key = ''): unknown {
  if (typeof value === 'string') {
    if (ISO.test(value)) return '<time>';
    if (/^[0-9a-f]{64}$/.test(value)) return '<hash>';
    if (UUID.test(value) || /^[0-9A-Za-z_-]{20,}$/.test(value)) {
      if (!ids.has(value)) ids.set(value, `<id${ids.size}>`);
      return ids.get(value);
    }
    // Ids and times inside text renderings and exports.
    return value.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `<id${ids.size}>`);
      return ids.get(id)!;
    }).replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>').replace(/[0-9a-f]{64}/g, '<hash>');
  }
  if (typeof value === 'number' && /(_ms|uptime|seconds|bytes|cursor)$/.test(key)) return '<n>';
  // Recency decays with the clock between two runs: compare scores to 6 decimals.
  if (typeof value === 'number' && !Number.isInteger(value)) return Math.round(value * 1e6) / 1e6;
  if (Array.isArray(value)) return value.map((v) => neutral(v, ids, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k.endsWith('cursor') && typeof v === 'string' ? '<cursor>' : neutral(v, ids, k);
    return out;
  }
  return value;
}

describe('the 43 MCP tools on HttpCore', () => {
  it('answer a scripted session exactly as they do on EmbeddedCore', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allsource-tools-http-'));
    const embedded = await openEmbeddedCore({ dataDir: dir, durability: 'none', log: () => {} });
    let local: Step[];
    try {
      local = await session(embedded);
    } finally {
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }

    const core = await startTestCore();
    const remote = await openHttpCore({ url: core.server.url, key: TEST_ADMIN_KEY });
    let overHttp: Step[];
    try {
      overHttp = await session(remote);
    } finally {
      await remote.close();
      await core.cleanup();
    }

    expect(new Set(local.map((s) => s.tool)), 'the session calls every tool').toEqual(new Set(ALL_TOOLS.map((t) => t.name)));
    expect(overHttp.map((s) => [s.tool, s.isError])).toEqual(local.map((s) => [s.tool, s.isError]));
    // Only the expected failures fail: the stale expected_version and the missing entity.
    expect(local.filter((s) => s.isError).map((s) => s.tool)).toEqual(['ingest_event', 'reconstruct_state']);
    const localIds = new Map<string, string>();
    const httpIds = new Map<string, string>();
    for (let i = 0; i < local.length; i++) {
      if (local[i].tool === 'get_cluster_status') continue; // names the store kind: embedded vs http
      expect(neutral(overHttp[i].result, httpIds), `step ${i}: ${local[i].tool}`).toEqual(neutral(local[i].result, localIds));
    }
  }, 60_000);
});
