// The MCP tools through the real thing: an MCP Client talks to createAllsourceServer over the
// SDK's in-memory transport, on a real EmbeddedCore in a temp directory. Every tool's happy path
// and main errors; the listed schemas and annotations; every structuredContent checked against
// the tool's declared outputSchema; toolsets and read-only filtering; error text contracts.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { DEFAULT_REQUEST_TIMEOUT_MSEC } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import type { EventStore } from '../src/core/types.js';
import { EVENT_TOOLS } from '../tools/events.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer, type AllsourceServerOptions } from '../tools/registry.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-tools-'));
let dirCount = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TOOL_NAMES = [
  'ingest_event',
  'ingest_events',
  'query_events',
  'get_event',
  'reconstruct_state',
  'analyze_changes',
  'get_snapshot',
  'list_entities',
  'list_event_types',
  'get_stats',
  'get_cluster_status',
  'search_events',
  'watch_events',
  'delete_events',
  'restore_events',
  'export_events',
  'import_events',
  'verify_integrity',
];
const PRIME_TOOL_NAMES = [
  'prime_add_node',
  'prime_update_node',
  'prime_get_node',
  'prime_forget',
  'prime_add_edge',
  'prime_remove_edge',
  'prime_neighbors',
  'prime_search',
  'prime_shortest_path',
  'prime_subgraph',
  'prime_history',
  'prime_embed',
  'prime_similar',
  'prime_recall',
  'prime_context',
  'prime_stats',
];
const GRAPH_TOOL_NAMES = ['create_entities', 'create_relations', 'add_observations', 'delete_entities', 'delete_observations', 'delete_relations', 'read_graph', 'search_nodes', 'open_nodes'];
/** Every tool, in tools/list order: events, then prime, then graph (43). */
const ALL_TOOL_NAMES = [...TOOL_NAMES, ...PRIME_TOOL_NAMES, ...GRAPH_TOOL_NAMES];
const WRITE_TOOLS = [
  'ingest_event',
  'ingest_events',
  'delete_events',
  'restore_events',
  'import_events',
  'prime_add_node',
  'prime_update_node',
  'prime_forget',
  'prime_add_edge',
  'prime_remove_edge',
  'prime_embed',
  'create_entities',
  'create_relations',
  'add_observations',
  'delete_entities',
  'delete_observations',
  'delete_relations',
];

/** The declared output schema of each tool, strict: structuredContent must hold exactly these fields. */
const OUTPUT_SCHEMAS = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));

interface Harness {
  client: Client;
  store: EmbeddedCore;
  dataDir: string;
  logged: string[];
  /** Calls a tool; the raw result. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool that must succeed; its structuredContent, checked against the declared outputSchema. */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Calls a tool that must fail; its error text. */
  fail(name: string, args?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

async function connect(options: Partial<AllsourceServerOptions> & { storeOverride?: (store: EmbeddedCore) => EventStore } = {}, dataDir?: string): Promise<Harness> {
  const dir = dataDir ?? join(root, `data-${++dirCount}`);
  const store = await openEmbeddedCore({ dataDir: dir, durability: 'none', log: () => {} });
  const logged: string[] = [];
  const { storeOverride, ...serverOptions } = options;
  const server = createAllsourceServer({
    store: storeOverride ? storeOverride(store) : store,
    tenant: 'acme',
    mode: 'local',
    dataDir: dir,
    log: (line) => logged.push(line),
    ...serverOptions,
  });
  const client = new Client({ name: 'tools-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  // The client validates structuredContent against the listed outputSchemas only once it has listed them.
  await client.listTools();

  const call = async (name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    store,
    dataDir: dir,
    logged,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = await call(name, args);
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
      expect(result.isError, `${name} failed: ${text}`).toBeFalsy();
      expect(text.length).toBeGreaterThan(0);
      const schema = OUTPUT_SCHEMAS.get(name);
      if (!schema) throw new Error(`no output schema for ${name}`);
      return schema.parse(result.structuredContent) as T;
    },
    async fail(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const result = await call(name, args);
      expect(result.isError, `${name} should have failed`).toBe(true);
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
      expect(text).toMatch(/^(invalid|not_found|conflict|unauthorized|payment_required|quota_exceeded|unavailable|internal): /);
      expect(text).not.toMatch(/\n\s+at /); // no stack trace
      // The same error as data: the text is `<code>: <message>`.
      const { error } = result.structuredContent as { error: { code: string; message: string } };
      expect(`${error.code}: ${error.message}`).toBe(text);
      return text;
    },
    async close() {
      await client.close();
      await server.close();
      await store.close();
    },
  };
}

interface Appended {
  id: string;
  version: number;
  position: number;
  timestamp: string;
  duplicate: boolean;
}
interface EventOut {
  id: string;
  entity_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  version: number;
  position: number;
  timestamp: string;
  occurred_at: string;
  deleted?: true;
}
interface Page {
  events: EventOut[];
  next_cursor: string | null;
  has_more: boolean;
}
interface Stats {
  events: number;
  tombstoned_events: number;
  entities: number;
  last_position: number;
}
interface StateOut {
  state: Record<string, unknown> | null;
  version: number;
  event_count: number;
  deleted: boolean;
  as_of: string | null;
}

/** Every argument, nested ones too (the fields of ingest_events' events), with its description. */
/** Each argument with its description. Nested fields are listed without one: the argument's says what they hold. */
function describedArguments(properties: Record<string, unknown>, prefix: string): Array<[string, string | undefined]> {
  return Object.entries(properties).map(([name, raw]) => [`${prefix}.${name}`, (raw as { description?: string }).description]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tool listing', () => {
  let h: Harness;
  beforeEach(async () => (h = await connect()));
  afterEach(async () => h.close());

  it('lists exactly the registered tools, each with schemas, annotations and described arguments', async () => {
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(ALL_TOOL_NAMES);
    expect(tools).toHaveLength(43);
    expect(EVENT_TOOLS.map((t) => t.name)).toEqual(TOOL_NAMES);
    expect(ALL_TOOLS.filter((t) => t.writes).map((t) => t.name)).toEqual(WRITE_TOOLS);
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(40);
      expect(tool.inputSchema.type).toBe('object');
      expect((tool.inputSchema as { additionalProperties?: unknown }).additionalProperties, tool.name).toBe(false);
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      const annotations = tool.annotations!;
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint'] as const) expect(typeof annotations[hint], `${tool.name}.${hint}`).toBe('boolean');
      expect(annotations.openWorldHint, tool.name).toBe(false);
      for (const [path, description] of describedArguments(tool.inputSchema.properties ?? {}, tool.name)) {
        expect(description, `${path} has no description`).toBeTruthy();
      }
    }
  });

  it('annotates honestly: reads are read-only, delete is destructive, plain ingest is not idempotent', async () => {
    const { tools } = await h.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t.annotations!]));
    for (const name of ['query_events', 'get_event', 'reconstruct_state', 'analyze_changes', 'get_snapshot', 'list_entities', 'list_event_types', 'get_stats', 'get_cluster_status', 'search_events', 'watch_events', 'verify_integrity']) {
      expect(byName.get(name)!.readOnlyHint, name).toBe(true);
      expect(byName.get(name)!.destructiveHint, name).toBe(false);
    }
    for (const name of WRITE_TOOLS) expect(byName.get(name)!.readOnlyHint, name).toBe(false);
    expect(byName.get('delete_events')!.destructiveHint).toBe(true);
    expect(byName.get('delete_events')!.idempotentHint).toBe(true);
    expect(byName.get('ingest_event')!.idempotentHint).toBe(false);
    expect(byName.get('ingest_event')!.destructiveHint).toBe(false);
  });

