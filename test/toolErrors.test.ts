// Error results as data: every tool's `isError` result carries structuredContent
// `{ error: { code, message, field?, details? } }` beside its `<code>: <message>` text, and the
// SDK Client (which validates structuredContent against the listed outputSchema even on errors)
// accepts it. Real Client over the SDK's in-memory transport, real EmbeddedCore and Prime in a
// temp directory; custom definitions (the `tools` option) for the failures no real tool has.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AllSourceError, InvalidError } from '../src/core/errors.js';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { createPrimeService } from '../src/prime/service.js';
import type { PrimeService } from '../src/prime/types.js';
import { defineTool } from '../tools/define.js';
import { toolErrorContent } from '../tools/errors.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer, type AllsourceServerOptions, type ToolDefinition, type ToolError } from '../tools/registry.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-tool-errors-'));
let dirCount = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Harness {
  client: Client;
  logged: string[];
  /** Calls a tool through the client; the client has validated any structuredContent. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

async function connect(options: Partial<AllsourceServerOptions> = {}): Promise<Harness> {
  const dataDir = join(root, `data-${++dirCount}`);
  const store: EmbeddedCore = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
  const logged: string[] = [];
  const prime: PrimeService = createPrimeService({ store, log: (line) => logged.push(line) });
  const server = createAllsourceServer({ store, prime, tenant: 'acme', mode: 'local', dataDir, log: (line) => logged.push(line), ...options });
  const client = new Client({ name: 'tool-errors-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  // The client validates structuredContent against the listed outputSchemas once it has listed them.
  await client.listTools();
  return {
    client,
    logged,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    async close() {
      await client.close();
      await server.close();
      await prime.close();
      await store.close();
    },
  };
}

const textOf = (result: CallToolResult): string => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

/** The error of a failed call, after checking that its text and its structuredContent say the same. */
function errorOf(result: CallToolResult, where: string): ToolError {
  const text = textOf(result);
  expect(result.isError, `${where} should have failed: ${text}`).toBe(true);
  const { error } = toolErrorContent.parse(result.structuredContent);
  expect(text, where).toBe(`${error.code}: ${error.message}`);
  expect(text, where).not.toMatch(/\n\s+at /); // no stack trace
  return error;
}

function requiredArguments(tool: ToolDefinition): string[] {
  return Object.entries(tool.inputSchema)
    .filter(([, schema]) => !z.safeParse(schema, undefined).success)
    .map(([name]) => name);
}

describe('error results carry structure', () => {
  let h: Harness;
  beforeAll(async () => (h = await connect()));
  afterAll(async () => h.close());

  it('lists every outputSchema as an object with the top-level fields of the result and of the error, typed, and no others', async () => {
    const { tools } = await h.client.listTools();
    expect(tools).toHaveLength(43);
    const definitions = new Map(ALL_TOOLS.map((tool) => [tool.name, tool]));
    for (const tool of tools) {
      const schema = tool.outputSchema as { type?: unknown; properties?: Record<string, { type?: unknown }>; additionalProperties?: unknown };
      expect(schema.type, tool.name).toBe('object');
      expect(schema.additionalProperties, tool.name).toBe(false);
      const fields = Object.keys(definitions.get(tool.name)!.outputSchema);
      expect(Object.keys(schema.properties ?? {}).sort(), tool.name).toEqual([...fields, 'error'].sort());
      expect(schema.properties!.error, tool.name).toEqual({ type: 'object' });
    }
    const recall = tools.find((t) => t.name === 'prime_recall')!.outputSchema!.properties as Record<string, unknown>;
    expect(recall.results).toEqual({ type: 'array' });
    const page = tools.find((t) => t.name === 'query_events')!.outputSchema!.properties as Record<string, unknown>;
    expect(page.next_cursor).toEqual({ type: ['string', 'null'] });
  });

  it('the listed schema admits a real result and a real error, and no mistyped or unknown field', async () => {
    // The validator the SDK Client uses by default, on the schema as listed.
    const { tools } = await h.client.listTools();
    const validate = new AjvJsonSchemaValidator().getValidator(tools.find((t) => t.name === 'get_snapshot')!.outputSchema!);
    await h.call('ingest_event', { entity_id: 'snap-1', event_type: 'snap.made', payload: { a: 1 } });
    const ok = (await h.call('get_snapshot', { entity_id: 'snap-1' })).structuredContent!;
    const failed = (await h.call('get_snapshot', { entity_id: 'ghost' })).structuredContent!;
    expect(validate(ok).valid).toBe(true);
    expect(validate(failed).valid).toBe(true);
    expect(validate({ error: { code: 'conflict', message: 'x', field: 'a', details: { expected: 1, actual: 2 } } }).valid).toBe(true);
    // The listing is typed at the top level only; the registry checks every result in full before it is sent.
    expect(validate({ error: 'text' }).valid).toBe(false);
    expect(validate({ ...ok, version: 'three' }).valid).toBe(false);
    expect(validate({ ...ok, extra: 1 }).valid).toBe(false);
  });

  it('every tool answers an unknown argument with invalid, naming the argument', async () => {
    for (const tool of ALL_TOOLS) {
      const error = errorOf(await h.call(tool.name, { __nope: 1 }), tool.name);
      expect(error.code, tool.name).toBe('invalid');
      // Named unless more than three issues were (a tool with many required arguments).
      expect(error.message, tool.name).toMatch(/unknown argument "__nope"$|; and \d+ more$/);
      expect(error.details, tool.name).toBeUndefined();
      // The first issue: a missing required argument, when the tool has one, else the unknown one.
      const required = requiredArguments(tool);
      if (required.length === 0) expect(error.field, tool.name).toBe('__nope');
      else {
        expect(required, tool.name).toContain(error.field);
        expect(error.message, tool.name).toMatch(new RegExp(`^${error.field}: is required`));
      }
    }
  });

  it('names a bad nested argument by its path', async () => {
    const event = { entity_id: 'u', event_type: 'x.made', payload: {} };
    const mistyped = errorOf(await h.call('ingest_events', { events: [event, event, { ...event, entity_id: 5 }] }), 'ingest_events');
    expect(mistyped).toMatchObject({ code: 'invalid', field: 'events[2].entity_id' });
    expect(mistyped.message).toMatch(/^events\[2\]\.entity_id: /);
    const unknown = errorOf(await h.call('ingest_events', { events: [{ ...event, bogus: 1 }] }), 'ingest_events');
    expect(unknown).toEqual({ code: 'invalid', message: 'events[0]: unknown argument "bogus"', field: 'events[0].bogus' });
    const tooBig = errorOf(await h.call('query_events', { limit: 100_000 }), 'query_events');
    expect(tooBig).toMatchObject({ code: 'invalid', field: 'limit' });
    // The store's own validation (not zod's) names the argument too.
    const instant = errorOf(await h.call('query_events', { as_of: 'yesterday' }), 'query_events');
    expect(instant).toMatchObject({ code: 'invalid', field: 'as_of' });
  });

  it('not_found names the argument that holds the missing id, hint included in the message', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['get_event', { event_id: 'no-such-event' }, 'event_id'],
      ['reconstruct_state', { entity_id: 'ghost' }, 'entity_id'],
      ['get_snapshot', { entity_id: 'ghost' }, 'entity_id'],
      ['prime_get_node', { node_id: 'ghost' }, 'node_id'],
      ['prime_add_edge', { source: 'ghost', target: 'other', relation: 'knows' }, 'source'],
      ['add_observations', { observations: [{ entityName: 'ghost', contents: ['x'] }] }, 'observations[0].entityName'],
    ];
    for (const [name, args, field] of cases) {
      const error = errorOf(await h.call(name, args), name);
      expect(error.code, name).toBe('not_found');
      expect(error.field, name).toBe(field);
      expect(error.message, name).toMatch(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `));
    }
    expect(errorOf(await h.call('get_event', { event_id: 'no-such-event' }), 'get_event').message).toMatch(/\. Next: /);
  });

  it('a conflict carries the expected and actual versions as details', async () => {
    await h.call('ingest_event', { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada' } });
    const single = errorOf(await h.call('ingest_event', { entity_id: 'user-1', event_type: 'user.renamed', payload: {}, expected_version: 5 }), 'ingest_event');
    // The store names events[0].expected_version; ingest_event's caller sent expected_version.
    expect(single).toMatchObject({ code: 'conflict', field: 'expected_version', details: { entity_id: 'user-1', expected: 5, actual: 1 } });
    expect(single.message).toMatch(/^expected_version: .*\. Next: /);
    const batch = errorOf(
      await h.call('ingest_events', { events: [{ entity_id: 'user-2', event_type: 'user.created', payload: {} }, { entity_id: 'user-1', event_type: 'user.renamed', payload: {}, expected_version: 0 }] }),
      'ingest_events',
    );
    expect(batch).toMatchObject({ code: 'conflict', field: 'events[1].expected_version', details: { entity_id: 'user-1', expected: 0, actual: 1 } });
  });

  it('successful calls pass the client validation of the listed schemas and carry no error', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [
      ['ingest_event', { entity_id: 'ok-1', event_type: 'ok.made', payload: { text: 'the lighthouse is red' } }],
      ['get_snapshot', { entity_id: 'ok-1' }],
      ['query_events', { entity_id: 'ok-1' }],
      ['get_stats', {}],
      ['prime_add_node', { type: 'note', properties: { text: 'the lighthouse is red' } }],
      ['prime_recall', { text: 'lighthouse' }],
      ['create_entities', { entities: [{ name: 'Ada', entityType: 'person', observations: ['writes programs'] }] }],
      ['read_graph', {}],
    ];
    for (const [name, args] of calls) {
      const result = await h.call(name, args);
      expect(result.isError, `${name}: ${textOf(result)}`).toBeFalsy();
      expect(result.structuredContent, name).toBeDefined();
      expect(result.structuredContent, name).not.toHaveProperty('error');
    }
  });
});

describe('failures no real tool has', () => {
  const base = {
    title: 'Test tool',
    description: 'A tool that exists only in this test, to see how its failures are reported.',
    group: 'events',
    writes: false,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  } as const;
  const explode = defineTool({
    ...base,
    name: 'explode',
    inputSchema: {},
    outputSchema: { ok: z.boolean() },
    async handler() {
      throw new Error('disk on fire at /secret/path');
    },
  });
  const lie = defineTool({
    ...base,
    name: 'lie',
    inputSchema: {},
    outputSchema: { ok: z.boolean() },
    // A handler bug: the result does not match the declared outputSchema.
    handler: async () => ({ ok: 'yes' }) as unknown as { ok: boolean },
  });
  const extra = defineTool({
    ...base,
    name: 'extra',
    inputSchema: {},
    outputSchema: { ok: z.boolean() },
    // Another bug: a field the outputSchema does not declare (the listed schema forbids it).
    handler: async () => ({ ok: true, secret: 'internal state' }) as { ok: boolean },
  });
  const detailed = defineTool({
    ...base,
    name: 'detailed',
    inputSchema: { kind: z.enum(['date', 'bigint', 'translated']).describe('Which error to throw.') },
    outputSchema: { ok: z.boolean() },
    argumentForField: (field) => (field === 'filter.limit' ? 'limit' : field),
    async handler({ kind }) {
      if (kind === 'date') throw new AllSourceError('unavailable', 'try later', { details: { retry_at: new Date(0), skipped: undefined } });
      if (kind === 'bigint') throw new AllSourceError('quota_exceeded', 'over quota', { details: { used: 10n } });
      throw new InvalidError('filter.limit', 'must be at most 1000');
    },
  });

  let h: Harness;
  beforeAll(async () => (h = await connect({ tools: [explode, lie, extra, detailed] })));
  afterAll(async () => h.close());

  it('a handler that throws a plain Error answers internal, with no stack; the stack goes to the log', async () => {
    const error = errorOf(await h.call('explode'), 'explode');
    expect(error).toEqual({ code: 'internal', message: 'unexpected error' });
    expect(h.logged.join('\n')).toMatch(/explode failed unexpectedly: Error: disk on fire at \/secret\/path\n\s+at /);
  });

  it('a result that does not match the outputSchema is never sent: internal, and logged', async () => {
    const error = errorOf(await h.call('lie'), 'lie');
    expect(error).toEqual({ code: 'internal', message: 'unexpected error' });
    expect(h.logged.join('\n')).toMatch(/lie returned a result that does not match its outputSchema: .*expected boolean.* ok/);
  });

  it('a result with an undeclared field is never sent either', async () => {
    expect(errorOf(await h.call('extra'), 'extra')).toEqual({ code: 'internal', message: 'unexpected error' });
    expect(h.logged.join('\n')).toMatch(/extra returned a result that does not match its outputSchema: .*"secret"/);
  });

  it('details are sent as JSON would carry them, or not at all', async () => {
    expect(errorOf(await h.call('detailed', { kind: 'date' }), 'date')).toEqual({ code: 'unavailable', message: 'try later', details: { retry_at: '1970-01-01T00:00:00.000Z' } });
    expect(errorOf(await h.call('detailed', { kind: 'bigint' }), 'bigint')).toEqual({ code: 'quota_exceeded', message: 'over quota' });
  });

  it('field is the argument the caller sent, after argumentForField', async () => {
    expect(errorOf(await h.call('detailed', { kind: 'translated' }), 'translated')).toEqual({ code: 'invalid', message: 'limit: must be at most 1000', field: 'limit' });
  });
});
