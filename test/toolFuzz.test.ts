// Fuzzing every tool through a real MCP client: a few hundred random and malformed argument
// objects per tool (seeded, so a failure replays: ALLSOURCE_FUZZ_SEED=<n>). Every call must come
// back as a result or an isError result whose text starts with a stable code; the server must keep
// answering; a call that failed must not have written anything; and the log must verify at the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import { ALL_TOOLS } from '../tools/index.js';
import { createAllsourceServer } from '../tools/registry.js';
import { mulberry32 } from '../bench/workload.js';

const SEED = Number(process.env.ALLSOURCE_FUZZ_SEED ?? 20_241_123);
const CALLS_PER_TOOL = 300;
const ERROR_TEXT = /^(invalid|not_found|conflict|unauthorized|payment_required|quota_exceeded|unavailable|internal): \S/;

/** The benchmark's seeded PRNG: small, fast, good enough to pick junk, and reproducible. */
const prng = mulberry32;

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (p: number): boolean => random() < p;

const NUMBERS = [0, 1, 2, 3, -1, -0.5, 1.5, 7, 1001, 60_001, 2 ** 53, -(2 ** 31), 1e21, -1e308, Number.MAX_SAFE_INTEGER];
const STRINGS = [
  '',
  'a',
  'user-1',
  'order.placed',
  'ev-1',
  '$control',
  '$tombstone',
  '2024-05-01T12:00:00Z',
  '2024-02-31',
  'yesterday',
  '0001-01-01',
  '9999-12-31T23:59:59.999Z',
  'asc',
  'desc',
  'jsonl',
  'csv',
  'parquet',
  'json',
  'events',
  '\u0000\u0007\u001b[31m',
  'line\nbreak',
  '\ud800 lone surrogate',
  '😀 emoji',
  'x'.repeat(257),
  'y'.repeat(100_000),
  '{"entity_id":"u","event_type":"t","payload":{}}',
  '[{"entity_id":"u","event_type":"t","payload":{"k":1}}]',
  'not json at all',
  '../../etc/passwd',
  'null',
  '__proto__',
  'constructor',
];
const KEYS = ['__proto__', 'constructor', 'payload', 'entity_id', 'x', '', ' ', 'limit', 'cursor', '\u0000', 'a.b', '$where'];

/**
 * A string that is never an absolute path: export_events and import_events accept local paths,
 * and a fuzzer must not create or read files wherever a random string points.
 */
function safe(text: string): string {
  return text.startsWith('/') || text.startsWith('~') ? `x${text}` : text;
}

function junk(depth = 0): unknown {
  const roll = random();
  if (roll < 0.22) return pick(NUMBERS);
  if (roll < 0.5) return safe(pick(STRINGS));
  if (roll < 0.58) return chance(0.5);
  if (roll < 0.64) return null;
  if (depth > 3) return pick(NUMBERS);
  if (roll < 0.78) return Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1));
  if (roll < 0.97) return junkObject(depth + 1);
  return deepNest(chance(0.5) ? 70 : 10);
}

function junkObject(depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(random() * 4);
  for (let i = 0; i < n; i++) out[chance(0.5) ? pick(KEYS) : `k${Math.floor(random() * 100)}`] = junk(depth);
  return out;
}

function deepNest(levels: number): unknown {
  let value: unknown = { leaf: 'x' };
  for (let i = 0; i < levels; i++) value = chance(0.5) ? { n: value } : [value];
  return value;
}

/** A valid call of each tool, mutated one field at a time (so most calls get past the first check). */
const VALID: Record<string, Record<string, unknown>> = {
  ingest_event: { entity_id: 'fuzz-1', event_type: 'fuzz.made', payload: { a: 1 }, metadata: { src: 'fuzz' } },
  ingest_events: { events: [{ entity_id: 'fuzz-2', event_type: 'fuzz.made', payload: { b: 2 } }] },
  query_events: { entity_prefix: 'fuzz-', limit: 5, order: 'desc' },
  get_event: { event_id: 'seed-1' },
  reconstruct_state: { entity_id: 'seed', as_of: '2100-01-01T00:00:00Z' },
  analyze_changes: { entity_id: 'seed', from_time: '2000-01-01' },
  get_snapshot: { entity_id: 'seed' },
  list_entities: { prefix: 'fuzz', limit: 3 },
  list_event_types: { limit: 3 },
  get_stats: {},
  get_cluster_status: {},
  search_events: { query: 'seed words', limit: 3 },
  watch_events: { after: 0, timeout_ms: 0, limit: 2 },
  delete_events: { reason: 'fuzz', event_type: 'fuzz.made', dry_run: true },
  restore_events: { reason: 'fuzz', event_type: 'fuzz.made', dry_run: true },
  export_events: { format: 'csv', limit: 2 },
  import_events: { data: '{"entity_id":"fuzz-3","event_type":"fuzz.made","payload":{"c":3}}', validate_only: true },
  verify_integrity: {},
};