  it('keeps tools/list within its budget: what every conversation pays in context', async () => {
    // Sizes as README's tool table reports them; the whole listing was 143 KB before it was compacted.
    const bytes = async (options: Partial<AllsourceServerOptions>) => {
      const listed = await connect(options);
      try {
        return JSON.stringify(await listed.client.listTools()).length;
      } finally {
        await listed.close();
      }
    };
    expect(await bytes({})).toBeLessThanOrEqual(61_000);
    expect(await bytes({ toolsets: ['events'] })).toBeLessThanOrEqual(28_000);
    expect(await bytes({ toolsets: ['prime'] })).toBeLessThanOrEqual(23_000);
    expect(await bytes({ toolsets: ['graph'] })).toBeLessThanOrEqual(10_500);
    const { tools } = await h.client.listTools();
    const listing = JSON.stringify(tools);
    expect(listing).not.toContain('$schema');
    expect(listing).not.toContain(String(Number.MAX_SAFE_INTEGER));
  });

  it('lists required arguments as required', async () => {
    const { tools } = await h.client.listTools();
    const ingest = tools.find((t) => t.name === 'ingest_event')!;
    expect(new Set(ingest.inputSchema.required)).toEqual(new Set(['event_type', 'entity_id', 'payload']));
    const del = tools.find((t) => t.name === 'delete_events')!;
    expect(del.inputSchema.required).toEqual(['reason']);
  });
});

