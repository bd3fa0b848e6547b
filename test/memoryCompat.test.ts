// The 9 knowledge-graph tools against the reference they are compatible with: one scripted
// scenario runs step by step against @modelcontextprotocol/server-memory itself (a real child
// process over stdio, on a memory.jsonl in a temp directory) and against our tools (in-memory
// transport, real Prime on a real EmbeddedCore), and every step must give the same result: same
// structuredContent for the reference's fields (ours may add paging and count fields), same
// error-or-not. Order is normalized where the reference leaves it unspecified (search results,
// which we rank). Then our own additions: paging, as_of, atomicity, and the deliberate deviations.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer } from '../tools/registry.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-memory-compat-'));
const OUTPUT_SCHEMAS = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));
const GRAPH_TOOLS = ['create_entities', 'create_relations', 'add_observations', 'delete_entities', 'delete_observations', 'delete_relations', 'read_graph', 'search_nodes', 'open_nodes'];

/** The reference server's entry point, resolved from its package (the `bin` is dist/index.js). */
function referenceEntry(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@modelcontextprotocol/server-memory/package.json')), 'dist', 'index.js');
}

type Result = { isError: boolean; text: string; structured: Record<string, unknown> | undefined };

async function callOn(client: Client, name: string, args: Record<string, unknown>): Promise<Result> {
  let raw: CallToolResult;
  try {
    raw = (await client.callTool({ name, arguments: args })) as CallToolResult;
  } catch (err) {
    // A protocol-level rejection (e.g. the SDK refusing bad arguments) is an error too.
    return { isError: true, text: (err as Error).message, structured: undefined };
  }
  const text = raw.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return { isError: raw.isError === true, text, structured: raw.structuredContent as Record<string, unknown> | undefined };
}

interface Entity {
  name: string;
  entityType: string;
  observations: string[];
}
interface Relation {
  from: string;
  to: string;
  relationType: string;
}

const relationKey = (r: Relation) => `${r.from}\u0000${r.relationType}\u0000${r.to}`;
const byName = (a: Entity, b: Entity) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byRelation = (a: Relation, b: Relation) => (relationKey(a) < relationKey(b) ? -1 : relationKey(a) > relationKey(b) ? 1 : 0);

/** Ours restricted to the reference's fields; graph lists sorted when `unordered`. */
function comparable(structured: Record<string, unknown>, keys: string[], unordered: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = structured[key];
  if (unordered) {
    if (Array.isArray(out.entities)) out.entities = [...(out.entities as Entity[])].sort(byName);
    if (Array.isArray(out.relations)) out.relations = [...(out.relations as Relation[])].sort(byRelation);
  }
  return out;
}

let store: EmbeddedCore;
let prime: PrimeService;
let ours: Client;
let reference: Client;

