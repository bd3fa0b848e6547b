// The Prime service on a real EmbeddedCore: the warm cache's write-once-apply-once rule (exact
// counters warm and cold, in the writer and in another process's view), as-of reads folded from
// the log prefix, tombstones and hand-written events, graph walks, recall and context packs, and
// a non-deterministic embedder whose vectors are stored in the log rather than recomputed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { createHashEmbedder } from '../src/embed/hashEmbedder.js';
import type { Embedder } from '../src/embed/types.js';
import { createPrimeService } from '../src/prime/service.js';
import { PRIME_EVENTS } from '../src/prime/events.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-prime-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let store: EmbeddedCore;
let dataDir: string;
beforeEach(async () => {
  dataDir = join(root, `d${dirs++}`);
  store = await openEmbeddedCore({ dataDir, durability: 'none' });
});
afterEach(async () => {
  await store.close();
});

describe('warm cache and counters', () => {
  it('counts 2 nodes + 1 edge as 3 events in the writer (warm and cold) and in a cold reader', async () => {
    const writer = createPrimeService({ store });
    const a = await writer.addNode('t', { type: 'person', properties: { name: 'Ada' } });
    const b = await writer.addNode('t', { type: 'person', properties: { name: 'Grace' } });
    expect(writer.isWarm('t')).toBe(false); // a write alone never hydrates
    // An edge must name live nodes, so adding one reads (and warms) the tenant first, then applies once.
    await writer.addEdge('t', { source: a.id, target: b.id, relation: 'knows' });
    const first = await writer.stats('t');
    expect([first.nodes, first.edges, first.events, first.cache.warm]).toEqual([2, 1, 3, true]);
    // Now warm: a further write applies once.
    const c = await writer.addNode('t', { type: 'person', properties: { name: 'Linus' } });
    await writer.addEdge('t', { source: b.id, target: c.id, relation: 'knows' });
    const warm = await writer.stats('t');
    expect([warm.nodes, warm.edges, warm.events, warm.cache.warm]).toEqual([3, 2, 5, true]);
    const reader = createPrimeService({ store });
    const other = await reader.stats('t');
    expect([other.nodes, other.edges, other.events]).toEqual([3, 2, 5]);
    // The reader is warm; the writer's next write reaches it through the log on its next read.
    await writer.forget('t', { node_id: c.id });
    const after = await reader.stats('t');
    expect([after.nodes, after.edges, after.events]).toEqual([2, 1, 6]);
    await writer.close();
    await reader.close();
  });

  it('evicts the least recently used tenant and re-hydrates it exactly', async () => {
    const prime = createPrimeService({ store, maxWarmTenants: 1 });
    await prime.addNode('a', { type: 'note', properties: { text: 'alpha' } });
    await prime.addNode('b', { type: 'note', properties: { text: 'beta' } });
    expect((await prime.stats('a')).nodes).toBe(1);
    expect((await prime.stats('b')).nodes).toBe(1);
    expect(prime.isWarm('a')).toBe(false);
    await prime.addNode('a', { type: 'note', properties: { text: 'gamma' } });
    const again = await prime.stats('a');
    expect([again.nodes, again.events, again.cache.warm]).toEqual([2, 2, false]);
    await prime.close();
  });

  it('bounds warm memory by size too: a tenant past the byte budget pushes the others out', async () => {
    const prime = createPrimeService({ store, maxWarmBytes: 64 * 1024 });
    await prime.addNode('small', { type: 'note', properties: { text: 'tiny' } });
    expect((await prime.stats('small')).nodes).toBe(1);
    const big = Array.from({ length: 60 }, (_, i) => ({ entity_id: `prime:node:n${i}`, event_type: 'prime.node.created', payload: { node_id: `n${i}`, type: 'note', properties: { text: `note ${i} `.repeat(40) } } }));
    await store.append('big', big);
    expect((await prime.stats('big')).nodes).toBe(60);
    expect(prime.isWarm('small')).toBe(false);
    expect(prime.isWarm('big')).toBe(true); // alone over budget, it still stays warm rather than thrash
    expect((await prime.stats('small')).nodes).toBe(1);
    await prime.close();
  });

  it('a store failure while hydrating fails that read only; the next read hydrates afresh', async () => {
    await createPrimeService({ store }).addNode('t', { type: 'note', properties: { text: 'kept' } });
    let failNext = true;
    const flaky = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'query' && failNext) {
          failNext = false;
          return () => Promise.reject(Object.assign(new Error('disk on fire'), { code: 'unavailable' }));
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const prime = createPrimeService({ store: flaky });
    await expect(prime.stats('t')).rejects.toMatchObject({ code: 'unavailable' });
    expect((await prime.stats('t')).nodes).toBe(1);
    await prime.close();
  });

  it('keeps tenants apart', async () => {
    const prime = createPrimeService({ store });
    const n = await prime.addNode('one', { type: 'note', properties: { text: 'secret plans' } });
    await expect(prime.getNode('two', { node_id: n.id })).rejects.toMatchObject({ code: 'not_found' });
    expect((await prime.recall('two', { text: 'secret plans' })).results).toEqual([]);
    await prime.close();
  });

  it('serializes concurrent reads and writes without double counting', async () => {
    const prime = createPrimeService({ store });
    await prime.stats('t');
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? prime.addNode('t', { type: 'n', properties: { text: `n${i}` } }) : prime.stats('t'))));
    const stats = await prime.stats('t');
    expect([stats.nodes, stats.events]).toEqual([20, 20]);
    await prime.close();
  });
});

