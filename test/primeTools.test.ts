// The 16 Prime tools through the real thing: an MCP Client over the SDK's in-memory transport to
// createAllsourceServer with a real PrimeService on a real EmbeddedCore. Every tool's happy path
// and main errors (named arguments, nothing written on error), as_of on reads, exact counters
// from the writing server and from a cold one, and recall over nodes written by prime_add_node and
// by create_entities. Every structuredContent is checked strictly against the declared outputSchema.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { ALL_TOOLS, PRIME_TOOLS } from '../tools/index.js';
import { createAllsourceServer, type ToolContext } from '../tools/registry.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-prime-tools-'));
let dirCount = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OUTPUT_SCHEMAS = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Client_ {
  client: Client;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** The text of a tool result (its rendering). */
  text(name: string, args?: Record<string, unknown>): Promise<string>;
  fail(name: string, args?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** An MCP client on a server for `tenant` of `store`, with Prime `prime`. */
async function connectTo(store: EmbeddedCore, prime: PrimeService, tenant = 'acme'): Promise<Client_> {
  const server = createAllsourceServer({ store, prime, tenant, mode: 'local', log: () => {} });
  const client = new Client({ name: 'prime-tools-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  await client.listTools();
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;
  const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return {
    client,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = await call(name, args);
      expect(result.isError, `${name} failed: ${textOf(result)}`).toBeFalsy();
      expect(textOf(result).length).toBeGreaterThan(0);
      return OUTPUT_SCHEMAS.get(name)!.parse(result.structuredContent) as T;
    },
    async text(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const result = await call(name, args);
      expect(result.isError, `${name} failed: ${textOf(result)}`).toBeFalsy();
      return textOf(result);
    },
    async fail(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const result = await call(name, args);
      expect(result.isError, `${name} should have failed`).toBe(true);
      const text = textOf(result);
      expect(text).toMatch(/^(invalid|not_found|conflict|unavailable|internal): /);
      expect(text).not.toMatch(/\n\s+at /);
      const { error } = result.structuredContent as { error: { code: string; message: string } };
      expect(`${error.code}: ${error.message}`).toBe(text);
      return text;
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

interface Harness extends Client_ {
  store: EmbeddedCore;
  prime: PrimeService;
  dataDir: string;
}

async function connect(tenant = 'acme'): Promise<Harness> {
  const dataDir = join(root, `data-${++dirCount}`);
  const store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
  const prime = createPrimeService({ store, log: () => {} });
  const c = await connectTo(store, prime, tenant);
  return {
    ...c,
    store,
    prime,
    dataDir,
    async close() {
      await c.close();
      await prime.close();
      await store.close();
    },
  };
}

interface Node {
  id: string;
  type: string;
  properties: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  version: number;
}
interface Edge {
  id: string;
  source: string;
  target: string;
  relation: string;
  properties: Record<string, unknown>;
  weight: number;
  created_at: string;
}
interface Stats {
  tenant: string;
  as_of: string | null;
  nodes: number;
  edges: number;
  events: number;
  vectors: number;
  node_types: Record<string, number>;
  relations: Record<string, number>;
  embedder: { name: string; kind: string; dims: number; source: string };
  cache: { warm: boolean; tenants_warm: number };
}
interface RecallHit {
  node: Node;
  score: number;
  score_parts: { semantic: number; lexical: number; graph: number; recency: number; importance: number };
  retrieval: string[];
  via: { node_id: string; relation: string } | null;
}
interface Recall {
  results: RecallHit[];
  embedder: { name: string; kind: string; dims: number; source: string };
  vector_index: { mode: string; vectors: number };
}

describe('prime tool listing', () => {
  let h: Harness;
  beforeEach(async () => (h = await connect()));
  afterEach(async () => h.close());

  it('lists the 16 prime tools in the prime group, with honest annotations and described arguments', async () => {
    const { tools } = await h.client.listTools();
    const prime = tools.filter((t) => t.name.startsWith('prime_'));
    expect(prime.map((t) => t.name)).toEqual(PRIME_TOOLS.map((t) => t.name));
    expect(prime).toHaveLength(16);
    expect(PRIME_TOOLS.every((t) => t.group === 'prime')).toBe(true);
    const byName = new Map(prime.map((t) => [t.name, t]));
    for (const name of ['prime_get_node', 'prime_neighbors', 'prime_search', 'prime_shortest_path', 'prime_subgraph', 'prime_history', 'prime_similar', 'prime_recall', 'prime_context', 'prime_stats']) {
      expect(byName.get(name)!.annotations!.readOnlyHint, name).toBe(true);
    }
    for (const name of ['prime_forget', 'prime_remove_edge']) expect(byName.get(name)!.annotations!.destructiveHint, name).toBe(true);
    expect(byName.get('prime_add_node')!.annotations!.idempotentHint).toBe(false);
    expect(new Set(byName.get('prime_add_edge')!.inputSchema.required)).toEqual(new Set(['source', 'target', 'relation']));
    expect(byName.get('prime_recall')!.description).toMatch(/prime_search/);
  });

  it('answers unavailable when the server has no Prime', async () => {
    const tool = PRIME_TOOLS.find((t) => t.name === 'prime_stats')!;
    const ctx = { store: h.store, tenant: 'acme', now: Date.now, mode: 'local', startedAt: 0, version: '0' } as ToolContext;
    await expect(tool.handler({}, ctx)).rejects.toMatchObject({ code: 'unavailable', message: 'Prime is not available on this server' });
  });
});

describe('nodes: add, update, get, forget, history', () => {
  let h: Harness;
  beforeEach(async () => (h = await connect()));
  afterEach(async () => h.close());

  it('adds a node and returns it with its id; update merges; get reads it now and as of before the update', async () => {
    const added = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada Lovelace', role: 'engineer', nickname: 'Ada' } });
    expect(added).toMatchObject({ type: 'person', properties: { name: 'Ada Lovelace', role: 'engineer', nickname: 'Ada' }, version: 1 });
    expect(added.id.length).toBeGreaterThan(0);
    expect(added.created_at).toBe(added.updated_at);
    expect(await h.text('prime_add_node', { type: 'topic' })).toMatch(/^Added topic /);

    await sleep(3);
    const updated = await h.ok<Node>('prime_update_node', { node_id: added.id, properties: { role: 'manager', nickname: null, team: { name: 'R&D' } } });
    expect(updated.properties).toEqual({ name: 'Ada Lovelace', role: 'manager', team: { name: 'R&D' } });
    expect(updated.version).toBe(2);
    expect(updated.created_at).toBe(added.created_at);
    expect(updated.updated_at > added.updated_at).toBe(true);

    const now = await h.ok<Node & { as_of: string | null }>('prime_get_node', { node_id: added.id });
    expect(now).toEqual({ ...updated, as_of: null });
    const before = await h.ok<Node & { as_of: string | null }>('prime_get_node', { node_id: added.id, as_of: added.created_at });
    expect(before.properties).toEqual({ name: 'Ada Lovelace', role: 'engineer', nickname: 'Ada' });
    expect(before.version).toBe(1);
    expect(before.as_of).toBe(added.created_at);
  });

  it('forget removes the node and its edges from reads; history and earlier as_of still show it', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    const acme = await h.ok<Node>('prime_add_node', { type: 'org', properties: { name: 'Acme' } });
    const edge = await h.ok<Edge>('prime_add_edge', { source: ada.id, target: acme.id, relation: 'works_at' });
    await sleep(3);
    const forgotten = await h.ok<{ node_id: string; edges_removed: number; vectors_removed: number }>('prime_forget', { node_id: ada.id, reason: 'test' });
    expect(forgotten).toMatchObject({ node_id: ada.id, edges_removed: 1, already_forgotten: false });
    expect(forgotten.vectors_removed).toBeGreaterThanOrEqual(0);

    expect(await h.fail('prime_get_node', { node_id: ada.id })).toMatch(/^not_found: node_id: .*\. Next: prime_search or prime_recall/);
    const stats = await h.ok<Stats>('prime_stats');
    expect(stats).toMatchObject({ nodes: 1, edges: 0, events: 4 });
    const neighbors = await h.ok<{ neighbors: unknown[] }>('prime_neighbors', { node_id: acme.id });
    expect(neighbors.neighbors).toEqual([]);

    const earlier = await h.ok<Node>('prime_get_node', { node_id: ada.id, as_of: edge.created_at });
    expect(earlier.properties).toEqual({ name: 'Ada' });
    const earlierNeighbors = await h.ok<{ neighbors: Array<{ node: Node }> }>('prime_neighbors', { node_id: acme.id, as_of: edge.created_at });
    expect(earlierNeighbors.neighbors.map((n) => n.node.id)).toEqual([ada.id]);

    const history = await h.ok<{ node_id: string; events: Array<{ event_type: string; entity_id: string }>; count: number; truncated: boolean }>('prime_history', { node_id: ada.id });
    expect(history.events.map((e) => e.event_type)).toEqual(['prime.node.created', 'prime.edge.created', 'prime.node.deleted']);
    expect(history).toMatchObject({ count: 3, truncated: false });
    const limited = await h.ok<{ events: Array<{ event_type: string }>; truncated: boolean }>('prime_history', { node_id: ada.id, limit: 1 });
    expect(limited.events.map((e) => e.event_type)).toEqual(['prime.node.deleted']);
    expect(limited.truncated).toBe(true);
    const historyBefore = await h.ok<{ events: Array<{ event_type: string }> }>('prime_history', { node_id: ada.id, as_of: edge.created_at });
    expect(historyBefore.events.map((e) => e.event_type)).toEqual(['prime.node.created', 'prime.edge.created']);
    expect(await h.text('prime_history', { node_id: ada.id })).toMatch(/^3 events touched /);

    // A second forget changes nothing and says so (tests in primeRetries.test.ts).
    expect(await h.ok('prime_forget', { node_id: ada.id })).toMatchObject({ already_forgotten: true, edges_removed: 0 });
  });

  it('names the bad argument and writes nothing on every error', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    const before = await h.ok<Stats>('prime_stats');

    expect(await h.fail('prime_add_node', {})).toMatch(/^invalid: type: is required/);
    expect(await h.fail('prime_add_node', { type: 'person', properties: ['not', 'an', 'object'] })).toMatch(/^invalid: properties: /);
    expect(await h.fail('prime_add_node', { type: 'person', colour: 'red' })).toMatch(/^invalid: unknown argument "colour"/);
    expect(await h.fail('prime_add_node', { type: 'x'.repeat(201) })).toMatch(/^invalid: type: /);
    expect(await h.fail('prime_update_node', { node_id: 'no-such-node', properties: { a: 1 } })).toMatch(/^not_found: node_id: .*no-such-node/);
    expect(await h.fail('prime_update_node', { node_id: ada.id })).toMatch(/^invalid: properties: is required/);
    expect(await h.fail('prime_get_node', { node_id: 'no-such-node' })).toMatch(/^not_found: node_id: /);
    expect(await h.fail('prime_get_node', { node_id: ada.id, as_of: 'yesterday' })).toMatch(/^invalid: as_of: /);
    expect(await h.fail('prime_forget', { node_id: 'no-such-node' })).toMatch(/^not_found: node_id: /);
    expect(await h.fail('prime_add_edge', { source: ada.id, target: 'no-such-node', relation: 'knows' })).toMatch(/^not_found: target: /);
    expect(await h.fail('prime_add_edge', { source: 'ghost', target: ada.id, relation: 'knows' })).toMatch(/^not_found: source: /);
    expect(await h.fail('prime_add_edge', { source: ada.id, target: ada.id, relation: 'knows', weight: -1 })).toMatch(/^invalid: weight: /);
    expect(await h.fail('prime_remove_edge', { edge_id: 'no-such-edge' })).toMatch(/^not_found: edge_id: .*\. Next: prime_neighbors/);
    expect(await h.fail('prime_remove_edge', {})).toMatch(/^invalid: source: /);
    expect(await h.fail('prime_neighbors', { node_id: ada.id, direction: 'up' })).toMatch(/^invalid: direction: /);
    expect(await h.fail('prime_neighbors', { node_id: ada.id, depth: 0 })).toMatch(/^invalid: depth: /);
    expect(await h.fail('prime_neighbors', { node_id: 'ghost' })).toMatch(/^not_found: node_id: /);
    expect(await h.fail('prime_shortest_path', { from: ada.id, to: 'ghost' })).toMatch(/^not_found: to: /);
    expect(await h.fail('prime_subgraph', { node_id: 'ghost' })).toMatch(/^not_found: node_id: /);
    expect(await h.fail('prime_history', { node_id: 'ghost' })).toMatch(/^not_found: node_id: /);
    expect(await h.fail('prime_embed', { id: 'v1' })).toMatch(/^invalid: text: /);
    expect(await h.fail('prime_embed', { id: 'v1', vector: ['a'] })).toMatch(/^invalid: vector\[0\]: /);
    expect(await h.fail('prime_similar', {})).toMatch(/^invalid: id: /);
    expect(await h.fail('prime_similar', { id: 'no-vector-here' })).toMatch(/^not_found: id: /);
    expect(await h.fail('prime_recall', { text: 'x', top_k: 0 })).toMatch(/^invalid: top_k: /);
    expect(await h.fail('prime_context', {})).toMatch(/^invalid: query: is required/);
    expect(await h.fail('prime_stats', { as_of: 'not a time' })).toMatch(/^invalid: as_of: /);

    const after = await h.ok<Stats>('prime_stats');
    expect(after.events).toBe(before.events);
    expect(after.nodes).toBe(1);
    expect((await h.store.stats('acme')).events).toBe(before.events);
  });
});

describe('counters', () => {
  it('2 nodes + 1 edge is 2 nodes, 1 edge, 3 events, from the writing server and from a cold one', async () => {
    const h = await connect('fresh-tenant');
    try {
      const a = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'A' } });
      const b = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'B' } });
      await h.ok('prime_add_edge', { source: a.id, target: b.id, relation: 'knows' });
      const warm = await h.ok<Stats>('prime_stats');
      expect(warm).toMatchObject({ tenant: 'fresh-tenant', as_of: null, nodes: 2, edges: 1, events: 3, node_types: { person: 2 }, relations: { knows: 1 } });

      const coldPrime = createPrimeService({ store: h.store, log: () => {} });
      const cold = await connectTo(h.store, coldPrime, 'fresh-tenant');
      try {
        const stats = await cold.ok<Stats>('prime_stats');
        expect(stats).toMatchObject({ nodes: 2, edges: 1, events: 3, node_types: { person: 2 }, relations: { knows: 1 } });
        expect(stats.cache.warm).toBe(false);
        expect((await cold.ok<Stats>('prime_stats')).cache.warm).toBe(true);
        // A write through the warm original is seen by the (now warm) second service too.
        await h.ok('prime_add_node', { type: 'person', properties: { name: 'C' } });
        expect(await cold.ok<Stats>('prime_stats')).toMatchObject({ nodes: 3, edges: 1, events: 4 });
        expect(await h.ok<Stats>('prime_stats')).toMatchObject({ nodes: 3, edges: 1, events: 4 });
      } finally {
        await cold.close();
        await coldPrime.close();
      }
      // Another tenant of the same store sees nothing.
      const other = await connectTo(h.store, h.prime, 'other-tenant');
      try {
        expect(await other.ok<Stats>('prime_stats')).toMatchObject({ nodes: 0, edges: 0, events: 0 });
      } finally {
        await other.close();
      }
    } finally {
      await h.close();
    }
  });
});

