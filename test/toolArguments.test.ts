// Errors name what the caller sent. A value the store refuses deep inside the event a tool built
// (too deep, too big) is reported as the tool's argument (`properties.x`, `entities[2].observations`),
// never as `events[0].payload…`; and a vector of a length nothing here has is refused by name with
// the lengths that would work, instead of searching an empty space and answering nothing. Every
// refusal writes nothing. Real MCP Client over the in-memory transport (helpers/toolHarness).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectHarness, type ToolHarness } from './helpers/toolHarness.js';

let h: ToolHarness;
beforeEach(async () => {
  h = await connectHarness();
});
afterEach(async () => {
  await h.close();
});

/** `{ a: { a: … 'x' } }`, nested past the store's 64 levels. */
function deep(levels = 70): Record<string, unknown> {
  let value: unknown = 'x';
  for (let i = 0; i < levels; i++) value = { a: value };
  return value as Record<string, unknown>;
}

/** Over the store's 1 MiB payload limit. */
const HUGE = 'x'.repeat(1_200_000);
/** Observations each within the 16,000-character limit, together over 1 MiB. */
const MANY_LONG = Array.from({ length: 80 }, (_, i) => `${i} ${'o'.repeat(15_000)}`);

describe('store errors name the argument the caller sent', () => {
  it('maps every rejection inside a built event to the argument', async () => {
    const node = await h.ok<{ id: string }>('prime_add_node', { type: 'person', properties: { name: 'Ada' } });
    await h.ok('create_entities', { entities: [{ name: 'Acme', entityType: 'org', observations: [] }] });
    const cases: Array<[tool: string, args: Record<string, unknown>, field: string | RegExp]> = [
      ['prime_add_node', { type: 'note', properties: { x: deep() } }, /^properties\.x\.a\.a/],
      ['prime_add_node', { type: 'note', properties: { text: HUGE } }, 'properties'],
      ['prime_update_node', { node_id: node.id, properties: { x: deep() } }, /^properties\.x\.a/],
      ['prime_update_node', { node_id: node.id, properties: { text: HUGE } }, 'properties'],
      ['prime_add_edge', { source: node.id, target: node.id, relation: 'knows', properties: { since: deep() } }, /^properties\.since\.a/],
      ['prime_add_edge', { source: node.id, target: node.id, relation: 'knows', properties: { text: HUGE } }, 'properties'],
      ['prime_embed', { id: 'v1', text: 'hello', metadata: { m: deep() } }, /^metadata\.m\.a/],
      ['prime_embed', { id: 'v1', text: 'hello', metadata: { text: HUGE } }, 'metadata'],
      ['create_entities', { entities: [{ name: 'Acme', entityType: 'org', observations: [] }, { name: 'Bob', entityType: 'person', observations: [] }, { name: 'Cy', entityType: 'person', observations: MANY_LONG }] }, 'entities[2].observations'],
      ['add_observations', { observations: [{ entityName: 'Ada', contents: ['short'] }, { entityName: 'Acme', contents: MANY_LONG }] }, 'observations[1].contents'],
      ['ingest_event', { entity_id: 'e', event_type: 't', payload: { x: deep() } }, /^payload\.x\.a/],
      ['ingest_event', { entity_id: 'e', event_type: 't', payload: {}, metadata: { text: HUGE } }, 'metadata'],
      ['ingest_events', { events: [{ entity_id: 'e', event_type: 't', payload: {} }, { entity_id: 'e', event_type: 't', payload: { x: deep() } }] }, /^events\[1\]\.payload\.x\.a/],
    ];
    for (const [tool, args, field] of cases) {
      const before = await h.events();
      const error = await h.fail(tool, args);
      const where = `${tool} ${JSON.stringify(field.toString())}`;
      expect(error.code, where).toBe('invalid');
      expect(error.field, where).toMatch(typeof field === 'string' ? new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}$`) : field);
      expect(error.message.startsWith(`${error.field}: `), `${where}: ${error.message.slice(0, 120)}`).toBe(true);
      // ingest_events' argument is called events; no other tool has one.
      if (tool !== 'ingest_events') expect(error.message, where).not.toMatch(/events\[\d+\]/);
      expect(await h.events(), `${where} wrote nothing`).toBe(before);
    }
  });

  it('import_events reports the record and its field', async () => {
    const data = [JSON.stringify({ entity_id: 'e', event_type: 't', payload: {} }), JSON.stringify({ entity_id: 'e', event_type: 't', payload: { x: deep() } })].join('\n');
    const report = await h.ok<{ errors: number; problems: Array<{ record: number; field: string | null }> }>('import_events', { data });
    expect(report.errors).toBe(1);
    expect(report.problems[0].record).toBe(2);
    expect(report.problems[0].field).toMatch(/^payload\.x\.a/);
  });
});

describe('vectors of a length nothing here has', () => {
  it('prime_recall and prime_similar refuse them by name with the lengths stored', async () => {
    await h.ok('prime_add_node', { type: 'note', properties: { text: 'northern region sales grew' } });
    const stats = await h.ok<{ embedder: { dims: number } }>('prime_stats');
    const dims = stats.embedder.dims;
    for (const tool of ['prime_recall', 'prime_similar']) {
      const error = await h.fail(tool, { vector: [1, 0, 0] });
      expect(error).toMatchObject({ code: 'invalid', field: 'vector', details: { dims: 3, expected_dims: [dims] } });
      expect(error.message).toMatch(new RegExp(`^vector: has 3 dimensions, but the embedder \\(.+\\) makes ${dims}`));
    }
    // The embedder's length is fine.
    const unit = Array.from({ length: dims }, (_, i) => (i === 0 ? 1 : 0));
    await h.ok('prime_recall', { vector: unit });
    await h.ok('prime_similar', { vector: unit });
  });

  it('prime_embed refuses a new length unless new_space, after which that length is searchable', async () => {
    const before = await h.events();
    const error = await h.fail('prime_embed', { id: 'doc-1', vector: [1, 0, 0] });
    expect(error).toMatchObject({ code: 'invalid', field: 'vector', details: { dims: 3 } });
    expect(error.message).toMatch(/new_space: true/);
    expect(await h.events()).toBe(before);
    await h.ok('prime_embed', { id: 'doc-1', vector: [1, 0, 0], new_space: true });
    // Now the tenant has its own 3-dimension space: storing and searching it are legitimate.
    await h.ok('prime_embed', { id: 'doc-2', vector: [0, 1, 0] });
    const similar = await h.ok<{ results: Array<{ id: string }> }>('prime_similar', { vector: [0.9, 0.1, 0], top_k: 2 });
    expect(similar.results.map((r) => r.id)).toEqual(['doc-1', 'doc-2']);
    await h.ok('prime_recall', { vector: [0.9, 0.1, 0] });
    // Other lengths are still refused, naming both the embedder's and the tenant's own.
    const other = await h.fail('prime_similar', { vector: [1, 0] });
    expect(other.details).toMatchObject({ dims: 2, expected_dims: [expect.any(Number), 3] });
  });
});
