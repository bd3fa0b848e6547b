// The stdio server under load and abuse, end to end: the built binary spawned as a child and
// driven by the SDK's StdioClientTransport. A message over the 64 MiB limit gets a JSON-RPC error
// naming its size and the limit (with the request's id, so the client's call fails at once
// instead of hanging), one stderr line, and the server keeps serving; thirty concurrent tool
// calls leave no MaxListenersExceededWarning on stderr; a line that is not JSON gets JSON-RPC's
// parse error (-32700, id null) rather than silence.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { leadingId, notJson, requestId } from '../transports/stdioLines.js';
import { BIN, childEnvIn } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-stdio-limits-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function startClient(name: string): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--data', join(root, name)], env: childEnvIn(root), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'stdio-limits', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

describe('stdio limits', () => {
  it('answers a 70 MB message with an error naming its size and the limit, then serves the next call', async () => {
    const { client, stderr } = await startClient('oversize');
    try {
      const huge = 'x'.repeat(70 * 1024 * 1024);
      const refused = client.callTool({ name: 'ingest_event', arguments: { entity_id: 'big', event_type: 'big.sent', payload: { text: huge } } });
      await expect(refused).rejects.toMatchObject({ code: -32600, message: expect.stringMatching(/message of \d{8} bytes is over this server's limit of 67108864 bytes/) });
      const next = (await client.callTool({ name: 'ingest_event', arguments: { entity_id: 'small', event_type: 'small.sent', payload: { ok: true } } })) as CallToolResult;
      expect(next.isError).toBeFalsy();
      const stats = (await client.callTool({ name: 'get_stats', arguments: {} })) as CallToolResult;
      expect(stats.isError).toBeFalsy();
      expect(JSON.stringify(stats.structuredContent)).toContain('"events":1');
      const lines = stderr().split('\n').filter((line) => line.includes('refused a'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/refused a \d+-byte message \(limit 67108864\) with id \d+/);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('runs 30 concurrent tool calls with large answers without a MaxListenersExceededWarning', async () => {
    const { client, stderr } = await startClient('concurrent');
    try {
      // Answers over the pipe's 16 KiB mark make stdout report backpressure: that is when each
      // waiting answer used to add its own drain and error listeners.
      for (let i = 0; i < 20; i++) await client.callTool({ name: 'ingest_event', arguments: { entity_id: `big-${i}`, event_type: 'load.tested', payload: { text: 'y'.repeat(30_000) } } });
      const calls = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? client.callTool({ name: 'query_events', arguments: { limit: 20 } })
          : i % 3 === 1
            ? client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: `note ${i} ${'z'.repeat(20_000)}` } } })
            : client.callTool({ name: 'query_events', arguments: { limit: 10, order: 'desc' } }),
      );
      const results = (await Promise.all(calls)) as CallToolResult[];
      expect(results.filter((r) => r.isError)).toEqual([]);
    } finally {
      await client.close();
    }
    expect(stderr()).not.toMatch(/MaxListenersExceeded|Warning/);
  }, 60_000);

  it('answers a line that is not JSON with a parse error (id null), ignores blank lines, and keeps serving', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--data', join(root, 'garbage')], { env: childEnvIn(root), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      child.stdin.write('hello world\n[1, 2\n\n   \n{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
      const deadline = Date.now() + 10_000;
      while (!stdout.includes('"id":1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const frames = stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: unknown; error?: { code: number; message: string }; result?: unknown });
      const errors = frames.filter((f) => f.error !== undefined);
      expect(errors).toHaveLength(2);
      for (const e of errors) expect(e).toMatchObject({ id: null, error: { code: -32700 } });
      expect(errors.map((e) => e.error!.message)).toEqual([expect.stringMatching(/^Parse error: a JSON-RPC message is a JSON object, and this line starts with "hello world"$/), expect.stringMatching(/^Parse error: not valid JSON/)]);
      expect(frames.find((f) => f.id === 1)).toMatchObject({ result: {} });
      expect(stderr.split('\n').filter((l) => l.includes('not JSON'))).toHaveLength(2);
    } finally {
      child.stdin.end();
      expect(await exited).toBe(0);
    }
  });
});

describe('reading the id of an oversize message from its ends', () => {
  const line = (text: string) => ({ bytes: text.length, head: Buffer.from(text.slice(0, 100)), tail: Buffer.from(text.slice(-100)) });
  it('takes a top-level id first, never one inside params, else a last id member, else null', () => {
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":7,"method":"tools/call"'))).toBe(7);
    expect(leadingId(Buffer.from('{"params":{"id":"inner"},"id":"outer"'))).toBe('outer');
    expect(leadingId(Buffer.from('{"params":{"id":"inner","text":"xxxx'))).toBeNull();
    expect(requestId(line(`{"method":"tools/call","params":{"id":"inner","text":"${'x'.repeat(500)}"},"jsonrpc":"2.0","id":42}`))).toBe(42);
    expect(requestId(line(`{"method":"tools/call","params":{"text":"${'x'.repeat(500)}"}}`))).toBeNull();
  });
});

describe('telling a JSON line from one that is not', () => {
  it('tells JSON from not-JSON cheaply: the first character always, a full parse up to 64 KiB, the last character past it', () => {
    expect(notJson(Buffer.from('{"a":1}\n'))).toBeNull();
    expect(notJson(Buffer.from('  \r\n'))).toBeNull();
    expect(notJson(Buffer.from('Content-Length: 42\r\n'))).toMatch(/starts with "Content-Length: 42"$/);
    expect(notJson(Buffer.from('{"a":'))).toMatch(/^not valid JSON/);
    // Past 64 KiB the ends are checked, not the inside (the SDK still parses it, and drops it if broken).
    const big = 'x'.repeat(100 * 1024);
    expect(notJson(Buffer.from(`{"a":"${big}"}\n`))).toBeNull();
    expect(notJson(Buffer.from(`{"a":"${big}`))).toMatch(/^not valid JSON \(a \d+-byte line that opens with \{ does not close it/);
    expect(notJson(Buffer.from(`{"a":"${big}" oops}`))).toBeNull();
  });
});
