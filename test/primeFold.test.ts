// The Prime fold on plain lists of events, with no store: given events ⇒ expected projections.
// The same fold serves the live view and every as-of view, so a prefix of the list is the past.

import { describe, expect, it } from 'vitest';
import type { NewEvent, StoredEvent } from '../src/core/types.js';
import { createHashEmbedder } from '../src/embed/hashEmbedder.js';
import { edgeCreated, edgeDeleted, nodeCreated, nodeDeleted, nodeUpdated, vectorStored } from '../src/prime/events.js';
import { encodeVector } from '../src/embed/codec.js';
import { foldPrimeEvents } from '../src/prime/projection.js';

const embedder = createHashEmbedder();

/** Stored events as a log would hold them: positions from 1, a second apart, versions per entity. */
function logOf(events: NewEvent[]): StoredEvent[] {
  const versions = new Map<string, number>();
  return events.map((e, i) => {
    const version = (versions.get(e.entity_id) ?? 0) + 1;
    versions.set(e.entity_id, version);
    const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    return { id: `ev${i}`, tenant_id: 't', entity_id: e.entity_id, event_type: e.event_type, payload: e.payload, metadata: null, timestamp, occurred_at: timestamp, version, position: i + 1, hash: '' };
  });
}

const log = logOf([
  nodeCreated('ada', 'person', { name: 'Ada', text: 'mathematician who wrote the first program' }),
  nodeCreated('babbage', 'person', { name: 'Charles Babbage' }),
  edgeCreated({ id: 'e1', source: 'ada', target: 'babbage', relation: 'worked_with', properties: {}, weight: 1 }),
  nodeUpdated('ada', { title: 'Countess', text: null }),
  vectorStored('v1', { embedder: 'custom-2', dims: 2, data: encodeVector(new Float32Array([1, 0])) }, { nodeId: 'babbage' }),
  nodeDeleted('babbage'),
  edgeDeleted('e1'),
]);

describe('Prime fold over a plain event list', () => {
  it('folds nodes, merge-patched properties, edges, vectors and counters', () => {
    const state = foldPrimeEvents(log.slice(0, 5), { embedder });
    expect(state.counters()).toEqual({ nodes: 2, edges: 1, events: 5, vectors: 3, node_types: { person: 2 }, relations: { worked_with: 1 } });
    expect(state.node('ada')).toMatchObject({ type: 'person', properties: { name: 'Ada', title: 'Countess' }, version: 2, created_at: log[0].timestamp, updated_at: log[3].timestamp });
    expect(state.nodeByName('Charles Babbage')?.id).toBe('babbage');
    expect(state.edgesOf('babbage', 'in').map((e) => e.id)).toEqual(['e1']);
    expect(state.lexical('program', 5)).toEqual([]); // the text was patched away
    expect(state.lexical('countess', 5).map((h) => h.id)).toEqual(['ada']);
  });

  it('forgetting a node drops its edges and vectors; the later edge delete is ignored but counted', () => {
    const state = foldPrimeEvents(log, { embedder });
    expect(state.counters()).toMatchObject({ nodes: 1, edges: 0, events: 7, vectors: 1, relations: {} });
    expect(state.node('babbage')).toBeUndefined();
    expect(state.vectorOf('v1')).toBeUndefined();
    expect(state.ignoredEvents).toBe(1);
  });

  it('is deterministic, and replaying events it has seen changes nothing', () => {
    const once = foldPrimeEvents(log, { embedder });
    const twice = foldPrimeEvents([...log, ...log], { embedder });
    expect(twice.counters()).toEqual(once.counters());
    expect([...twice.nodes()]).toEqual([...once.nodes()]);
    expect(twice.vectorOf('ada')?.vector).toEqual(once.vectorOf('ada')?.vector);
  });

  it('ignores events that name missing nodes or lack fields', () => {
    const state = foldPrimeEvents(
      logOf([
        edgeCreated({ id: 'e', source: 'x', target: 'y', relation: 'r', properties: {}, weight: 1 }),
        nodeUpdated('ghost', { a: 1 }),
        { entity_id: 'prime:node:z', event_type: 'prime.node.created', payload: { node_id: 'z' } },
        { entity_id: 'prime:other', event_type: 'prime.unknown.thing', payload: {} },
        // Filed on another entity than its node's: it cannot create (or later rewrite) node w.
        { entity_id: 'notes', event_type: 'prime.node.created', payload: { node_id: 'w', type: 'note', properties: {} } },
      ]),
      { embedder },
    );
    expect(state.counters()).toMatchObject({ nodes: 0, edges: 0, events: 5 });
    expect(state.ignoredEvents).toBe(5);
  });
});
