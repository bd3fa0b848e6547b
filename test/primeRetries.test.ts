// Prime writes that a retry or a repeated name must not turn into duplicates or false errors:
// prime_add_node refuses a name a live node already has (unless allow_same_name), and repeats of
// prime_forget and prime_remove_edge (annotated idempotent) succeed with nothing changed, while
// ids the tenant never had still answer not_found. Real MCP Client over the SDK's in-memory
// transport, real EmbeddedCore and Prime in a temp directory; every result checked strictly
// against the declared outputSchema, and "nothing written" checked by counting events.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectHarness, textOf, type ToolHarness } from './helpers/toolHarness.js';

let h: ToolHarness;
beforeEach(async () => {
  h = await connectHarness();
});
afterEach(async () => {
  await h.close();
});

interface Node {
  id: string;
  properties: Record<string, unknown>;
}

describe('prime_add_node and names', () => {
  it('refuses a name a live node has, naming that node and the next step, and writes nothing', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada Lovelace', role: 'engineer' } });
    const before = await h.events();
    const error = await h.fail('prime_add_node', { type: 'person', properties: { name: 'Ada Lovelace', role: 'manager' } });
    expect(error).toMatchObject({ code: 'conflict', field: 'properties.name', details: { node_id: ada.id } });
    expect(error.message).toContain(ada.id);
    expect(error.message).toMatch(/Next: prime_update_node/);
    expect(error.message).toMatch(/allow_same_name/);
    expect(await h.events()).toBe(before);
    // The graph tools still see one Ada.
    const opened = await h.ok<{ entities: unknown[] }>('open_nodes', { names: ['Ada Lovelace'] });
    expect(opened.entities).toHaveLength(1);
  });

  it('refuses a name create_entities made, too', async () => {
    await h.ok('create_entities', { entities: [{ name: 'Acme', entityType: 'org', observations: [] }] });
    expect(await h.fail('prime_add_node', { type: 'org', properties: { name: 'Acme' } })).toMatchObject({ code: 'conflict', field: 'properties.name' });
  });

  it('parallel calls with one name (and a create_entities of it) make one node: the rest are conflicts', async () => {
    const calls = [
      ...Array.from({ length: 6 }, (_, i) => h.call('prime_add_node', { type: 'person', properties: { name: 'Grace Hopper', n: i } })),
      h.call('create_entities', { entities: [{ name: 'Grace Hopper', entityType: 'person', observations: ['admiral'] }] }),
    ];
    const results = await Promise.all(calls);
    const added = results.slice(0, 6).filter((r) => !r.isError);
    const refused = results.slice(0, 6).filter((r) => r.isError);
    const opened = await h.ok<{ entities: unknown[] }>('open_nodes', { names: ['Grace Hopper'] });
    expect(opened.entities).toHaveLength(1);
    // Either a prime_add_node took the name (create_entities then skipped it) or create_entities did.
    expect(added.length).toBeLessThanOrEqual(1);
    for (const r of refused) expect(textOf(r)).toMatch(/conflict: properties\.name: node '.+' \(person\) is already named "Grace Hopper"/);
    expect((await h.ok<{ nodes: number }>('prime_stats')).nodes).toBe(1);
  });

  it('creates a second node of the name with allow_same_name: true', async () => {
    const first = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'John Smith', city: 'Leeds' } });
    const second = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'John Smith', city: 'Perth' }, allow_same_name: true });
    expect(second.id).not.toBe(first.id);
    expect((await h.ok<{ nodes: number }>('prime_stats')).nodes).toBe(2);
  });

  it('allows the name again once its node is forgotten, and nodes without a name as before', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    await h.ok('prime_forget', { node_id: ada.id });
    await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    await h.ok<Node>('prime_add_node', { type: 'note', properties: { text: 'same words' } });
    await h.ok<Node>('prime_add_node', { type: 'note', properties: { text: 'same words' } });
  });
});

describe('repeats of prime_forget and prime_remove_edge', () => {
  it('a second prime_forget succeeds with nothing changed; an id never seen is not_found', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    const acme = await h.ok<Node>('prime_add_node', { type: 'org', properties: { name: 'Acme' } });
    await h.ok('prime_add_edge', { source: ada.id, target: acme.id, relation: 'works_at' });
    expect(await h.ok('prime_forget', { node_id: ada.id })).toEqual({ node_id: ada.id, edges_removed: 1, vectors_removed: expect.any(Number), already_forgotten: false });
    const before = await h.events();
    const again = await h.call('prime_forget', { node_id: ada.id });
    expect(again.isError).toBeFalsy();
    expect(again.structuredContent).toEqual({ node_id: ada.id, edges_removed: 0, vectors_removed: 0, already_forgotten: true });
    expect(textOf(again)).toMatch(/already forgotten; nothing changed/);
    expect(await h.events()).toBe(before);
    expect(await h.fail('prime_forget', { node_id: 'never-was' })).toMatchObject({ code: 'not_found', field: 'node_id' });
  });

  it('a second prime_remove_edge by edge_id, or by source and target, removes nothing and succeeds', async () => {
    const ada = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    const bob = await h.ok<Node>('prime_add_node', { type: 'person', properties: { name: 'Bob' } });
    const edge = await h.ok<{ id: string }>('prime_add_edge', { source: ada.id, target: bob.id, relation: 'knows' });
    await h.ok('prime_add_edge', { source: bob.id, target: ada.id, relation: 'knows' });
    expect(await h.ok<{ count: number }>('prime_remove_edge', { edge_id: edge.id })).toMatchObject({ count: 1 });
    expect(await h.ok<{ count: number }>('prime_remove_edge', { source: bob.id, target: ada.id })).toMatchObject({ count: 1 });
    const before = await h.events();
    expect(await h.ok('prime_remove_edge', { edge_id: edge.id })).toEqual({ removed: [], count: 0 });
    expect(await h.ok('prime_remove_edge', { source: bob.id, target: ada.id, relation: 'knows' })).toEqual({ removed: [], count: 0 });
    expect(await h.events()).toBe(before);
    // An edge whose node was forgotten is gone too: removing it again is a no-op, not an error.
    const third = await h.ok<{ id: string }>('prime_add_edge', { source: ada.id, target: bob.id, relation: 'likes' });
    await h.ok('prime_forget', { node_id: bob.id });
    expect(await h.ok('prime_remove_edge', { edge_id: third.id })).toEqual({ removed: [], count: 0 });
    // Ids this tenant never had are still not_found, by name.
    expect(await h.fail('prime_remove_edge', { edge_id: 'no-such-edge' })).toMatchObject({ code: 'not_found', field: 'edge_id' });
    expect(await h.fail('prime_remove_edge', { source: ada.id, target: 'no-such-node' })).toMatchObject({ code: 'not_found', field: 'target' });
    expect(await h.fail('prime_remove_edge', { source: 'no-such-node', target: ada.id })).toMatchObject({ code: 'not_found', field: 'source' });
  });
});