describe('as_of and the log', () => {
  it('reads every projection as of an instant', async () => {
    const prime = createPrimeService({ store });
    const a = await prime.addNode('t', { type: 'person', properties: { name: 'Ada', role: 'analyst' } });
    const b = await prime.addNode('t', { type: 'person', properties: { name: 'Grace' } });
    await sleep(3);
    const t1 = new Date().toISOString();
    await sleep(3);
    await prime.updateNode('t', { node_id: a.id, properties: { role: 'engineer' } });
    await prime.addEdge('t', { source: a.id, target: b.id, relation: 'mentors' });
    await prime.forget('t', { node_id: b.id });
    expect((await prime.getNode('t', { node_id: a.id })).properties.role).toBe('engineer');
    expect((await prime.getNode('t', { node_id: a.id, as_of: t1 })).properties.role).toBe('analyst');
    await expect(prime.getNode('t', { node_id: b.id })).rejects.toMatchObject({ code: 'not_found', field: 'node_id' });
    expect((await prime.getNode('t', { node_id: b.id, as_of: t1 })).properties.name).toBe('Grace');
    const then = await prime.stats('t', { as_of: t1 });
    expect([then.nodes, then.edges, then.events, then.as_of]).toEqual([2, 0, 2, new Date(t1).toISOString()]);
    const now = await prime.stats('t');
    expect([now.nodes, now.edges, now.events]).toEqual([1, 0, 5]);
    const recalled = await prime.recall('t', { text: 'Grace', as_of: t1 });
    expect(recalled.results[0]?.node.id).toBe(b.id);
    expect((await prime.recall('t', { text: 'Grace' })).results.map((r) => r.node.id)).not.toContain(b.id);
    await expect(prime.getNode('t', { node_id: a.id, as_of: 'yesterday' })).rejects.toMatchObject({ code: 'invalid', field: 'as_of' });
    await prime.close();
  });

  it('keeps sealed past views, and reads one node in the past from its own events alike', async () => {
    const prime = createPrimeService({ store });
    const a = await prime.addNode('t', { type: 'person', properties: { name: 'Ada', role: 'analyst' } });
    await sleep(3);
    const t1 = new Date().toISOString();
    await sleep(3);
    await prime.updateNode('t', { node_id: a.id, properties: { role: 'engineer' } });
    const past = await prime.view('t', { as_of: t1 });
    expect(await prime.view('t', { as_of: t1 })).toBe(past); // sealed: the log cannot change before its last event
    expect(await prime.getNode('t', { node_id: a.id, as_of: t1 })).toEqual(past.node(a.id));
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await prime.view('t', { as_of: future })).not.toBe(await prime.view('t', { as_of: future })); // not sealed yet
    await expect(prime.getNode('t', { node_id: a.id, as_of: '2000-01-01T00:00:00Z' })).rejects.toMatchObject({ code: 'not_found' });
    await prime.close();
  });

  it('rebuilds a warm projection when prime events are tombstoned', async () => {
    const prime = createPrimeService({ store });
    const a = await prime.addNode('t', { type: 'note', properties: { text: 'keep me' } });
    const b = await prime.addNode('t', { type: 'note', properties: { text: 'drop me' } });
    expect((await prime.stats('t')).nodes).toBe(2);
    await store.tombstone('t', { entity_id: `prime:node:${b.id}`, reason: 'test' });
    const stats = await prime.stats('t');
    expect([stats.nodes, stats.events]).toEqual([1, 1]);
    expect((await prime.getNode('t', { node_id: a.id })).id).toBe(a.id);
    await prime.close();
  });

  it('folds hand-written prime events, counting and ignoring malformed ones', async () => {
    const prime = createPrimeService({ store });
    await prime.stats('t');
    await store.append('t', [
      { entity_id: 'prime:node:x', event_type: PRIME_EVENTS.nodeCreated, payload: { node_id: 'x', type: 'note', properties: { text: 'by hand' } } },
      { entity_id: 'prime:node:y', event_type: PRIME_EVENTS.nodeCreated, payload: { type: 'no id' } },
      { entity_id: 'prime:edge:e', event_type: PRIME_EVENTS.edgeCreated, payload: { edge_id: 'e', source: 'x', target: 'missing', relation: 'r' } },
      { entity_id: 'other', event_type: 'user.event', payload: { text: 'not prime' } },
    ]);
    const stats = await prime.stats('t');
    expect([stats.nodes, stats.edges, stats.events]).toEqual([1, 0, 3]);
    expect((await prime.search('t', { text: 'hand' })).nodes.map((n) => n.id)).toEqual(['x']);
    await prime.close();
  });

  it('lists every event that touched a node in prime_history', async () => {
    const prime = createPrimeService({ store });
    const a = await prime.addNode('t', { type: 'p', properties: { name: 'A' } });
    const b = await prime.addNode('t', { type: 'p', properties: { name: 'B' } });
    const edge = await prime.addEdge('t', { source: a.id, target: b.id, relation: 'r' });
    await prime.removeEdge('t', { edge_id: edge.id });
    await prime.embed('t', { id: a.id, vector: [1, 0, 0], new_space: true });
    await prime.updateNode('t', { node_id: a.id, properties: { name: 'A2' } });
    const history = await prime.history('t', { node_id: a.id });
    expect(history.events.map((e) => e.event_type)).toEqual([
      PRIME_EVENTS.nodeCreated,
      PRIME_EVENTS.edgeCreated,
      PRIME_EVENTS.edgeDeleted,
      PRIME_EVENTS.vectorStored,
      PRIME_EVENTS.nodeUpdated,
    ]);
    await expect(prime.history('t', { node_id: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    await prime.close();
  });
});

describe('graph, vectors and recall', () => {
  it('walks neighbors, subgraphs and shortest paths; forgetting takes edges along', async () => {
    const prime = createPrimeService({ store });
    const [a, b, c, d] = await Promise.all(['A', 'B', 'C', 'D'].map((name) => prime.addNode('t', { type: 'p', properties: { name } })));
    await prime.addEdge('t', { source: a.id, target: b.id, relation: 'knows' });
    await prime.addEdge('t', { source: b.id, target: c.id, relation: 'knows' });
    await prime.addEdge('t', { source: d.id, target: c.id, relation: 'likes' });
    const one = await prime.neighbors('t', { node_id: b.id });
    expect(one.neighbors.map((n) => [n.node.id, n.direction]).sort()).toEqual([[a.id, 'in'], [c.id, 'out']].sort());
    const out2 = await prime.neighbors('t', { node_id: a.id, direction: 'out', depth: 2 });
    expect(out2.neighbors.map((n) => [n.node.id, n.depth])).toEqual([[b.id, 1], [c.id, 2]]);
    expect((await prime.neighbors('t', { node_id: b.id, relation: 'likes' })).neighbors).toEqual([]);
    const path = await prime.shortestPath('t', { from: a.id, to: d.id });
    expect(path.nodes.map((n) => n.properties.name)).toEqual(['A', 'B', 'C', 'D']);
    expect(path.length).toBe(3);
    expect((await prime.shortestPath('t', { from: a.id, to: d.id, relation: 'knows' })).found).toBe(false);
    const sub = await prime.subgraph('t', { node_id: b.id, depth: 1 });
    expect(sub.nodes).toHaveLength(3);
    expect(sub.edges).toHaveLength(2);
    const forgotten = await prime.forget('t', { node_id: c.id });
    expect(forgotten.edges_removed).toBe(2);
    const stats = await prime.stats('t');
    expect([stats.nodes, stats.edges]).toEqual([3, 1]);
    await expect(prime.addEdge('t', { source: a.id, target: c.id, relation: 'knows' })).rejects.toMatchObject({ code: 'not_found', field: 'target' });
    await expect(prime.updateNode('t', { node_id: c.id, properties: { x: 1 } })).rejects.toMatchObject({ code: 'not_found' });
    await prime.close();
  });

  it('recalls the reply to a matching question by the words of the question before it', async () => {
    const turns = [
      'Caroline: How did the kids like the dinosaur museum?',
      'Melanie: They were stoked, the bones were so cool!',
      'Caroline: I started a pottery class on Tuesdays.',
      'Melanie: That sounds relaxing, what do you make?',
      'Caroline: Mostly bowls, and a mug for my sister.',
      'Melanie: The kids are into painting these days.',
      'Caroline: We might visit the art museum in June.',
    ];
    const rankOfReply = async (tuning: { sequenceShare?: number }): Promise<number> => {
      // Feedback off: its terms (the speakers' names) would let every turn match a little.
      const recallTuning = { ...tuning, feedbackTerms: 0 };
      const prime = createPrimeService({ store, recallTuning });
      const tenant = `seq-${tuning.sequenceShare ?? 'default'}`;
      const ids: string[] = [];
      for (const text of turns) {
        const turn = await prime.addNode(tenant, { type: 'turn', properties: { text } });
        if (ids.length > 0) await prime.addEdge(tenant, { source: ids[ids.length - 1], target: turn.id, relation: 'next' });
        ids.push(turn.id);
      }
      // depth 0: no graph expansion, so only the keyword list can bring the reply up.
      const { results } = await prime.recall(tenant, { text: 'What did the kids think of the dinosaur museum?', depth: 0 });
      await prime.close();
      return results.findIndex((r) => r.node.id === ids[1]);
    };
    // The reply says neither "dinosaur" nor "museum": the question before it does.
    expect(await rankOfReply({})).toBeGreaterThanOrEqual(0);
    expect(await rankOfReply({ sequenceShare: 0 })).toBe(-1);
  });

  it('favours the memories linked to a node the question names', async () => {
    const prime = createPrimeService({ store });
    const mel = await prime.addNode('anchor', { type: 'person', properties: { name: 'Melanie' } });
    const caro = await prime.addNode('anchor', { type: 'person', properties: { name: 'Caroline' } });
    const said: Array<[typeof mel, string]> = [
      [caro, 'Thanks Melanie, the kids loved the pottery class!'],
      [mel, 'We went camping with the kids at the lake.'],
      [caro, 'Melanie, I hope the kids enjoy their camping trip.'],
    ];
    const ids: string[] = [];
    for (const [speaker, text] of said) {
      const turn = await prime.addNode('anchor', { type: 'turn', properties: { text } });
      await prime.addEdge('anchor', { source: turn.id, target: speaker.id, relation: 'said_by' });
      ids.push(turn.id);
    }
    const { results } = await prime.recall('anchor', { text: "What do Melanie's kids like?", node_type: 'turn' });
    // All three name Melanie and the kids; the one Melanie said is about her.
    expect(results[0].node.id).toBe(ids[1]);
    expect(results[0].score_parts.graph).toBeGreaterThan(0);
    expect(results.filter((r) => r.node.id !== ids[1]).every((r) => r.score_parts.graph === 0)).toBe(true);
    await prime.close();
  });

  it('recalls by text with score parts, expands along the graph, and packs a context', async () => {
    const prime = createPrimeService({ store });
    const paris = await prime.addNode('t', { type: 'memory', properties: { text: 'Ada moved to Paris in March to join a robotics startup' } });
    const cat = await prime.addNode('t', { type: 'memory', properties: { text: 'Ada adopted a grey cat called Turing', importance: 0.9 } });
    await prime.addNode('t', { type: 'memory', properties: { text: 'The quarterly budget review is on Friday' } });
    const ada = await prime.addNode('t', { type: 'person', properties: { name: 'Ada Lovelace' } });
    await prime.addEdge('t', { source: ada.id, target: paris.id, relation: 'said' });
    const recall = await prime.recall('t', { text: 'where does Ada live now? Paris?', top_k: 5 });
    expect(recall.results[0].node.id).toBe(paris.id);
    expect(recall.results[0].retrieval).toContain('lexical');
    expect(recall.results[0].score).toBeGreaterThan(0);
    expect(Object.keys(recall.results[0].score_parts).sort()).toEqual(['graph', 'importance', 'lexical', 'recency', 'semantic']);
    expect(recall.embedder).toMatchObject({ kind: 'lexical', source: 'offline' });
    const typed = await prime.recall('t', { text: 'Ada', node_type: 'person' });
    expect(typed.results.map((r) => r.node.type)).toEqual(['person']);
    const pack = await prime.context('t', { query: 'Ada cat', max_tokens: 400 });
    expect(pack.context).toContain('Turing');
    expect(pack.tokens).toBeLessThanOrEqual(400);
    expect(cat.id).toBeDefined();
    const tiny = await prime.context('t', { query: 'Ada', max_tokens: 64 });
    expect(tiny.tokens).toBeLessThanOrEqual(64);
    await prime.close();
  });

  it('stores caller vectors and finds similar ones', async () => {
    const prime = createPrimeService({ store });
    await prime.embed('t', { id: 'v1', vector: [1, 0, 0], metadata: { tag: 'x' }, new_space: true });
    await prime.embed('t', { id: 'v2', vector: [0.9, 0.1, 0] });
    await prime.embed('t', { id: 'v3', vector: [0, 0, 1] });
    const similar = await prime.similar('t', { id: 'v1', top_k: 2 });
    expect(similar.results.map((r) => r.id)).toEqual(['v2', 'v3']);
    const byVector = await prime.similar('t', { vector: [0, 0.1, 1], top_k: 1 });
    expect(byVector.results[0]).toMatchObject({ id: 'v3' });
    await expect(prime.embed('t', { id: 'v4', vector: [1, 2], new_space: true })).resolves.toMatchObject({ dims: 2 });
    await expect(prime.embed('t', { id: 'v5', vector: [Number.NaN] })).rejects.toMatchObject({ code: 'invalid' });
    await expect(prime.similar('t', { id: 'missing' })).rejects.toMatchObject({ code: 'not_found', field: 'id' });
    await prime.close();
  });

  it('stores a non-deterministic embedder\'s vectors in the log and folds them back cold', async () => {
    const inner = createHashEmbedder();
    let calls = 0;
    const remote: Embedder = {
      name: 'test:remote',
      kind: 'semantic',
      dims: inner.dims,
      deterministic: false,
      embed: async (texts) => {
        calls += texts.length;
        return inner.embed(texts);
      },
      describe: () => ({ name: 'test:remote', kind: 'semantic', dims: inner.dims, source: 'http://127.0.0.1:1' }),
    };
    const writer = createPrimeService({ store, embedder: remote });
    const n = await writer.addNode('t', { type: 'memory', properties: { text: 'the lighthouse keeper paints watercolours' } });
    const events = await store.query('t', { entity_id: `prime:node:${n.id}` });
    expect(events.events[0].payload.embedding).toMatchObject({ embedder: 'test:remote', dims: inner.dims });
    const before = calls;
    const reader = createPrimeService({ store, embedder: remote });
    const hits = await reader.recall('t', { text: 'lighthouse watercolours', top_k: 1 });
    expect(hits.results[0].node.id).toBe(n.id);
    expect(hits.results[0].retrieval).toContain('semantic');
    expect(calls - before).toBe(1); // the query only: node vectors came from the log
    await writer.close();
    await reader.close();
  });

  it('says plainly when HNSW is unavailable and answers exactly', async () => {
    process.env.ALLSOURCE_HNSW = 'off';
    try {
      const prime = createPrimeService({ store, hnswThreshold: 2 });
      for (const text of ['red apples', 'green pears', 'red cherries']) await prime.addNode('t', { type: 'fruit', properties: { text } });
      const stats = await prime.stats('t');
      expect(stats.vector_index).toMatchObject({ mode: 'exact', hnsw_available: false, vectors: 3 });
      expect(stats.vector_index.note).toContain('ALLSOURCE_HNSW=off');
      expect(prime.capabilities()).toMatchObject({ hnsw_available: false, embedder: { kind: 'lexical' } });
      expect((await prime.recall('t', { text: 'red apples', top_k: 1 })).results[0].node.properties.text).toBe('red apples');
      await prime.close();
    } finally {
      delete process.env.ALLSOURCE_HNSW;
    }
  });

  it('rejects bad arguments by name and writes nothing', async () => {
    const prime = createPrimeService({ store });
    await expect(prime.addNode('t', { type: '' })).rejects.toMatchObject({ code: 'invalid', field: 'type' });
    await expect(prime.addNode('t', { type: 'x', properties: [] as never })).rejects.toMatchObject({ code: 'invalid', field: 'properties' });
    await expect(prime.addEdge('t', { source: 'a', target: 'b', relation: 'r', weight: -1 })).rejects.toMatchObject({ field: 'weight' });
    await expect(prime.recall('t', { text: 'x', top_k: 0 })).rejects.toMatchObject({ field: 'top_k' });
    await expect(prime.neighbors('t', { node_id: 'x', depth: 9 })).rejects.toMatchObject({ field: 'depth' });
    const n = await prime.addNode('t', { type: 'x', id: 'fixed' });
    await expect(prime.addNode('t', { type: 'x', id: n.id })).rejects.toMatchObject({ code: 'invalid', field: 'id' });
    expect((await prime.stats('t')).events).toBe(1);
    await prime.close();
  });
});