function argumentsFor(tool: string, knownKeys: string[]): Record<string, unknown> {
  const roll = random();
  let args: Record<string, unknown>;
  if (roll < 0.08) args = {};
  else if (roll < 0.25) args = junkObject();
  else if (roll < 0.5) {
    args = {};
    for (const key of knownKeys) if (chance(0.5)) args[key] = junk();
  } else {
    args = { ...VALID[tool] };
    const keys = [...knownKeys, ...Object.keys(args)];
    const action = random();
    if (action < 0.6 && keys.length > 0) args[pick(keys)] = junk();
    else if (action < 0.8 && Object.keys(args).length > 0) delete args[pick(Object.keys(args))];
    else args[pick(KEYS)] = junk();
  }
  if (tool === 'watch_events') {
    // A valid long timeout would park the fuzzer on an idle log for up to a minute.
    const timeout = args.timeout_ms;
    if (timeout === undefined || (typeof timeout === 'number' && timeout > 3 && timeout <= 30_000)) args.timeout_ms = Math.floor(random() * 3);
  }
  // Over a real transport arguments are JSON; the in-memory pair would pass objects by reference.
  return JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
}

describe(`tool fuzzing (seed ${SEED})`, () => {
  const root = mkdtempSync(join(tmpdir(), 'allsource-fuzz-'));
  let store: EmbeddedCore;
  let client: Client;
  const outputSchemas = new Map(ALL_TOOLS.map((t) => [t.name, z.strictObject(t.outputSchema)]));

  beforeAll(async () => {
    store = await openEmbeddedCore({ dataDir: join(root, 'data'), durability: 'none', log: () => {} });
    await store.append('fuzz', [
      { entity_id: 'seed', event_type: 'seed.made', payload: { words: 'seed words here', n: 1 }, id: 'seed-1' },
      { entity_id: 'seed', event_type: 'seed.changed', payload: { n: 2 }, id: 'seed-2' },
    ]);
    const server = createAllsourceServer({ store, tenant: 'fuzz', mode: 'local', dataDir: join(root, 'data'), log: () => {} });
    client = new Client({ name: 'fuzz', version: '1' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await client.connect(clientSide);
    await client.listTools();
  });

  afterAll(async () => {
    await client.close();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  const written = async (): Promise<number> => {
    const result = (await client.callTool({ name: 'get_stats', arguments: {} })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    return (result.structuredContent as { last_position: number }).last_position;
  };

  it('every tool answers every malformed call with a result or a coded isError, and failed calls write nothing', async () => {
    const { tools } = await client.listTools();
    const tally = { ok: 0, rejected: 0 };
    for (const tool of tools) {
      const knownKeys = Object.keys(tool.inputSchema.properties ?? {});
      for (let i = 0; i < CALLS_PER_TOOL; i++) {
        const args = argumentsFor(tool.name, knownKeys);
        const where = `${tool.name} #${i} (seed ${SEED}) ${JSON.stringify(args).slice(0, 300)}`;
        const before = await written();
        const result = (await client.callTool({ name: tool.name, arguments: args })) as CallToolResult;
        const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
        if (result.isError) {
          tally.rejected++;
          expect(text, where).toMatch(ERROR_TEXT);
          expect(text, where).not.toMatch(/\n\s+at /);
          expect(text, where).not.toBe('internal: unexpected error');
          const { error } = result.structuredContent as { error: { code: string; message: string } };
          expect(`${error.code}: ${error.message}`, where).toBe(text);
          expect(await written(), `${where} failed but wrote`).toBe(before);
        } else {
          tally.ok++;
          expect(text.length, where).toBeGreaterThan(0);
          outputSchemas.get(tool.name)!.parse(result.structuredContent);
          const report = result.structuredContent as { errors?: number };
          if (tool.name === 'import_events' && (report.errors ?? 0) > 0) expect(await written(), `${where} reported errors but wrote`).toBe(before);
        }
      }
      // The server still answers after each round.
      await written();
    }
    // Both outcomes were exercised, and the log is intact after it all.
    expect(tally.rejected).toBeGreaterThan(tools.length * 20);
    expect(tally.ok).toBeGreaterThan(tools.length * 5);
    const verify = (await client.callTool({ name: 'verify_integrity', arguments: {} })) as CallToolResult;
    expect(verify.structuredContent).toMatchObject({ ok: true });
  }, 60_000);
});