describe('toolsets and read-only', () => {
  it('instructions and descriptions name only the tools that are served, in every selection', async () => {
    const groups = ['events', 'prime', 'graph'] as const;
    const names = ALL_TOOLS.map((tool) => tool.name);
    const named = (text: string) => names.filter((name) => new RegExp(`(^|[^a-z_])${name}($|[^a-z_])`).test(text));
    for (let mask = 1; mask < 8; mask++) {
      for (const readOnly of [false, true]) {
        const toolsets = groups.filter((_, i) => mask & (1 << i));
        const selection = `${toolsets.join(',')}${readOnly ? ' read-only' : ''}`;
        const listed = await connect({ toolsets: [...toolsets], readOnly });
        try {
          const { tools } = await listed.client.listTools();
          const served = new Set(tools.map((t) => t.name));
          const instructions = listed.client.getInstructions() ?? '';
          expect(instructions, selection).toMatch(/^allsource is long-term memory/);
          for (const name of named(instructions)) expect(served.has(name), `${selection}: instructions name ${name}`).toBe(true);
          for (const tool of tools) {
            const texts = [tool.description ?? '', ...Object.values(tool.inputSchema.properties ?? {}).map((p) => (p as { description?: string }).description ?? '')];
            for (const name of texts.flatMap(named)) expect(served.has(name), `${selection}: ${tool.name} names ${name}`).toBe(true);
            expect(tool.description!.length, `${selection}: ${tool.name}`).toBeGreaterThan(40);
          }
        } finally {
          await listed.close();
        }
      }
    }
    // Everything served: the instructions say how to add, update and recall, and which tools see events.
    const full = await connect();
    try {
      const instructions = full.client.getInstructions()!;
      for (const name of ['prime_add_node', 'prime_update_node', 'prime_recall', 'create_entities', 'ingest_event']) expect(instructions).toContain(name);
      expect(instructions).toMatch(/not by prime_recall/);
      const createEntities = (await full.client.listTools()).tools.find((t) => t.name === 'create_entities')!;
      expect(createEntities.description).toContain('prime_recall finds them too');
    } finally {
      await full.close();
    }
  });

  it('serves only the chosen groups', async () => {
    // A selection that holds no tools (here: only the event tools to choose from) is refused with a reason.
    const store = await openEmbeddedCore({ dataDir: join(root, `data-${++dirCount}`), durability: 'none', log: () => {} });
    try {
      expect(() => createAllsourceServer({ store, tenant: 'acme', mode: 'local', tools: EVENT_TOOLS, toolsets: ['prime', 'graph'] })).toThrow(/toolsets: prime, graph hold no tools/);
    } finally {
      await store.close();
    }
    const prime = await connect({ toolsets: ['prime', 'graph'] });
    try {
      expect((await prime.client.listTools()).tools.map((t) => t.name)).toEqual([...PRIME_TOOL_NAMES, ...GRAPH_TOOL_NAMES]);
    } finally {
      await prime.close();
    }
    const events = await connect({ toolsets: ['events'] });
    try {
      expect((await events.client.listTools()).tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    } finally {
      await events.close();
    }
  });

  it('--read-only hides every tool that writes, and calling one fails', async () => {
    const h = await connect({ readOnly: true });
    try {
      const names = (await h.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(ALL_TOOL_NAMES.filter((n) => !WRITE_TOOLS.includes(n)));
      expect(names).toHaveLength(26);
      // A tool that is not served is a protocol error (-32602, "Tool ingest_event not found").
      await expect(h.call('ingest_event', { entity_id: 'a', event_type: 'b', payload: {} })).rejects.toThrow(/ingest_event not found/);
      expect((await h.store.stats('acme')).events).toBe(0);
    } finally {
      await h.close();
    }
  });
});

describe('ingest_event and ingest_events', () => {
  let h: Harness;
  beforeEach(async () => (h = await connect()));
  afterEach(async () => h.close());

  it('records an event and renders a short text', async () => {
    const result = await h.call('ingest_event', { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada' }, metadata: { source: 'chat' } });
    expect(result.isError).toBeFalsy();
    const text = (result.content[0] as { text: string }).text;
    expect(text).toMatch(/^Recorded user\.created for user-1: version 1/);
    const appended = OUTPUT_SCHEMAS.get('ingest_event')!.parse(result.structuredContent) as unknown as Appended;
    expect(appended.version).toBe(1);
    const { event } = await h.ok<{ event: EventOut }>('get_event', { event_id: appended.id });
    expect(event.payload).toEqual({ name: 'Ada' });
    expect(event.metadata).toEqual({ source: 'chat' });
  });

  it('is idempotent with event_id, and a reused id with other content is a conflict naming event_id', async () => {
    const args = { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada' }, event_id: 'evt-1', occurred_at: '2020-01-02T03:04:05Z' };
    const first = await h.ok<Appended>('ingest_event', args);
    const again = await h.ok<Appended>('ingest_event', args);
    expect(again).toMatchObject({ id: 'evt-1', version: first.version, position: first.position, duplicate: true });
    const text = await h.fail('ingest_event', { ...args, payload: { name: 'Bob' } });
    expect(text).toMatch(/^conflict: event_id: /);
    expect(text).toContain('Next:');
    expect((await h.store.stats('acme')).events).toBe(1);
    const { event } = await h.ok<{ event: EventOut }>('get_event', { event_id: 'evt-1' });
    expect(event.occurred_at).toBe('2020-01-02T03:04:05.000Z');
  });

  it('expected_version: a mismatch is a conflict carrying both versions, and writes nothing', async () => {
    await h.ok('ingest_event', { entity_id: 'doc', event_type: 'doc.created', payload: { v: 1 }, expected_version: 0 });
    const text = await h.fail('ingest_event', { entity_id: 'doc', event_type: 'doc.edited', payload: { v: 2 }, expected_version: 0 });
    expect(text).toMatch(/^conflict: expected_version: entity "doc" is at version 1, not 0/);
    expect(text).toContain('get_snapshot');
    await h.ok('ingest_event', { entity_id: 'doc', event_type: 'doc.edited', payload: { v: 2 }, expected_version: 1 });
    expect((await h.store.stats('acme')).events).toBe(2);
  });

  it('rejects bad arguments with invalid: naming the argument', async () => {
    expect(await h.fail('ingest_event', { event_type: 'x', payload: {} })).toMatch(/^invalid: entity_id: is required/);
    expect(await h.fail('ingest_event', { entity_id: 'a', event_type: 'x', payload: [1] })).toMatch(/^invalid: payload: /);
    expect(await h.fail('ingest_event', { entity_id: 'a', event_type: 'x', payload: {}, entityId: 'a' })).toMatch(/^invalid: unknown argument "entityId"/);
    expect(await h.fail('ingest_event', { entity_id: '$control', event_type: 'x', payload: {} })).toMatch(/^invalid: entity_id: must not start with '\$'/);
    expect(await h.fail('ingest_event', { entity_id: 'a', event_type: 'x', payload: {}, occurred_at: 'yesterday' })).toMatch(/^invalid: occurred_at: /);
    expect(await h.fail('ingest_event', { entity_id: 'a', event_type: 'x', payload: { deep: 'x'.repeat(1024 * 1024) } })).toMatch(/^invalid: payload: is \d+ bytes/);
    expect((await h.store.stats('acme')).last_position).toBe(0);
  });

  it('records a payload exactly as sent, even a key named __proto__ (zod records would drop it)', async () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "name": "Ada"}') as Record<string, unknown>;
    const appended = await h.ok<Appended>('ingest_event', { entity_id: 'user-1', event_type: 'user.created', payload });
    // Read the raw structuredContent: parsing it with the output schema (a zod record) would drop the key again.
    const raw = await h.call('get_event', { event_id: appended.id });
    const { event } = raw.structuredContent as { event: EventOut };
    expect(Object.keys(event.payload)).toEqual(['__proto__', 'name']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A filter on a key nobody has matches nothing (a dropped key would have matched everything).
    const filter = JSON.parse('{"__proto__": 1}') as Record<string, unknown>;
    expect((await h.ok<Page>('query_events', { payload_equals: filter })).events).toEqual([]);
  });

  it('ingest_events is atomic: one bad event writes nothing and is named by index', async () => {
    const good = { entity_id: 'o-1', event_type: 'order.placed', payload: { total: 5 } };
    expect(await h.fail('ingest_events', { events: [good, { ...good, payload: 'nope' }] })).toMatch(/^invalid: events\[1\]\.payload: /);
    expect(await h.fail('ingest_events', { events: [good, { ...good, expected_version: 7 }] })).toMatch(/^conflict: events\[1\]\.expected_version: /);
    expect(await h.fail('ingest_events', { events: [] })).toMatch(/^invalid: events: /);
    expect((await h.store.stats('acme')).last_position).toBe(0);

    const dry = await h.ok<{ count: number; dry_run: boolean; last_position: number }>('ingest_events', { events: [good, good], dry_run: true });
    expect(dry).toMatchObject({ count: 2, dry_run: true, last_position: 0 });
    expect((await h.store.stats('acme')).events).toBe(0);

    const batch = await h.ok<{ events: Appended[]; count: number; duplicates: number }>('ingest_events', {
      events: [
        { ...good, event_id: 'e1' },
        { ...good, event_id: 'e2', payload: { paid: true } },
      ],
    });
    expect(batch.count).toBe(2);
    expect(batch.events.map((e) => e.version)).toEqual([1, 2]);
    const again = await h.ok<{ duplicates: number }>('ingest_events', { events: [{ ...good, event_id: 'e1' }] });
    expect(again.duplicates).toBe(1);
  });
});

describe('reads', () => {
  let h: Harness;
  let t1: string;
  let t2: string;
  beforeEach(async () => {
    h = await connect();
    await h.ok('ingest_event', { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada', plan: 'free', address: { city: 'Paris', zip: '75001' } }, event_id: 'u1-1' });
    await h.ok('ingest_event', { entity_id: 'user-2', event_type: 'user.created', payload: { name: 'Bob Paris', plan: 'pro' }, event_id: 'u2-1' });
    t1 = (await h.ok<Appended>('ingest_event', { entity_id: 'order-1', event_type: 'order.placed', payload: { total: 42, items: ['book'] } })).timestamp;
    await sleep(5);
    const upgraded = await h.ok<Appended>('ingest_event', { entity_id: 'user-1', event_type: 'user.upgraded', payload: { plan: 'pro', address: { city: 'Lyon', zip: null }, seats: 3 } });
    t2 = upgraded.timestamp;
    await sleep(5); // timestamps have ms resolution: keep the rename out of as_of t2
    await h.ok('ingest_event', { entity_id: 'user-1', event_type: 'user.renamed', payload: { name: 'Ada L.' } });
  });
  afterEach(async () => h.close());

  it('query_events filters and pages without repeats or gaps', async () => {
    const users = await h.ok<Page>('query_events', { entity_prefix: 'user-' });
    expect(users.events.map((e) => e.entity_id)).toEqual(['user-1', 'user-2', 'user-1', 'user-1']);
    const pro = await h.ok<Page>('query_events', { payload_equals: { plan: 'pro' } });
    expect(pro.events.map((e) => e.entity_id)).toEqual(['user-2', 'user-1']);
    const desc = await h.ok<Page>('query_events', { event_type_prefix: 'user.', order: 'desc', limit: 1 });
    expect(desc.events[0].event_type).toBe('user.renamed');
    expect(desc.has_more).toBe(true);

    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page: Page = await h.ok<Page>('query_events', { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((e) => e.position));
      cursor = page.next_cursor ?? undefined;
      expect(page.has_more).toBe(cursor !== undefined);
    } while (cursor);
    expect(seen).toEqual([1, 2, 3, 4, 5]);

    const asOf = await h.ok<Page>('query_events', { as_of: t1 });
    expect(asOf.events).toHaveLength(3);
  });

  it('cuts a page of big events to about 1 MiB, and the cursor continues exactly there', async () => {
    const big = 'x'.repeat(400_000);
    await h.ok('ingest_events', { events: Array.from({ length: 5 }, (_, i) => ({ entity_id: 'big', event_type: 'big.blob', payload: { i, word: 'needle', big } })) });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page: Page = await h.ok<Page>('query_events', { entity_id: 'big', limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page.events.length).toBeLessThanOrEqual(2);
      expect(JSON.stringify(page.events).length).toBeLessThan(1024 * 1024);
      seen.push(...page.events.map((e) => e.payload.i as number));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(pages).toBe(3);
    const hits = await h.ok<{ hits: unknown[]; has_more: boolean }>('search_events', { query: 'needle', limit: 5 });
    expect(hits.hits).toHaveLength(2);
    expect(hits.has_more).toBe(true);
    const watched = await h.ok<{ events: EventOut[]; has_more: boolean }>('watch_events', { after: 5, timeout_ms: 0, limit: 5 });
    expect(watched.events).toHaveLength(2);
    expect(watched.has_more).toBe(true);
  });

  it('query_events errors name the argument and hint at cursors', async () => {
    const text = await h.fail('query_events', { cursor: 'garbage' });
    expect(text).toMatch(/^invalid: cursor: /);
    expect(text).toContain('Next: omit cursor');
    expect(await h.fail('query_events', { limit: 0 })).toMatch(/^invalid: limit: /);
    expect(await h.fail('query_events', { since: 'March 7' })).toMatch(/^invalid: since: must be an ISO-8601 timestamp/);
    expect(await h.fail('query_events', { order: 'sideways' })).toMatch(/^invalid: order: /);
  });

  it('get_event reads one event; a missing id is not_found with a hint', async () => {
    const { event } = await h.ok<{ event: EventOut }>('get_event', { event_id: 'u2-1' });
    expect(event).toMatchObject({ entity_id: 'user-2', version: 1, position: 2 });
    const text = await h.fail('get_event', { event_id: 'nope' });
    expect(text).toMatch(/^not_found: .*"nope"/);
    expect(text).toContain('query_events');
  });

  it('reconstruct_state and get_snapshot fold merge-patches, now and as of an instant', async () => {
    const now = await h.ok<StateOut>('get_snapshot', { entity_id: 'user-1' });
    expect(now.state).toEqual({ name: 'Ada L.', plan: 'pro', address: { city: 'Lyon' }, seats: 3 });
    expect(now).toMatchObject({ version: 3, event_count: 3, deleted: false, as_of: null });
    const then = await h.ok<StateOut>('reconstruct_state', { entity_id: 'user-1', as_of: t1 });
    expect(then.state).toEqual({ name: 'Ada', plan: 'free', address: { city: 'Paris', zip: '75001' } });
    expect(then.version).toBe(1);
    expect(await h.fail('reconstruct_state', { entity_id: 'user-1', as_of: '2000-01-01' })).toMatch(/^not_found: .*list_entities/);
    expect(await h.fail('get_snapshot', { entity_id: 'ghost' })).toMatch(/^not_found: entity_id: entity "ghost" has no events/);
  });

  it('analyze_changes lists added, removed and changed paths', async () => {
    const diff = await h.ok<{
      from_version: number;
      to_version: number;
      events_between: number;
      added: Array<{ path: string; value: unknown }>;
      removed: Array<{ path: string; old_value: unknown }>;
      changed: Array<{ path: string; old_value: unknown; new_value: unknown }>;
      total_changes: number;
    }>('analyze_changes', { entity_id: 'user-1', from_time: t1, to_time: t2 });
    expect(diff).toMatchObject({ from_version: 1, to_version: 2, events_between: 1, total_changes: 4 });
    expect(diff.added).toEqual([{ path: 'seats', value: 3 }]);
    expect(diff.removed).toEqual([{ path: 'address.zip', old_value: '75001' }]);
    expect(diff.changed).toEqual([
      { path: 'address.city', old_value: 'Paris', new_value: 'Lyon' },
      { path: 'plan', old_value: 'free', new_value: 'pro' },
    ]);

    // Before the entity existed it counts as empty: everything is added.
    const fromNothing = await h.ok<{ from_version: number; added: Array<{ path: string }>; changed: unknown[] }>('analyze_changes', { entity_id: 'order-1', from_time: '2000-01-01' });
    expect(fromNothing.from_version).toBe(0);
    expect(fromNothing.added.map((a) => a.path)).toEqual(['items', 'total']);

    const limited = await h.ok<{ truncated: boolean; changed: unknown[] }>('analyze_changes', { entity_id: 'user-1', from_time: t1, to_time: t2, limit: 1 });
    expect(limited.truncated).toBe(true);
    expect(limited.changed).toHaveLength(1);

    expect(await h.fail('analyze_changes', { entity_id: 'user-1', from_time: t2, to_time: t1 })).toMatch(/^invalid: to_time: must not be before from_time/);
    expect(await h.fail('analyze_changes', { entity_id: 'ghost', from_time: t1 })).toMatch(/^not_found: /);
    expect(await h.fail('analyze_changes', { entity_id: 'user-1' })).toMatch(/^invalid: from_time: is required/);
  });

  it('list_entities and list_event_types page by prefix', async () => {
    const users = await h.ok<{ entities: Array<{ entity_id: string; event_count: number }>; has_more: boolean; next_cursor: string | null }>('list_entities', { prefix: 'user-', limit: 1 });
    expect(users.entities).toEqual([expect.objectContaining({ entity_id: 'user-1', event_count: 3 })]);
    expect(users.has_more).toBe(true);
    const next = await h.ok<{ entities: Array<{ entity_id: string }> }>('list_entities', { prefix: 'user-', limit: 1, cursor: users.next_cursor });
    expect(next.entities.map((e) => e.entity_id)).toEqual(['user-2']);
    const types = await h.ok<{ event_types: Array<{ event_type: string; count: number }> }>('list_event_types', { prefix: 'user.' });
    expect(types.event_types.map((t) => [t.event_type, t.count])).toEqual([
      ['user.created', 2],
      ['user.renamed', 1],
      ['user.upgraded', 1],
    ]);
    expect(await h.fail('list_entities', { limit: 1001 })).toMatch(/^invalid: limit: /);
  });

  it('get_stats and get_cluster_status', async () => {
    const stats = await h.ok<Stats & { tenant_id: string; event_types: number }>('get_stats');
    expect(stats).toMatchObject({ tenant_id: 'acme', events: 5, entities: 3, event_types: 4, last_position: 5 });
    const status = await h.ok<{ ok: boolean; mode: string; version: string; core: Record<string, unknown> }>('get_cluster_status');
    expect(status).toMatchObject({ ok: true, mode: 'local', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(status.core).toMatchObject({ kind: 'embedded', ok: true, data_dir: h.dataDir });
    expect(status.core.wal).toBeDefined();
    expect(status.core.segments).toBeDefined();
    // Prime says which embedder recall uses and whether vector search can go approximate.
    const prime = (status as unknown as { prime: { embedder: { kind: string }; hnsw_available: boolean; vector_search: string } }).prime;
    expect(prime.embedder.kind).toBe('lexical');
    expect(typeof prime.hnsw_available).toBe('boolean');
    expect(prime.vector_search.length).toBeGreaterThan(10);
  });

  it('search_events ranks by words and pages', async () => {
    const result = await h.ok<{ hits: Array<{ event: EventOut; score: number }>; has_more: boolean }>('search_events', { query: 'paris' });
    expect(result.hits.map((hit) => hit.event.id).sort()).toEqual(['u1-1', 'u2-1']);
    expect(result.hits[0].score).toBeGreaterThan(0);
    const narrowed = await h.ok<{ hits: Array<{ event: EventOut }> }>('search_events', { query: 'paris', entity_id: 'user-2' });
    expect(narrowed.hits.map((hit) => hit.event.id)).toEqual(['u2-1']);
    const paged = await h.ok<{ hits: unknown[]; has_more: boolean; next_cursor: string | null }>('search_events', { query: 'paris', limit: 1 });
    expect(paged.has_more).toBe(true);
    const rest = await h.ok<{ hits: unknown[]; has_more: boolean }>('search_events', { query: 'paris', limit: 1, cursor: paged.next_cursor });
    expect(rest.hits).toHaveLength(1);
    expect(rest.has_more).toBe(false);
    expect(await h.fail('search_events', { query: '' })).toMatch(/^invalid: query: /);
    expect(await h.fail('search_events', { query: '   ' })).toMatch(/^invalid: query: is required/);
  });

  it('watch_events returns what is there, times out, and wakes on a new event', async () => {
    const all = await h.ok<{ events: EventOut[]; last_position: number; timed_out: boolean }>('watch_events', { timeout_ms: 0 });
    expect(all.events).toHaveLength(5);
    expect(all.last_position).toBe(5);
    const idle = await h.ok<{ events: EventOut[]; timed_out: boolean; last_position: number }>('watch_events', { after: 5, timeout_ms: 50 });
    expect(idle).toMatchObject({ events: [], timed_out: true, last_position: 5 });

    const started = Date.now();
    const waiting = h.ok<{ events: EventOut[]; timed_out: boolean }>('watch_events', { after: 5, timeout_ms: 5000 });
    await sleep(50);
    await h.ok('ingest_event', { entity_id: 'user-3', event_type: 'user.created', payload: {} });
    const woke = await waiting;
    expect(woke.timed_out).toBe(false);
    expect(woke.events.map((e) => e.entity_id)).toEqual(['user-3']);
    expect(Date.now() - started).toBeLessThan(4000);
    // The longest wait stays under the SDK Client's 60 s request timeout (and common 30 s gateways).
    expect(await h.fail('watch_events', { timeout_ms: 30_001 })).toMatch(/^invalid: timeout_ms: .*30000/);
    expect(DEFAULT_REQUEST_TIMEOUT_MSEC).toBeGreaterThan(30_000);
  });

  it('verify_integrity checks the hash chain', async () => {
    const result = await h.ok<{ ok: boolean; checked: number; head_hash: string }>('verify_integrity');
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(5);
    expect(result.head_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('delete_events and restore_events', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await connect();
    await h.ok('ingest_events', {
      events: [
        { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada', address: 'Rue 1' }, event_id: 'a' },
        { entity_id: 'user-1', event_type: 'user.moved', payload: { address: 'Rue 2' }, event_id: 'b' },
        { entity_id: 'user-2', event_type: 'user.created', payload: { name: 'Bob' }, event_id: 'c' },
      ],
    });
  });
  afterEach(async () => h.close());

  it('soft-deletes, dry-runs, and restores', async () => {
    const dry = await h.ok<{ count: number; event_ids: string[]; dry_run: boolean; position: number | null }>('delete_events', { reason: 'user asked', event_ids: ['b'], dry_run: true });
    expect(dry).toMatchObject({ count: 1, event_ids: ['b'], dry_run: true, position: null });
    expect((await h.ok<StateOut>('get_snapshot', { entity_id: 'user-1' })).state).toEqual({ name: 'Ada', address: 'Rue 2' });

    const deleted = await h.ok<{ count: number; position: number }>('delete_events', { reason: 'user asked to forget the move', event_ids: ['b'] });
    expect(deleted.count).toBe(1);
    expect(deleted.position).toBeGreaterThan(3);
    expect((await h.ok<StateOut>('get_snapshot', { entity_id: 'user-1' })).state).toEqual({ name: 'Ada', address: 'Rue 1' });
    expect((await h.ok<Page>('query_events', { entity_id: 'user-1' })).events.map((e) => e.id)).toEqual(['a']);
    expect((await h.ok<Page>('query_events', { entity_id: 'user-1', include_deleted: true })).events.map((e) => [e.id, e.deleted ?? false])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(await h.fail('get_event', { event_id: 'b' })).toMatch(/^not_found: /);
    expect((await h.ok<{ event: EventOut }>('get_event', { event_id: 'b', include_deleted: true })).event.deleted).toBe(true);
    // Deleting again changes nothing (a retry is safe).
    expect((await h.ok<{ count: number }>('delete_events', { reason: 'retry', event_ids: ['b'] })).count).toBe(0);

    const restored = await h.ok<{ count: number; event_ids: string[] }>('restore_events', { reason: 'mistake', entity_id: 'user-1' });
    expect(restored).toMatchObject({ count: 1, event_ids: ['b'] });
    expect((await h.ok<StateOut>('get_snapshot', { entity_id: 'user-1' })).state).toEqual({ name: 'Ada', address: 'Rue 2' });
  });

  it('needs a reason and a selector', async () => {
    expect(await h.fail('delete_events', { event_ids: ['a'] })).toMatch(/^invalid: reason: is required/);
    expect(await h.fail('delete_events', { reason: 'x', since: '2000-01-01' })).toMatch(/^invalid: event_ids: name the events/);
    expect(await h.fail('restore_events', { reason: 'x', event_ids: [] })).toMatch(/^invalid: event_ids: /);
    expect(await h.fail('delete_events', { reason: 'x', event_ids: ['a', 7] })).toMatch(/^invalid: event_ids\[1\]: /);
    expect((await h.store.stats('acme')).tombstoned_events).toBe(0);
  });
});

describe('export_events and import_events', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await connect();
    await h.ok('ingest_events', {
      events: Array.from({ length: 5 }, (_, i) => ({
        entity_id: `item-${i % 2}`,
        event_type: 'item.seen',
        payload: { n: i, note: i === 3 ? 'comma, "quote"\nline' : `n${i}` },
        metadata: { src: 'test' },
        event_id: `ev-${i}`,
        occurred_at: `2021-0${i + 1}-01T00:00:00Z`,
      })),
    });
  });
  afterEach(async () => h.close());

  interface ExportOut {
    format: string;
    encoding: string;
    data: string | null;
    path: string | null;
    count: number;
    bytes: number;
    next_cursor: string | null;
    has_more: boolean;
  }

  it('exports JSONL inline in pages, and imports it back elsewhere with the same state', async () => {
    const first = await h.ok<ExportOut>('export_events', { limit: 3 });
    expect(first).toMatchObject({ format: 'jsonl', encoding: 'utf8', count: 3, has_more: true, path: null });
    const second = await h.ok<ExportOut>('export_events', { limit: 3, cursor: first.next_cursor });
    expect(second).toMatchObject({ count: 2, has_more: false });
    const jsonl = first.data! + second.data!;
    const lines = jsonl.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(['ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4']);
    expect(lines[0].metadata).toEqual({ src: 'test' });

    const noMeta = await h.ok<ExportOut>('export_events', { include_metadata: false, limit: 1 });
    expect(JSON.parse(noMeta.data!)).not.toHaveProperty('metadata');

    const other = await connect({ tenant: 'copy' });
    try {
      const imported = await other.ok<{ imported: number; skipped: number; errors: number; last_position: number | null }>('import_events', { data: jsonl });
      expect(imported).toMatchObject({ imported: 5, skipped: 0, errors: 0 });
      expect(imported.last_position).toBe(5);
      const state = await other.ok<StateOut>('get_snapshot', { entity_id: 'item-1' });
      const original = await h.ok<StateOut>('get_snapshot', { entity_id: 'item-1' });
      expect(state.state).toEqual(original.state);
      // preserve_timestamps (the default) kept occurred_at.
      const { event } = await other.ok<{ event: EventOut }>('get_event', { event_id: 'ev-2' });
      expect(event.occurred_at).toBe('2021-03-01T00:00:00.000Z');
      // Importing the same export again: same ids and content are duplicates, not new events.
      const again = await other.ok<{ imported: number; skipped: number }>('import_events', { data: jsonl });
      expect(again).toMatchObject({ imported: 0, skipped: 5 });
    } finally {
      await other.close();
    }
  });

  it('exports CSV with a header and quoted fields, and Parquet as base64', async () => {
    const csv = await h.ok<ExportOut>('export_events', { format: 'csv', entity_id: 'item-1' });
    const rows = csv.data!.split('\r\n');
    expect(rows[0]).toBe('position,id,entity_id,event_type,version,timestamp,occurred_at,payload,metadata,hash,deleted');
    expect(csv.data).toContain('"{""n"":3,""note"":""comma, \\""quote\\""\\nline""}"');
    const parquet = await h.ok<ExportOut>('export_events', { format: 'parquet' });
    expect(parquet).toMatchObject({ encoding: 'base64', count: 5 });
    const bytes = Buffer.from(parquet.data!, 'base64');
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(bytes.length).toBe(parquet.bytes);
    const { decodeSegment } = await import('../src/core/embedded/segmentDecode.js');
    expect(decodeSegment(bytes).map((e) => e.id)).toEqual(['ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4']);
  });

  it('writes to a file in the export directory (never overwriting, never outside it), and refuses paths when hosted or read-only', async () => {
    const exports = join(h.dataDir, 'exports');
    const path = join(exports, 'events.jsonl');
    const written = await h.ok<ExportOut>('export_events', { path: 'events.jsonl', event_type: 'item.seen' });
    expect(written).toMatchObject({ path, count: 5, data: null, has_more: false });
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(5);
    expect(await h.fail('export_events', { path })).toMatch(/^conflict: path: .* already exists/);
    // Anywhere else is refused, however the path is spelled, and nothing is written there.
    for (const outside of [join(h.dataDir, 'outside.jsonl'), '../outside.jsonl', '~/outside-allsource-test.jsonl', exports]) {
      expect(await h.fail('export_events', { path: outside }), outside).toMatch(/^invalid: path: must name a file in the export directory/);
    }
    expect(existsSync(join(h.dataDir, 'outside.jsonl'))).toBe(false);
    // A link inside the directory that leads out of it is refused too.
    symlinkSync(h.dataDir, join(exports, 'escape'));
    expect(await h.fail('export_events', { path: 'escape/outside.jsonl' })).toMatch(/^invalid: path: .*a link leads out of it/);
    expect(existsSync(join(h.dataDir, 'outside.jsonl'))).toBe(false);
    // A failing export leaves no file behind, so a retry can use the same path.
    expect(await h.fail('export_events', { path: 'failed.jsonl', cursor: 'garbage' })).toMatch(/^invalid: cursor: /);
    expect(existsSync(join(exports, 'failed.jsonl'))).toBe(false);
    await h.ok('export_events', { path: 'export.csv', format: 'csv', limit: 2 });
    expect(readFileSync(join(exports, 'export.csv'), 'utf8').trim().split('\r\n')).toHaveLength(3);

    const readOnly = await connect({ readOnly: true, exportDir: exports });
    try {
      expect(await readOnly.fail('export_events', { path: 'ro.jsonl' })).toMatch(/^invalid: path: a read-only server writes no files/);
      expect(existsSync(join(exports, 'ro.jsonl'))).toBe(false);
      expect((await readOnly.ok<ExportOut>('export_events', {})).data).not.toBeNull();
    } finally {
      await readOnly.close();
    }

    const hosted = await connect({ mode: 'hosted' });
    try {
      expect(await hosted.fail('export_events', { path: join(root, 'x.jsonl') })).toMatch(/^invalid: path: is only available when allsource runs locally/);
      expect(existsSync(join(root, 'x.jsonl'))).toBe(false);
      expect(await hosted.fail('import_events', { path })).toMatch(/^invalid: path: /);
      const status = await hosted.ok<{ core: Record<string, unknown>; prime: { tenants_warm: number | null } }>('get_cluster_status');
      expect(status.core).toEqual({ kind: 'embedded', ok: true });
      // Other tenants are not a hosted tenant's to count.
      expect(status.prime.tenants_warm).toBeNull();
      expect((await hosted.ok<{ cache: { tenants_warm: number | null } }>('prime_stats')).cache.tenants_warm).toBeNull();
    } finally {
      await hosted.close();
    }
  });

  it('import reports every invalid record and imports nothing', async () => {
    const data = [
      JSON.stringify({ entity_id: 'x', event_type: 'x.made', payload: { a: 1 } }),
      '{not json',
      JSON.stringify({ entity_id: 'x', event_type: 'x.made', payload: 'str' }),
      '',
      JSON.stringify({ entity_id: 'x', event_type: 'x.made', payload: {}, entityId: 'typo' }),
    ].join('\n');
    const before = (await h.store.stats('acme')).last_position;
    const report = await h.ok<{ imported: number; errors: number; problems: Array<{ record: number; field: string | null; message: string }> }>('import_events', { data });
    expect(report.imported).toBe(0);
    expect(report.errors).toBe(3);
    expect(report.problems.map((p) => [p.record, p.field])).toEqual([
      [2, null],
      [3, 'payload'],
      [5, 'entityId'],
    ]);
    // A record the store rejects (reserved entity id) is reported with its record number.
    const storeRejected = await h.ok<{ errors: number; problems: Array<{ record: number; field: string | null; message: string }> }>('import_events', {
      data: JSON.stringify([{ entity_id: 'ok', event_type: 't', payload: {} }, { entity_id: '$bad', event_type: 't', payload: {} }]),
    });
    expect(storeRejected.errors).toBe(1);
    expect(storeRejected.problems[0]).toMatchObject({ record: 2, field: 'entity_id' });
    expect((await h.store.stats('acme')).last_position).toBe(before);
  });

  it('import: validate_only, skip_duplicates, entity_id_prefix, preserve_timestamps, json arrays and files', async () => {
    const records = [
      { entity_id: 'p', event_type: 'p.made', payload: { a: 1 }, id: 'ev-1', occurred_at: '2019-05-05T00:00:00Z' },
      { entity_id: 'p', event_type: 'p.made', payload: { b: 2 }, event_id: 'new-1', occurred_at: '2019-05-06T00:00:00Z' },
    ];
    const before = (await h.store.stats('acme')).last_position;
    const checked = await h.ok<{ imported: number; validate_only: boolean; errors: number }>('import_events', { data: JSON.stringify(records), skip_duplicates: true, validate_only: true });
    expect(checked).toMatchObject({ imported: 1, validate_only: true, errors: 0 });
    expect((await h.store.stats('acme')).last_position).toBe(before);

    // Without skip_duplicates, ev-1 (taken by an event with other content) is a conflict: nothing imported.
    const clash = await h.ok<{ errors: number; problems: Array<{ record: number; message: string }> }>('import_events', { data: JSON.stringify(records), format: 'json' });
    expect(clash.errors).toBe(1);
    expect(clash.problems[0]).toMatchObject({ record: 1 });
    expect(clash.problems[0].message).toMatch(/^conflict: /);

    const done = await h.ok<{ imported: number; skipped: number }>('import_events', {
      data: JSON.stringify(records),
      skip_duplicates: true,
      entity_id_prefix: 'crm:',
      preserve_timestamps: false,
    });
    expect(done).toMatchObject({ imported: 1, skipped: 1 });
    const { event } = await h.ok<{ event: EventOut }>('get_event', { event_id: 'new-1' });
    expect(event.entity_id).toBe('crm:p');
    expect(event.occurred_at).toBe(event.timestamp);

    // Files are read from the export directory (by name or full path) or an --import-dir, nowhere else.
    const exports = join(h.dataDir, 'exports');
    mkdirSync(exports, { recursive: true });
    const line = (from: string) => `${JSON.stringify({ entity_id: 'f', event_type: 'f.made', payload: { from } })}\n`;
    writeFileSync(join(exports, 'import.jsonl'), line('by name'));
    expect(await h.ok('import_events', { path: 'import.jsonl' })).toMatchObject({ imported: 1 });
    writeFileSync(join(exports, 'full.jsonl'), line('full path'));
    expect(await h.ok('import_events', { path: join(exports, 'full.jsonl') })).toMatchObject({ imported: 1 });
    expect(await h.fail('import_events', { path: 'missing.jsonl' })).toMatch(/^invalid: path: .* does not exist/);
    const outside = join(root, `import-${dirCount}.jsonl`);
    writeFileSync(outside, line('outside'));
    const beforeRefusals = (await h.store.stats('acme')).last_position;
    expect(await h.fail('import_events', { path: outside })).toMatch(/^invalid: path: must name a file in the export directory .*--import-dir/);
    expect(await h.fail('import_events', { path: '../../etc/passwd' })).toMatch(/^invalid: path: must name a file in the export directory/);
    symlinkSync(outside, join(exports, 'link.jsonl'));
    expect(await h.fail('import_events', { path: 'link.jsonl' })).toMatch(/^invalid: path: .*a link leads out of it/);
    expect((await h.store.stats('acme')).last_position).toBe(beforeRefusals);
    const allowed = await connect({ importDirs: [root] });
    try {
      expect(await allowed.ok('import_events', { path: outside })).toMatchObject({ imported: 1 });
    } finally {
      await allowed.close();
    }
    expect(await h.fail('import_events', {})).toMatch(/^invalid: data: give exactly one/);
    expect(await h.fail('import_events', { data: '\n\n' })).toMatch(/^invalid: data: holds no events/);
  });
});

describe('error mapping', () => {
  it('an unexpected exception is internal: unexpected error, with the stack logged, not returned', async () => {
    const h = await connect({
      storeOverride: (store) =>
        new Proxy(store, {
          get(target, prop, receiver) {
            if (prop === 'stats') return async () => { throw new TypeError('secret detail at /home/me/x.ts:1'); };
            const value = Reflect.get(target, prop, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    });
    try {
      const text = await h.fail('get_stats');
      expect(text).toBe('internal: unexpected error');
      expect(h.logged.join('\n')).toContain('secret detail');
      expect(h.logged.join('\n')).toMatch(/TypeError/);
      // The server keeps answering.
      await h.ok('verify_integrity');
    } finally {
      await h.close();
    }
  });

  it('a closed store answers unavailable', async () => {
    const h = await connect();
    await h.store.close();
    expect(await h.fail('get_stats')).toMatch(/^unavailable: /);
    await h.close();
  });
});