describe('edges and graph reads', () => {
  let h: Harness;
  let ada: Node, bob: Node, acme: Node, paris: Node;
  beforeEach(async () => {
    h = await connect();
    ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada', email: 'ada@example.com' } });
    // Reads as_of ada.created_at must see Ada alone, and timestamps have millisecond resolution.
    await sleep(3);
    bob = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Bob' } });
    acme = await h.ok<Node>('prime_add_node', { type: 'org', properties: { name: 'Acme', description: 'maker of analytical engines' } });
    paris = await h.ok<Node>('prime_add_node', { type: 'city', properties: { name: 'Paris' } });
  });
  afterEach(async () => h.close());

  it('adds edges, walks neighbors by direction, relation and depth, finds paths and subgraphs', async () => {
    const works = await h.ok<Edge>('prime_add_edge', { source: ada.id, target: acme.id, relation: 'works_at', properties: { since: '2021' }, weight: 2 });
    expect(works).toMatchObject({ source: ada.id, target: acme.id, relation: 'works_at', properties: { since: '2021' }, weight: 2 });
    await h.ok<Edge>('prime_add_edge', { source: bob.id, target: acme.id, relation: 'works_at' });
    await h.ok<Edge>('prime_add_edge', { source: acme.id, target: paris.id, relation: 'located_in' });
    expect(await h.text('prime_add_edge', { source: ada.id, target: bob.id, relation: 'knows' })).toMatch(/^Added .* -\[knows\]-> /);

    type Neighbors = { node_id: string; neighbors: Array<{ node: Node; edge: Edge; depth: number; direction: string }>; truncated: boolean };
    const out = await h.ok<Neighbors>('prime_neighbors', { node_id: ada.id, direction: 'out' });
    expect(out.neighbors.map((n) => n.node.properties.name).sort()).toEqual(['Acme', 'Bob']);
    expect(out.neighbors.every((n) => n.depth === 1 && n.direction === 'out')).toBe(true);
    const into = await h.ok<Neighbors>('prime_neighbors', { node_id: acme.id, direction: 'in', relation: 'works_at' });
    expect(into.neighbors.map((n) => n.node.properties.name).sort()).toEqual(['Ada', 'Bob']);
    const deep = await h.ok<Neighbors>('prime_neighbors', { node_id: ada.id, relation: 'works_at', depth: 2 });
    expect(deep.neighbors.map((n) => [n.node.properties.name, n.depth])).toEqual(expect.arrayContaining([['Acme', 1], ['Bob', 2]]));
    const limited = await h.ok<Neighbors>('prime_neighbors', { node_id: ada.id, limit: 1 });
    expect(limited.neighbors).toHaveLength(1);
    expect(limited.truncated).toBe(true);

    type Path = { found: boolean; length: number | null; nodes: Node[]; edges: Edge[] };
    const path = await h.ok<Path>('prime_shortest_path', { from: bob.id, to: paris.id });
    expect(path.found).toBe(true);
    expect(path.length).toBe(2);
    expect(path.nodes.map((n) => n.properties.name)).toEqual(['Bob', 'Acme', 'Paris']);
    expect(path.edges.map((e) => e.relation)).toEqual(['works_at', 'located_in']);
    expect(await h.text('prime_shortest_path', { from: bob.id, to: paris.id })).toMatch(/^Path of 2 edges: Bob/);
    const none = await h.ok<Path>('prime_shortest_path', { from: bob.id, to: paris.id, relation: 'knows' });
    expect(none).toEqual({ found: false, length: null, nodes: [], edges: [] });

    type Sub = { nodes: Node[]; edges: Edge[]; truncated: boolean };
    const sub = await h.ok<Sub>('prime_subgraph', { node_id: acme.id });
    expect(sub.nodes.map((n) => n.properties.name).sort()).toEqual(['Acme', 'Ada', 'Bob', 'Paris']);
    expect(sub.edges.length).toBeGreaterThanOrEqual(3);
    const self = await h.ok<Sub>('prime_subgraph', { node_id: paris.id, depth: 0 });
    expect(self.nodes.map((n) => n.id)).toEqual([paris.id]);
  });

  it('removes an edge by id or by source, target and relation; reads as_of still see it', async () => {
    const e1 = await h.ok<Edge>('prime_add_edge', { source: ada.id, target: acme.id, relation: 'works_at' });
    await sleep(3); // timestamps have ms resolution: keep the second edge out of as_of e1.created_at
    await h.ok<Edge>('prime_add_edge', { source: ada.id, target: bob.id, relation: 'knows' });
    await sleep(3);
    const byId = await h.ok<{ removed: Edge[]; count: number }>('prime_remove_edge', { edge_id: e1.id });
    expect(byId.count).toBe(1);
    expect(byId.removed[0]).toMatchObject({ id: e1.id, relation: 'works_at' });
    const byTriple = await h.ok<{ removed: Edge[]; count: number }>('prime_remove_edge', { source: ada.id, target: bob.id, relation: 'knows' });
    expect(byTriple.count).toBe(1);
    expect((await h.ok<Stats>('prime_stats')).edges).toBe(0);
    expect((await h.ok<{ neighbors: unknown[] }>('prime_neighbors', { node_id: ada.id })).neighbors).toEqual([]);
    const then = await h.ok<{ neighbors: unknown[] }>('prime_neighbors', { node_id: ada.id, as_of: e1.created_at });
    expect(then.neighbors).toHaveLength(1);
    expect(await h.ok('prime_remove_edge', { edge_id: e1.id })).toEqual({ removed: [], count: 0 });
  });

  it('searches by type, by properties and by words, as of an instant too', async () => {
    type Search = { nodes: Array<Node & { score: number | null }>; count: number };
    const people = await h.ok<Search>('prime_search', { type: 'person' });
    expect(people.nodes.map((n) => n.properties.name)).toEqual(['Ada', 'Bob']);
    expect(people.nodes.every((n) => n.score === null)).toBe(true);
    expect(people.count).toBe(2);
    const byEmail = await h.ok<Search>('prime_search', { properties: { email: 'ada@example.com' } });
    expect(byEmail.nodes.map((n) => n.id)).toEqual([ada.id]);
    const byWords = await h.ok<Search>('prime_search', { text: 'analytical engine' });
    expect(byWords.nodes.map((n) => n.id)).toEqual([acme.id]);
    expect(byWords.nodes[0].score).toBeGreaterThan(0);
    const limited = await h.ok<Search>('prime_search', { limit: 1 });
    expect(limited.count).toBe(1);
    const asOf = await h.ok<Search>('prime_search', { type: 'person', as_of: ada.created_at });
    expect(asOf.nodes.map((n) => n.id)).toEqual([ada.id]);
  });
});

