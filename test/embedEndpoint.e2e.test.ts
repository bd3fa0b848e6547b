// A semantic embedder end to end: the built stdio server, configured by ALLSOURCE_EMBED_* as a
// user would, against a real OpenAI-compatible /v1/embeddings endpoint on loopback (its "model"
// is the offline hasher, so answers are predictable). Recall reports the endpoint's embedder;
// node vectors are stored in the log, so a restarted server embeds only its queries; and an
// endpoint that goes away is a clear error that writes nothing, never a silent fallback.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHashEmbedder } from '../src/embed/hashEmbedder.js';

const BIN = fileURLToPath(new URL('../dist/bin/allsource.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'allsource-embed-e2e-'));
const model = createHashEmbedder();

let server: Server;
let origin: string;
let texts = 0;
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests++;
      const { input } = JSON.parse(body) as { model: string; input: string[] };
      texts += input.length;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data: input.map((text, index) => ({ object: 'embedding', index, embedding: Array.from(model.embedSync!(text)) })) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

function env(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('ALLSOURCE_')) out[key] = value;
  return { ...out, HOME: root, ...extra };
}

async function start(dataDir: string, extra: Record<string, string>): Promise<Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--data', dataDir], env: env(extra), stderr: 'ignore' });
  const client = new Client({ name: 'embed-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function ok<T>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as T;
}

interface Recall {
  results: Array<{ node: { properties: { text: string } }; retrieval: string[] }>;
  embedder: { name: string; kind: string; source: string };
}

describe('an OpenAI-compatible embedding endpoint', () => {
  it('embeds memories and queries there, stores node vectors in the log, and fails loudly when it is gone', async () => {
    const dataDir = join(root, 'data');
    const settings = { ALLSOURCE_EMBED_URL: `${origin}/v1`, ALLSOURCE_EMBED_MODEL: 'test-embedder' };
    const first = await start(dataDir, settings);
    try {
      await ok(first, 'prime_add_node', { type: 'memory', properties: { text: 'the lighthouse keeper paints watercolours at dawn' } });
      await ok(first, 'prime_add_node', { type: 'memory', properties: { text: 'quarterly budget review moved to Friday' } });
      const recall = await ok<Recall>(first, 'prime_recall', { text: 'lighthouse watercolours', top_k: 1 });
      expect(recall.embedder).toEqual({ name: 'openai:test-embedder', kind: 'semantic', dims: model.dims, source: origin });
      expect(recall.results[0].node.properties.text).toMatch(/lighthouse/);
      expect(recall.results[0].retrieval).toContain('semantic');
    } finally {
      await first.close();
    }
    expect(texts).toBe(3); // two memories, one query

    // A fresh process folds the stored vectors from the log: only the query goes to the model.
    const second = await start(dataDir, settings);
    try {
      const recall = await ok<Recall>(second, 'prime_recall', { text: 'budget meeting', top_k: 1 });
      expect(recall.results[0].node.properties.text).toMatch(/budget/);
      expect(texts).toBe(4);

      // The endpoint goes away: a write is refused with the reason and changes nothing.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const before = await ok<{ events: number }>(second, 'prime_stats', {});
      const failed = (await second.callTool({ name: 'prime_add_node', arguments: { type: 'memory', properties: { text: 'never stored' } } })) as CallToolResult;
      expect(failed.isError).toBe(true);
      const text = (failed.content[0] as { text: string }).text;
      expect(text).toMatch(/^unavailable: /);
      expect(text).toContain(origin);
      expect(text).toContain('does not fall back');
      expect((await ok<{ events: number }>(second, 'prime_stats', {})).events).toBe(before.events);
    } finally {
      await second.close();
    }
    expect(requests).toBeGreaterThanOrEqual(2);
  });

  it('refuses to start with half a configuration, naming the missing variable on stderr', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--data', join(root, 'half')], { env: env({ ALLSOURCE_EMBED_URL: 'http://127.0.0.1:9/v1' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('ALLSOURCE_EMBED_MODEL');
  });
});
