// The stdio transport's direct tools/call path (transports/directToolCalls) against the SDK's own
// dispatch: the same server, the same messages, once through serveStdio alone and once through the
// wrapper, each on a store of its own. Every answer must be the same (ids and instants aside), the
// direct path must take exactly the plain calls, and a cancelled or cut-off call stays unanswered
// on both.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore } from '../src/index.js';
import { createPrimeService } from '../src/prime/service.js';
import { defineTool } from '../tools/define.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer, toolCallers, type ToolCaller } from '../tools/registry.js';
import { withDirectToolCalls } from '../transports/directToolCalls.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-direct-'));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tool call the test holds: it says when the call has started, and finishes when released. */
function newGate() {
  let started!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (started = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const tool = defineTool({
    name: 'hold',
    title: 'Hold',
    description: 'Waits for the test.',
    group: 'events',
    writes: false,
    inputSchema: {},
    outputSchema: { held: z.boolean() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      started();
      await released;
      return { held: true };
    },
  });
  return { tool, entered, release };
}

interface Served {
  /** Sends one JSON-RPC message (an object, or a raw line). */
  send(message: object | string): void;
  /** The answer to request `id`. */
  answer(id: number): Promise<Record<string, unknown>>;
  answered(id: number): boolean;
  /** Tools the direct path answered, in order (empty when serving through the SDK alone). */
  direct: string[];
  input: PassThrough;
  close(): Promise<void>;
}

async function serve(direct: boolean, extraTools: readonly ReturnType<typeof defineTool>[] = []): Promise<Served> {
  const dataDir = join(root, `d${++dirs}`);
  const store = await openEmbeddedCore({ dataDir, durability: 'none', log: () => {} });
  const prime = createPrimeService({ store, log: () => {} });
  const input = new PassThrough();
  const output = new PassThrough();
  const taken: string[] = [];
  let callers: ReadonlyMap<string, ToolCaller> = new Map();
  const factory = () => {
    const server = createAllsourceServer({ store, prime, tenant: 'acme', mode: 'local', dataDir, tools: [...ALL_TOOLS, ...extraTools], log: () => {} });
    // Counted here, not in the registry: the SDK's path runs the same function without this wrapper.
    callers = new Map([...toolCallers(server)].map(([name, call]): [string, ToolCaller] => [name, (args, meta) => (taken.push(name), call(args, meta))]));
    return server;
  };
  const wire = new StdioServerTransport(input, output);
  const handle = serveStdio(factory, { transport: direct ? withDirectToolCalls(wire, () => callers) : wire });
  const answers = new Map<number, Record<string, unknown>>();
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let buffered = '';
  output.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const message = JSON.parse(buffered.slice(0, i)) as Record<string, unknown>;
      buffered = buffered.slice(i + 1);
      if (typeof message.id !== 'number') continue;
      answers.set(message.id, message);
      waiting.get(message.id)?.(message);
    }
  });
  return {
    send: (message) => void input.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`),
    answer: (id) => {
      const known = answers.get(id);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    answered: (id) => answers.has(id),
    direct: taken,
    input,
    async close() {
      await handle.close();
      await prime.close();
      await store.close();
    },
  };
}

async function initialize(s: Served): Promise<void> {
  s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'direct-test', version: '1' } } });
  await s.answer(1);
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
}

/** The answer with generated ids, recorded instants and hashes replaced, so two stores compare equal. */
function normalized(message: Record<string, unknown>): unknown {
  const text = JSON.stringify(message)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<instant>')
    .replace(/[0-9a-f]{64}/g, '<hash>');
  return JSON.parse(text);
}

const call = (id: number, name: string, args?: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: args === undefined ? { name } : { name, arguments: args } });

describe('direct tools/call on stdio', () => {
  it('answers exactly what the SDK answers, and takes only plain calls of known tools', async () => {
    const messages: Array<object | string> = [
      call(10, 'ingest_event', { entity_id: 'u-1', event_type: 'user.created', payload: { name: 'Ada', __proto__x: 1 } }),
      call(11, 'ingest_event', { entity_id: 'u-1', event_type: 'user.renamed', payload: { name: 'Ada L.' }, event_id: 'e-2', occurred_at: '2024-05-01' }),
      call(12, 'ingest_event', { entity_id: 'u-1', event_type: 'user.renamed', payload: { name: 'Ada L.' }, event_id: 'e-2', occurred_at: '2024-05-01' }),
      call(13, 'ingest_event', { entity_id: 'u-1', event_type: 'user.renamed', payload: { name: 'Other' }, event_id: 'e-2' }),
      call(14, 'ingest_event', { entity_id: 'u-1' }),
      call(15, 'ingest_event', { entity_id: 'u-1', event_type: 'x.y', payload: {}, junk: true }),
      call(16, 'ingest_event', { entity_id: 'u-1', event_type: 'x.y', payload: {}, expected_version: 7 }),
      call(17, 'get_snapshot', { entity_id: 'ghost' }),
      call(18, 'get_snapshot', { entity_id: 'u-1' }),
      call(19, 'create_entities', { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] }),
      call(20, 'create_entities', { entities: [{ name: 'Ada', entityType: 'person', observations: [] }] }),
      call(21, 'search_nodes', { query: 'program' }),
      call(22, 'get_stats'),
      call(23, 'ingest_events', { events: [{ entity_id: 'u-2', event_type: 'a.b', payload: { n: 1 } }, { entity_id: '$bad', event_type: 'a.b', payload: {} }] }),
      // Left to the SDK: an unknown tool, arguments that are not an object, _meta, an extra
      // parameter, and an arguments object holding __proto__ (the SDK's copy drops that key).
      call(30, 'no_such_tool', {}),
      call(31, 'get_stats', [1]),
      { jsonrpc: '2.0', id: 32, method: 'tools/call', params: { name: 'get_stats', arguments: {}, _meta: { progressToken: 5 } } },
      { jsonrpc: '2.0', id: 33, method: 'tools/call', params: { name: 'get_stats', arguments: {}, task: { ttl: 1000 } } },
      '{"jsonrpc":"2.0","id":34,"method":"tools/call","params":{"name":"get_snapshot","arguments":{"__proto__":{"x":1},"entity_id":"u-1"}}}',
      { jsonrpc: '2.0', id: 35, method: 'tools/list' },
      { jsonrpc: '2.0', id: 36, method: 'ping' },
    ];
    const viaSdk = await serve(false);
    const viaDirect = await serve(true);
    try {
      await initialize(viaSdk);
      await initialize(viaDirect);
      for (const message of messages) {
        const id = (typeof message === 'string' ? JSON.parse(message) : message).id as number;
        viaSdk.send(message);
        viaDirect.send(message);
        const [sdk, direct] = await Promise.all([viaSdk.answer(id), viaDirect.answer(id)]);
        expect(normalized(direct), `answer ${id}`).toEqual(normalized(sdk));
      }
      expect(viaSdk.direct).toEqual([]);
      expect(viaDirect.direct).toEqual(['ingest_event', 'ingest_event', 'ingest_event', 'ingest_event', 'ingest_event', 'ingest_event', 'ingest_event', 'get_snapshot', 'get_snapshot', 'create_entities', 'create_entities', 'search_nodes', 'get_stats', 'ingest_events']);
      // The answers compared are the real ones: a success, and the errors with their codes.
      const results = await Promise.all([10, 12, 13, 14, 16, 17, 30].map((id) => viaDirect.answer(id)));
      expect((results[0].result as { isError?: boolean }).isError).toBeUndefined();
      expect((results[1].result as { structuredContent: { duplicate: boolean } }).structuredContent.duplicate).toBe(true);
      expect(results.slice(2, 6).map((m) => (m.result as { structuredContent: { error: { code: string } } }).structuredContent.error.code)).toEqual(['conflict', 'invalid', 'conflict', 'not_found']);
      expect(results[6].error).toMatchObject({ code: -32602 });
    } finally {
      await viaSdk.close();
      await viaDirect.close();
    }
  });

  it('does not take calls before the initialize handshake', async () => {
    const s = await serve(true);
    try {
      s.send(call(2, 'get_stats'));
      expect(await s.answer(2)).toHaveProperty('result');
      expect(s.direct).toEqual([]);
      await initialize(s);
      s.send(call(3, 'get_stats'));
      await s.answer(3);
      expect(s.direct).toEqual(['get_stats']);
    } finally {
      await s.close();
    }
  });

  for (const direct of [false, true]) {
    const path = direct ? 'direct' : 'SDK';
    it(`${path}: a call cancelled with notifications/cancelled is not answered`, async () => {
      const gate = newGate();
      const s = await serve(direct, [gate.tool]);
      try {
        await initialize(s);
        s.send(call(40, 'hold', {}));
        await gate.entered;
        s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 40, reason: 'test' } });
        s.send({ jsonrpc: '2.0', id: 41, method: 'ping' });
        await s.answer(41);
        gate.release();
        await new Promise((resolve) => setTimeout(resolve, 50));
        s.send({ jsonrpc: '2.0', id: 42, method: 'ping' });
        await s.answer(42);
        expect(s.answered(40)).toBe(false);
        expect(s.direct).toEqual(direct ? ['hold'] : []);
      } finally {
        await s.close();
      }
    });

    it(`${path}: a call still running when stdin ends is not answered`, async () => {
      const gate = newGate();
      const s = await serve(direct, [gate.tool]);
      try {
        await initialize(s);
        s.send(call(50, 'hold', {}));
        await gate.entered;
        s.input.end();
        await new Promise((resolve) => setTimeout(resolve, 20));
        gate.release();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(s.answered(50)).toBe(false);
        expect(s.direct).toEqual(direct ? ['hold'] : []);
      } finally {
        await s.close();
      }
    });
  }
});