describe('vectors, recall and context', () => {
  let h: Harness;
  beforeEach(async () => (h = await connect()));
  afterEach(async () => h.close());

  it('embeds text and vectors and finds the nearest by id, text or vector', async () => {
    const stored = await h.ok<{ id: string; dims: number; embedder: string; node_id: string | null }>('prime_embed', {
      id: 'doc-1',
      text: 'quarterly sales report for the northern region',
      metadata: { source: 'notes' },
    });
    expect(stored).toMatchObject({ id: 'doc-1', node_id: null });
    expect(stored.dims).toBeGreaterThan(0);
    await h.ok('prime_embed', { id: 'doc-2', text: 'recipe for sourdough bread' });
    type Similar = { results: Array<{ id: string; score: number; node: Node | null; metadata: Record<string, unknown> }>; embedder: { name: string }; vector_index: { mode: string } };
    const byText = await h.ok<Similar>('prime_similar', { text: 'sales report', top_k: 1 });
    expect(byText.results.map((r) => r.id)).toEqual(['doc-1']);
    expect(byText.results[0].metadata).toEqual({ source: 'notes' });
    expect(byText.embedder.name).toBe(stored.embedder);

    const node = await h.ok<Node>('prime_add_node', { type: 'note', properties: { text: 'northern region sales grew' } });
    const byId = await h.ok<Similar>('prime_similar', { id: 'doc-1' });
    expect(byId.results.map((r) => r.id)).not.toContain('doc-1');
    const nodeHit = byId.results.find((r) => r.id === node.id);
    expect(nodeHit?.node?.id).toBe(node.id);

    const custom = await h.ok<{ dims: number; embedder: string; node_id: string | null }>('prime_embed', { id: node.id, vector: [1, 0, 0], new_space: true });
    expect(custom).toMatchObject({ dims: 3, node_id: node.id });
    await h.ok('prime_embed', { id: 'v-2', vector: [0, 1, 0] });
    const byVector = await h.ok<Similar>('prime_similar', { vector: [0.9, 0.1, 0], top_k: 2 });
    expect(byVector.results.map((r) => r.id)).toEqual([node.id, 'v-2']);
    expect(await h.text('prime_similar', { vector: [0.9, 0.1, 0], top_k: 2 })).toMatch(/^2 similar vectors/);
  });

  it('a newer fact wins over the one it replaced, when each is its own node', async () => {
    const berlin = await h.ok<Node>('prime_add_node', { type: 'memory', properties: { text: 'Maya lives in Berlin, in a flat near the river.' } });
    await h.ok('prime_add_node', { type: 'memory', properties: { text: 'Maya likes green tea and long walks.' } });
    await h.ok('prime_add_node', { type: 'memory', properties: { text: 'Tom works at Acme as an engineer.' } });
    const lisbon = await h.ok<Node>('prime_add_node', { type: 'memory', properties: { text: 'Maya moved to Lisbon last week.' } });
    await h.ok('prime_add_node', { type: 'memory', properties: { text: 'Maya adopted a cat named Pixel.' } });
    const live = await h.ok<Recall>('prime_recall', { text: 'Where does Maya live?', top_k: 3 });
    expect(live.results.map((r) => r.node.id).slice(0, 2)).toEqual([lisbon.id, berlin.id]);
    // The newest memory about Maya is not the answer to every question about her.
    const tea = await h.ok<Recall>('prime_recall', { text: 'Does Maya drink green tea?', top_k: 1 });
    expect(tea.results[0].node.properties.text).toMatch(/green tea/);
  });

  it('an unrelated question recalls nothing rather than the nearest memories', async () => {
    await h.ok('prime_add_node', { type: 'person', properties: { name: 'Ada', notes: 'prefers morning meetings over lunch' } });
    await h.ok('prime_add_node', { type: 'topic', properties: { name: 'Gardening', text: 'tomatoes need sun and daily watering' } });
    const unrelated = await h.ok<Recall>('prime_recall', { text: 'xylophone zeppelin' });
    expect(unrelated.results).toEqual([]);
    const related = await h.ok<Recall>('prime_recall', { text: 'watering tomatoes' });
    expect(related.results[0].node.properties.name).toBe('Gardening');
    expect(related.results[0].retrieval).not.toContain('semantic');
  });

  it('lists and writes cut long text with a marker; prime_get_node returns every byte', async () => {
    const notes = `Ada's lab notebook. ${'The engine computes Bernoulli numbers. '.repeat(23_000)}`; // ~900 KB
    const added = await h.call('prime_add_node', { type: 'notebook', properties: { name: 'Lab notebook', notes, tags: ['engine', 'bernoulli'] } });
    expect(JSON.stringify(added).length).toBeLessThan(20_000);
    const id = (added.structuredContent as unknown as Node).id;
    const recalled = await h.call('prime_recall', { text: 'Bernoulli numbers notebook', top_k: 1 });
    expect(JSON.stringify(recalled).length).toBeLessThan(20_000);
    const hit = (recalled.structuredContent as unknown as Recall).results[0].node;
    expect(hit.id).toBe(id);
    expect(hit.properties.name).toBe('Lab notebook');
    expect(hit.properties.tags).toEqual(['engine', 'bernoulli']);
    expect(String(hit.properties.notes)).toMatch(/^Ada's lab notebook\. The engine .*… \[\d+ more characters; prime_get_node shows all\]$/);
    const searched = await h.call('prime_search', { text: 'bernoulli' });
    expect(JSON.stringify(searched).length).toBeLessThan(20_000);
    const whole = await h.ok<Node>('prime_get_node', { node_id: id });
    expect(whole.properties.notes).toBe(notes);
  });

  it('recall finds nodes from prime_add_node and create_entities by their text, with score parts, retrieval and the embedder', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada', notes: 'prefers morning meetings over lunch' } });
    await h.ok('create_entities', { entities: [{ name: 'Grace Hopper', entityType: 'person', observations: ['invented the first compiler', 'admiral in the navy'] }] });
    await h.ok('prime_add_node', { type: 'topic', properties: { name: 'Gardening', text: 'tomatoes need sun' } });

    const meetings = await h.ok<Recall>('prime_recall', { text: 'when does Ada like to have meetings?' });
    expect(meetings.results[0].node.id).toBe(ada.id);
    const top = meetings.results[0];
    expect(top.score).toBeGreaterThan(0);
    expect(top.retrieval.length).toBeGreaterThan(0);
    // The offline embedder's vectors are labelled for what they are: spelling, not meaning.
    expect(top.retrieval.every((r) => ['vector', 'lexical', 'graph', 'recency'].includes(r))).toBe(true);
    expect(top.score_parts.lexical + top.score_parts.semantic).toBeGreaterThan(0);
    expect(Object.keys(top.score_parts).sort()).toEqual(['graph', 'importance', 'lexical', 'recency', 'semantic']);
    expect(meetings.embedder).toEqual(h.prime.embedderInfo);

    const compiler = await h.ok<Recall>('prime_recall', { text: 'who invented the compiler', top_k: 3 });
    expect(compiler.results[0].node.properties.name).toBe('Grace Hopper');
    expect(compiler.results[0].node.type).toBe('person');
    expect(compiler.results[0].retrieval).toContain('lexical');

    const onlyTopics = await h.ok<Recall>('prime_recall', { text: 'compiler meetings tomatoes', node_type: 'topic' });
    expect(onlyTopics.results.every((r) => r.node.type === 'topic')).toBe(true);

    const rendered = await h.text('prime_recall', { text: 'who invented the compiler', top_k: 2 });
    expect(rendered.split('\n')[0]).toMatch(new RegExp(`^\\d+ memor(y|ies) \\(embedder ${h.prime.embedderInfo.name}`));
    expect(rendered.split('\n')[1]).toMatch(/^\d\.\d{3} \[[a-z+]+\] person Grace Hopper/);
    // The text content carries what each memory says (a client may show the model only that).
    expect(rendered.split('\n')[1]).toMatch(/: invented the first compiler; admiral in the navy/);
    const long = await h.ok<Node>('prime_add_node', { type: 'note', properties: { text: `zeppelin history ${'very long words '.repeat(200)}` } });
    const bounded = await h.text('prime_recall', { text: 'zeppelin history', top_k: 1 });
    expect(bounded).toContain(long.id);
    expect(bounded.length).toBeLessThan(600);
    expect(bounded).toMatch(/…$/);
  });

  it('recall follows graph links and answers as of an instant', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada', text: 'writes programs for the analytical engine' } });
    const babbage = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Charles' } });
    await h.ok('prime_add_edge', { source: ada.id, target: babbage.id, relation: 'collaborates_with' });
    const recall = await h.ok<Recall>('prime_recall', { text: 'analytical engine programs', depth: 1 });
    const viaGraph = recall.results.find((r) => r.node.id === babbage.id);
    expect(viaGraph?.retrieval).toContain('graph');
    // via names the seed only for a node found through the graph alone.
    const graphOnly = viaGraph!.score_parts.semantic === 0 && viaGraph!.score_parts.lexical === 0;
    expect(viaGraph!.via).toEqual(graphOnly ? { node_id: ada.id, relation: 'collaborates_with' } : null);
    const noGraph = await h.ok<Recall>('prime_recall', { text: 'analytical engine programs', depth: 0 });
    expect(noGraph.results.some((r) => r.retrieval.includes('graph'))).toBe(false);

    await sleep(3);
    const later = await h.ok<Node>('prime_add_node', { type: 'note', properties: { text: 'the analytical engine was never finished' } });
    const now = await h.ok<Recall>('prime_recall', { text: 'analytical engine' });
    expect(now.results.map((r) => r.node.id)).toContain(later.id);
    const before = await h.ok<Recall>('prime_recall', { text: 'analytical engine', as_of: ada.created_at });
    expect(before.results.map((r) => r.node.id)).toEqual([ada.id]);
  });

  it('context packs what is known into markdown within a token budget', async () => {
    await h.ok('prime_add_node', { type: 'person', properties: { name: 'Ada Lovelace', description: 'first programmer; prefers email over calls' } });
    const pack = await h.ok<{ context: string; tokens: number; memories: number; truncated: boolean }>('prime_context', { query: 'how should I contact Ada?' });
    expect(pack.context).toContain('Ada Lovelace');
    expect(pack.memories).toBeGreaterThanOrEqual(1);
    expect(pack.tokens).toBeGreaterThan(0);
    expect(await h.text('prime_context', { query: 'how should I contact Ada?' })).toBe(pack.context);
    const small = await h.ok<{ tokens: number }>('prime_context', { query: 'Ada', max_tokens: 64 });
    expect(small.tokens).toBeLessThanOrEqual(64);
  });

  it('stats as of an instant count what existed then', async () => {
    const a = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'A' } });
    await sleep(3);
    await h.ok('prime_add_node', { type: 'person', properties: { name: 'B' } });
    const then = await h.ok<Stats>('prime_stats', { as_of: a.created_at });
    expect(then).toMatchObject({ as_of: a.created_at, nodes: 1, events: 1 });
    expect(await h.text('prime_stats')).toMatch(/^2 nodes \(person 2\), 0 edges, \d+ vectors?, 2 events; embedder /);
  });
});