beforeAll(async () => {
  store = await openEmbeddedCore({ dataDir: join(root, 'data'), durability: 'none', log: () => {} });
  prime = createPrimeService({ store, log: () => {} });
  const server = createAllsourceServer({ store, prime, tenant: 'compat', mode: 'local', toolsets: ['graph', 'prime'], log: () => {} });
  ours = new Client({ name: 'compat-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await ours.connect(clientSide);
  await ours.listTools();

  reference = new Client({ name: 'compat-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [referenceEntry()],
    env: { ...getDefaultEnvironment(), MEMORY_FILE_PATH: join(root, 'memory.jsonl') },
    stderr: 'ignore',
  });
  await reference.connect(transport);
  await reference.listTools();
});

afterAll(async () => {
  await reference?.close();
  await ours?.close();
  await prime?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

/**
 * One step of the scenario on both servers: both must fail, or both succeed with the same result
 * (the reference's fields; ours checked strictly against our declared outputSchema). Returns ours.
 */
async function step(name: string, args: Record<string, unknown>, options: { unordered?: boolean; error?: boolean } = {}): Promise<Result> {
  const ref = await callOn(reference, name, args);
  const mine = await callOn(ours, name, args);
  expect(mine.isError, `${name}: ours ${mine.isError ? 'failed' : 'succeeded'} (${mine.text.slice(0, 200)}); the reference ${ref.isError ? 'failed' : 'succeeded'} (${ref.text.slice(0, 200)})`).toBe(ref.isError);
  expect(ref.isError, `${name}: expected ${options.error ? 'an error' : 'success'}: ${ref.text.slice(0, 200)}`).toBe(options.error === true);
  if (ref.isError) {
    expect(mine.text).toMatch(/^(invalid|not_found): /);
    return mine;
  }
  OUTPUT_SCHEMAS.get(name)!.parse(mine.structured);
  const keys = Object.keys(ref.structured ?? {});
  const unordered = options.unordered === true;
  expect(comparable(mine.structured!, keys, unordered), `${name} ${JSON.stringify(args).slice(0, 200)}`).toEqual(comparable(ref.structured!, keys, unordered));
  return mine;
}

async function graphOf(client: Client, tool = 'read_graph', args: Record<string, unknown> = {}): Promise<{ entities: Entity[]; relations: Relation[] }> {
  const r = await callOn(client, tool, args);
  expect(r.isError, r.text).toBe(false);
  return r.structured as { entities: Entity[]; relations: Relation[] };
}

describe('the reference memory server and ours, step by step', () => {
  it('lists the same 9 tools with the same argument names', async () => {
    const refTools = (await reference.listTools()).tools;
    const ourTools = new Map((await ours.listTools()).tools.map((t) => [t.name, t]));
    expect(refTools.map((t) => t.name).sort()).toEqual([...GRAPH_TOOLS].sort());
    for (const tool of refTools) {
      const mine = ourTools.get(tool.name)!;
      expect(mine, tool.name).toBeDefined();
      const refArgs = Object.keys(tool.inputSchema.properties ?? {});
      const ourArgs = Object.keys(mine.inputSchema.properties ?? {});
      expect(ourArgs, tool.name).toEqual(expect.arrayContaining(refArgs));
      // Ours adds only paging and time travel.
      expect(ourArgs.filter((a) => !refArgs.includes(a)).every((a) => ['limit', 'cursor', 'as_of'].includes(a)), tool.name).toBe(true);
      expect(new Set(mine.inputSchema.required ?? []), tool.name).toEqual(new Set(tool.inputSchema.required ?? []));
      // Our outputSchema lists the result's fields (and the error's): the reference's are among them.
      expect(Object.keys(mine.outputSchema?.properties ?? {}), tool.name).toEqual(expect.arrayContaining(Object.keys(tool.outputSchema?.properties ?? {})));
      expect(mine.annotations?.readOnlyHint, tool.name).toBe(tool.annotations?.readOnlyHint);
      expect(mine.annotations?.destructiveHint, tool.name).toBe(tool.annotations?.destructiveHint);
    }
  });

  it('runs one scenario with the same results', async () => {
    // Create entities, then again with a duplicate name (skipped) and a new one.
    const created = await step('create_entities', {
      entities: [
        { name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first program', 'Prefers morning meetings'] },
        { name: 'Acme Corp', entityType: 'organization', observations: ['Builds analytical engines'] },
        { name: 'Bob', entityType: 'person', observations: [] },
      ],
    });
    expect((created.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Ada Lovelace', 'Acme Corp', 'Bob']);
    expect(created.text).toBe(JSON.stringify(created.structured!.entities, null, 2));
    const again = await step('create_entities', {
      entities: [
        { name: 'Ada Lovelace', entityType: 'robot', observations: ['Different'] },
        { name: 'Carol', entityType: 'person', observations: ['Drinks tea'] },
      ],
    });
    expect(again.structured!.entities).toEqual([{ name: 'Carol', entityType: 'person', observations: ['Drinks tea'] }]);

    // Relations, then again with a duplicate (skipped).
    const relations = await step('create_relations', {
      relations: [
        { from: 'Ada Lovelace', to: 'Acme Corp', relationType: 'works_at' },
        { from: 'Bob', to: 'Acme Corp', relationType: 'works_at' },
        { from: 'Ada Lovelace', to: 'Bob', relationType: 'knows' },
      ],
    });
    expect(relations.structured!.relations as Relation[]).toHaveLength(3);
    const moreRelations = await step('create_relations', {
      relations: [
        { from: 'Ada Lovelace', to: 'Acme Corp', relationType: 'works_at' },
        { from: 'Carol', to: 'Ada Lovelace', relationType: 'mentors' },
      ],
    });
    expect(moreRelations.structured!.relations).toEqual([{ from: 'Carol', to: 'Ada Lovelace', relationType: 'mentors' }]);

    // Observations: a new one and an existing one (skipped), on two entities.
    const added = await step('add_observations', {
      observations: [
        { entityName: 'Ada Lovelace', contents: ['Speaks French', 'Wrote the first program'] },
        { entityName: 'Bob', contents: ['Drinks coffee'] },
      ],
    });
    expect(added.structured!.results).toEqual([
      { entityName: 'Ada Lovelace', addedObservations: ['Speaks French'] },
      { entityName: 'Bob', addedObservations: ['Drinks coffee'] },
    ]);
    // To a missing entity: an error, and nothing of the call is added (not even Ada's part).
    const missing = await step('add_observations', { observations: [{ entityName: 'Ada Lovelace', contents: ['Plays chess'] }, { entityName: 'Nobody', contents: ['x'] }] }, { error: true });
    expect(missing.text).toMatch(/^not_found: observations\[1\]\.entityName: no entity named "Nobody"\. Next: /);
    await step('open_nodes', { names: ['Ada Lovelace'] });

    // Deletions; names that do not exist are ignored.
    await step('delete_observations', { deletions: [{ entityName: 'Ada Lovelace', observations: ['Prefers morning meetings'] }, { entityName: 'Nobody', observations: ['y'] }] });
    await step('delete_relations', { relations: [{ from: 'Ada Lovelace', to: 'Bob', relationType: 'knows' }, { from: 'Nobody', to: 'Bob', relationType: 'knows' }] });
    const deleted = await step('delete_entities', { entityNames: ['Bob', 'Nobody'] });
    expect(deleted.structured).toMatchObject({ success: true, message: 'Entities deleted successfully', entities_deleted: 1, relations_deleted: 1 });

    // Reads.
    const graph = await step('read_graph', {});
    expect((graph.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Ada Lovelace', 'Acme Corp', 'Carol']);
    expect(graph.structured!.entities as Entity[]).toContainEqual({ name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first program', 'Speaks French'] });
    expect((graph.structured!.relations as Relation[]).map(relationKey).sort()).toEqual(
      [relationKey({ from: 'Ada Lovelace', to: 'Acme Corp', relationType: 'works_at' }), relationKey({ from: 'Carol', to: 'Ada Lovelace', relationType: 'mentors' })].sort(),
    );
    const byType = await step('search_nodes', { query: 'PERSON' }, { unordered: true });
    expect((byType.structured!.entities as Entity[]).map((e) => e.name).sort()).toEqual(['Ada Lovelace', 'Carol']);
    const byObservation = await step('search_nodes', { query: 'french' }, { unordered: true });
    expect((byObservation.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Ada Lovelace']);
    expect(byObservation.structured!.relations as Relation[]).toHaveLength(2);
    const byName = await step('search_nodes', { query: 'acme' }, { unordered: true });
    expect((byName.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Acme Corp']);
    const substring = await step('search_nodes', { query: 'rol' }, { unordered: true }); // inside "Carol"
    expect((substring.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Carol']);
    const nothing = await step('search_nodes', { query: 'zebra' });
    expect(nothing.structured).toMatchObject({ entities: [], relations: [] });
    const opened = await step('open_nodes', { names: ['Carol', 'Nobody'] }, { unordered: true });
    expect((opened.structured!.entities as Entity[]).map((e) => e.name)).toEqual(['Carol']);
    expect(opened.structured!.relations).toEqual([{ from: 'Carol', to: 'Ada Lovelace', relationType: 'mentors' }]);

    // Bad arguments fail on both.
    await step('create_entities', { entities: [{ name: 'No type' }] }, { error: true });
    await step('open_nodes', {}, { error: true });
    await step('create_relations', { relations: 'Ada knows Bob' }, { error: true });

    // The final graphs are the same.
    const [refGraph, ourGraph] = [await graphOf(reference), await graphOf(ours)];
    expect({ entities: ourGraph.entities, relations: [...ourGraph.relations].sort(byRelation) }).toEqual({ entities: refGraph.entities, relations: [...refGraph.relations].sort(byRelation) });
  });
});

describe('beyond the reference', () => {
  it('writes Prime nodes and edges, found by prime_recall and prime_stats', async () => {
    const recall = await callOn(ours, 'prime_recall', { text: 'who speaks French?' });
    expect(recall.isError, recall.text).toBe(false);
    const top = (recall.structured!.results as Array<{ node: { type: string; properties: { name: string } } }>)[0];
    expect(top.node).toMatchObject({ type: 'person', properties: { name: 'Ada Lovelace' } });
    const stats = await callOn(ours, 'prime_stats', {});
    expect(stats.structured).toMatchObject({ nodes: 3, edges: 2, node_types: { person: 2, organization: 1 }, relations: { works_at: 1, mentors: 1 } });
  });

  it('refuses a relation to a missing entity (the reference would store it dangling) and writes nothing', async () => {
    const before = (await store.stats('compat')).events;
    const r = await callOn(ours, 'create_relations', {
      relations: [
        { from: 'Carol', to: 'Acme Corp', relationType: 'visits' },
        { from: 'Carol', to: 'Nobody', relationType: 'knows' },
      ],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^not_found: relations\[1\]\.to: no entity named "Nobody"/);
    expect((await store.stats('compat')).events).toBe(before);
  });

  it('skips a name repeated within one call (the reference would create it twice)', async () => {
    const r = await callOn(ours, 'create_entities', {
      entities: [
        { name: 'Dave', entityType: 'person', observations: ['first'] },
        { name: 'Dave', entityType: 'person', observations: ['second'] },
      ],
    });
    expect(r.structured!.entities).toEqual([{ name: 'Dave', entityType: 'person', observations: ['first'] }]);
    const opened = await graphOf(ours, 'open_nodes', { names: ['Dave'] });
    expect(opened.entities).toEqual([{ name: 'Dave', entityType: 'person', observations: ['first'] }]);
    await callOn(ours, 'delete_entities', { entityNames: ['Dave'] });
  });

  it('pages read_graph and search_nodes with limit and cursor, entities first and then relations', async () => {
    const whole = await graphOf(ours);
    const items: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await callOn(ours, 'read_graph', cursor === undefined ? { limit: 2 } : { limit: 2, cursor });
      const page = OUTPUT_SCHEMAS.get('read_graph')!.parse(r.structured) as { entities: Entity[]; relations: Relation[]; next_cursor: string | null; has_more: boolean };
      expect(page.entities.length + page.relations.length).toBeLessThanOrEqual(2);
      items.push(...page.entities, ...page.relations);
      cursor = page.next_cursor ?? undefined;
      expect(page.has_more).toBe(cursor !== undefined);
      pages++;
    } while (cursor !== undefined);
    expect(items).toEqual([...whole.entities, ...whole.relations]);
    expect(pages).toBe(Math.ceil(items.length / 2));

    const first = await callOn(ours, 'search_nodes', { query: 'person', limit: 1 });
    expect((first.structured!.entities as Entity[]).length).toBe(1);
    const next = first.structured!.next_cursor as string;
    expect(typeof next).toBe('string');
    const second = await callOn(ours, 'search_nodes', { query: 'person', limit: 1, cursor: next });
    expect(second.isError, second.text).toBe(false);
    expect((second.structured!.entities as Entity[])[0].name).not.toBe((first.structured!.entities as Entity[])[0].name);
    const wrong = await callOn(ours, 'search_nodes', { query: 'other', cursor: next });
    expect(wrong.text).toMatch(/^invalid: cursor: /);
    const garbage = await callOn(ours, 'read_graph', { cursor: 'not-a-cursor' });
    expect(garbage.text).toMatch(/^invalid: cursor: /);
    const tooMany = await callOn(ours, 'read_graph', { limit: 1001 });
    expect(tooMany.text).toMatch(/^invalid: limit: /);
  });

  it('search_nodes ranks only as far as a page reaches, and its pages agree with the whole answer and the substring scan', async () => {
    const cities = ['Lisbon', 'Porto', 'Braga', 'Faro'];
    const entities = Array.from({ length: 400 }, (_, i) => ({ name: `Pager ${i}`, entityType: i % 3 === 0 ? 'vendor' : 'client', observations: [`ships to ${cities[i % 4]} on day ${i % 7}`, `account ${1000 + i}`] }));
    await callOn(ours, 'create_entities', { entities });
    await callOn(ours, 'create_relations', { relations: Array.from({ length: 20 }, (_, i) => ({ from: `Pager ${i}`, to: `Pager ${i + 1}`, relationType: 'refers' })) });
    try {
      for (const query of ['pager', 'ships to lisbon', 'day 3', 'ount 10', 'vendor porto', 'faro']) {
        const whole = (await callOn(ours, 'search_nodes', { query, limit: 1000 })).structured as { entities: Entity[]; relations: Relation[]; has_more: boolean };
        expect(whole.has_more).toBe(false);
        // Every entity the reference's rule finds (a case-insensitive substring of name, type or an observation) is there.
        const q = query.toLowerCase();
        const bySubstring = entities.filter((e) => [e.name, e.entityType, ...e.observations].some((t) => t.toLowerCase().includes(q))).map((e) => e.name);
        const names = whole.entities.map((e) => e.name);
        expect(names, query).toEqual(expect.arrayContaining(bySubstring));
        expect(new Set(names).size).toBe(names.length);
        // Paged 9 at a time, the same items in the same order: entities, then the relations touching them.
        const paged: unknown[] = [];
        let cursor: string | undefined;
        do {
          const r = (await callOn(ours, 'search_nodes', cursor === undefined ? { query, limit: 9 } : { query, limit: 9, cursor })).structured as { entities: Entity[]; relations: Relation[]; next_cursor: string | null };
          paged.push(...r.entities, ...r.relations);
          cursor = r.next_cursor ?? undefined;
        } while (cursor !== undefined);
        expect(paged, query).toEqual([...whole.entities, ...whole.relations]);
      }
      // After the substring index was built (above), writes keep it true: an added observation is
      // found, a deleted entity is not, and a rare substring finds exactly what the scan finds.
      await callOn(ours, 'add_observations', { observations: [{ entityName: 'Pager 7', contents: ['keeps a zebrafish tank'] }] });
      await callOn(ours, 'delete_entities', { entityNames: ['Pager 11'] });
      expect((await graphOf(ours, 'search_nodes', { query: 'ebrafi' })).entities.map((e) => e.name)).toEqual(['Pager 7']);
      // "account 1010" … "account 1019" (Pager 11 deleted); word matches ("101" in "Pager 101") may come too.
      const rare = (await graphOf(ours, 'search_nodes', { query: 'unt 101' })).entities.map((e) => e.name);
      expect(rare).toEqual(expect.arrayContaining(['Pager 10', 'Pager 12', 'Pager 13', 'Pager 14', 'Pager 15', 'Pager 16', 'Pager 17', 'Pager 18', 'Pager 19']));
      expect(rare).not.toContain('Pager 11');
    } finally {
      await callOn(ours, 'delete_entities', { entityNames: entities.map((e) => e.name) });
    }
  });

  it('ranks search_nodes by relevance and also finds other forms of a word', async () => {
    await callOn(ours, 'create_entities', {
      entities: [
        { name: 'Engine notes', entityType: 'note', observations: ['engine engine engine: the analytical engine design'] },
        { name: 'Trip', entityType: 'note', observations: ['visited the engine museum once'] },
      ],
    });
    const ranked = await graphOf(ours, 'search_nodes', { query: 'engine' });
    expect(ranked.entities.map((e) => e.name).slice(0, 2)).toEqual(['Engine notes', 'Trip']);
    // "engines" is not a substring of "engine", but the word matches after stemming.
    const stemmed = await graphOf(ours, 'search_nodes', { query: 'engines' });
    expect(stemmed.entities.map((e) => e.name)).toEqual(expect.arrayContaining(['Engine notes', 'Trip', 'Acme Corp']));
    await callOn(ours, 'delete_entities', { entityNames: ['Engine notes', 'Trip'] });
  });

  it('reads as of an instant: the graph before a deletion', async () => {
    await callOn(ours, 'create_entities', { entities: [{ name: 'Eve', entityType: 'person', observations: ['temporary'] }] });
    await new Promise((resolve) => setTimeout(resolve, 3));
    const cut = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 3));
    await callOn(ours, 'delete_entities', { entityNames: ['Eve'] });
    expect((await graphOf(ours, 'open_nodes', { names: ['Eve'] })).entities).toEqual([]);
    const then = await graphOf(ours, 'open_nodes', { names: ['Eve'], as_of: cut });
    expect(then.entities).toEqual([{ name: 'Eve', entityType: 'person', observations: ['temporary'] }]);
    expect((await graphOf(ours, 'search_nodes', { query: 'temporary', as_of: cut })).entities.map((e) => e.name)).toEqual(['Eve']);
    expect((await graphOf(ours, 'read_graph', { as_of: cut })).entities.map((e) => e.name)).toContain('Eve');
  });

  it('serializes concurrent writes: the same name created at once is created once', async () => {
    const calls = await Promise.all(
      Array.from({ length: 5 }, () => callOn(ours, 'create_entities', { entities: [{ name: 'Frank', entityType: 'person', observations: [] }] })),
    );
    expect(calls.filter((c) => (c.structured!.entities as Entity[]).length === 1)).toHaveLength(1);
    expect((await graphOf(ours, 'open_nodes', { names: ['Frank'] })).entities).toHaveLength(1);
  });
});
