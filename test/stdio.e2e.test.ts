// The stdio server end to end: the built binary (`node dist/bin/allsource.js mcp`; npm test
// builds first) spawned as a child, driven by the SDK's StdioClientTransport exactly as Claude
// Desktop would. State written in one run is read back in the next; the child exits 0 when its
// stdin ends; and nothing but JSON-RPC frames ever reaches its stdout.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioClientTransportV2 } from '@modelcontextprotocol/client/stdio';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, childEnvIn, runCli, type CliRun } from './helpers/runCli.js';

const root = mkdtempSync(join(tmpdir(), 'allsource-stdio-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const childEnv = (): Record<string, string> => childEnvIn(root);

async function startClient(args: string[]): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, ...args], env: childEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'stdio-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

function structured<T>(result: unknown): T {
  const r = result as CallToolResult;
  expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
  return r.structuredContent as T;
}

describe('stdio MCP server', () => {
  it('answers a 2026-07-28 client (SDK v2, no initialize handshake) and a 2025-11-25 one on the same directory', async () => {
    const dataDir = join(root, 'eras');
    const modern = new ClientV2({ name: 'stdio-modern', version: '0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await modern.connect(new StdioClientTransportV2({ command: process.execPath, args: [BIN, 'mcp', '--data', dataDir], env: childEnv(), stderr: 'ignore' }));
    try {
      expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await modern.listTools()).tools).toHaveLength(43);
      const written = await modern.callTool({ name: 'ingest_event', arguments: { entity_id: 'era-1', event_type: 'era.tested', payload: { by: 'modern' } } });
      expect(written.isError).toBeFalsy();
    } finally {
      await modern.close();
    }
    const legacy = await startClient(['mcp', '--data', dataDir]);
    try {
      const state = structured<{ state: unknown }>(await legacy.client.callTool({ name: 'reconstruct_state', arguments: { entity_id: 'era-1' } }));
      expect(state.state).toEqual({ by: 'modern' });
    } finally {
      await legacy.client.close();
    }
  });

  it('serves the tools, persists across a restart, and reads the same state back', async () => {
    const dataDir = join(root, 'restart');
    const first = await startClient(['mcp', '--data', dataDir]);
    try {
      const { tools } = await first.client.listTools();
      expect(tools).toHaveLength(43);
      structured(await first.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'Ada', entityType: 'person', observations: ['writes the first program'] }] } }));
      structured(await first.client.callTool({ name: 'ingest_event', arguments: { entity_id: 'user-1', event_type: 'user.created', payload: { name: 'Ada', plan: 'free' } } }));
      structured(await first.client.callTool({ name: 'ingest_event', arguments: { entity_id: 'user-1', event_type: 'user.upgraded', payload: { plan: 'pro' }, event_id: 'up-1' } }));
      const bad = (await first.client.callTool({ name: 'ingest_event', arguments: { entity_id: 'user-1' } })) as CallToolResult;
      expect(bad.isError).toBe(true);
      expect((bad.content[0] as { text: string }).text).toMatch(/^invalid: event_type: is required/);
    } finally {
      // Ends the child's stdin: the server closes the store and exits.
      await first.client.close();
    }
    expect(first.stderr()).toContain('MCP server on stdio');

    const second = await startClient(['--data', dataDir]); // no subcommand: mcp is the default
    try {
      const state = structured<{ state: unknown; version: number }>(await second.client.callTool({ name: 'get_snapshot', arguments: { entity_id: 'user-1' } }));
      expect(state).toMatchObject({ state: { name: 'Ada', plan: 'pro' }, version: 2 });
      const { event } = structured<{ event: { id: string } }>(await second.client.callTool({ name: 'get_event', arguments: { event_id: 'up-1' } }));
      expect(event.id).toBe('up-1');
      const verify = structured<{ ok: boolean; checked: number }>(await second.client.callTool({ name: 'verify_integrity', arguments: {} }));
      // create_entities wrote the node and its name claim; two ingest_event calls one each.
      expect(verify).toMatchObject({ ok: true, checked: 4 });
      // Prime is a fold of the log: a fresh process recalls what the first one stored.
      const recall = structured<{ results: Array<{ node: { properties: { name: string } }; retrieval: string[] }> }>(
        await second.client.callTool({ name: 'prime_recall', arguments: { text: 'who wrote the first program?' } }),
      );
      expect(recall.results[0].node.properties.name).toBe('Ada');
    } finally {
      await second.client.close();
    }
  });

  it('--read-only and --toolsets shape the tool list', async () => {
    const { client } = await startClient(['mcp', '--data', join(root, 'flags'), '--read-only', '--toolsets', 'events']);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toHaveLength(13);
      expect(names).not.toContain('ingest_event');
    } finally {
      await client.close();
    }
  });

  it('--export-dir and --import-dir say where export_events writes and import_events reads', async () => {
    const exportDir = join(root, 'exchange');
    const importDir = join(root, 'inbox');
    mkdirSync(importDir, { recursive: true });
    writeFileSync(join(importDir, 'in.jsonl'), `${JSON.stringify({ entity_id: 'in', event_type: 'in.made', payload: { n: 1 } })}\n`);
    const { client } = await startClient(['mcp', '--data', join(root, 'dirs'), '--export-dir', exportDir, '--import-dir', importDir]);
    try {
      expect(structured<{ imported: number }>(await client.callTool({ name: 'import_events', arguments: { path: join(importDir, 'in.jsonl') } })).imported).toBe(1);
      expect(structured<{ path: string }>(await client.callTool({ name: 'export_events', arguments: { path: 'out.jsonl' } })).path).toBe(join(exportDir, 'out.jsonl'));
      // The export directory is an import directory too; anywhere else is refused.
      expect(structured<{ skipped: number }>(await client.callTool({ name: 'import_events', arguments: { path: 'out.jsonl', skip_duplicates: true } })).skipped).toBe(1);
      const refused = (await client.callTool({ name: 'import_events', arguments: { path: join(root, 'elsewhere.jsonl') } })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain('path: must name a file in the export directory');
    } finally {
      await client.close();
    }
  });

  it('writes only JSON-RPC frames on stdout, and exits 0 when stdin ends', async () => {
    const server = rawServer(join(root, 'frames'));
    await server.initialize();
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ingest_event', arguments: { entity_id: 'e', event_type: 't.made', payload: { a: 1 } } } });
    server.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get_stats', arguments: { junk: true } } });
    await server.waitFor(2);
    await server.waitFor(3);
    const started = Date.now();
    server.child.stdin.end();
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000); // the SDK client escalates to SIGTERM after 2 s

    const lines = server.stdout().split('\n').filter((line) => line.length > 0);
    expect(lines.length).toBe(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    const byId = new Map(lines.map((line) => JSON.parse(line) as { id: number; result: CallToolResult }).map((m) => [m.id, m.result]));
    expect(byId.get(2)!.isError).toBeFalsy();
    expect(byId.get(3)!.isError).toBe(true);
    expect((byId.get(3)!.content[0] as { text: string }).text).toMatch(/^invalid: unknown argument "junk"/);
    expect(server.stderr()).not.toMatch(/^\s+at /m);
  });

  it('exits 0 on SIGTERM and keeps what was acknowledged', async () => {
    const dataDir = join(root, 'sigterm');
    const server = rawServer(dataDir);
    await server.initialize();
    server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ingest_event', arguments: { entity_id: 'k', event_type: 'k.made', payload: { kept: true } } } });
    await server.waitFor(2);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    const again = await startClient(['mcp', '--data', dataDir]);
    try {
      const state = structured<{ state: unknown }>(await again.client.callTool({ name: 'get_snapshot', arguments: { entity_id: 'k' } }));
      expect(state.state).toEqual({ kept: true });
    } finally {
      await again.client.close();
    }
  });

  it('a second server on the same directory follows the first: one memory, and get_cluster_status says who holds it', async () => {
    const dataDir = join(root, 'shared');
    const first = await startClient(['mcp', '--data', dataDir]);
    const second = await startClient(['mcp', '--data', dataDir]);
    try {
      const roles = await Promise.all([first, second].map(async ({ client }) => structured<{ core: { sharing: { role: string; pid: number; holder_pid: number } } }>(await client.callTool({ name: 'get_cluster_status', arguments: {} })).core.sharing));
      expect(roles.map((r) => r.role)).toEqual(['holder', 'follower']);
      expect(roles[1].holder_pid).toBe(roles[0].pid);
      expect(second.stderr()).toMatch(/is held by process \d+; sharing it through .*core\.sock/);
      // A node written in one window is recalled in the other on the next call, both ways.
      await second.client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'the follower remembers the lighthouse keeper' } } });
      await first.client.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: 'the holder remembers the harbour master' } } });
      const inFirst = JSON.stringify(await first.client.callTool({ name: 'prime_recall', arguments: { text: 'lighthouse keeper' } }));
      const inSecond = JSON.stringify(await second.client.callTool({ name: 'prime_recall', arguments: { text: 'harbour master' } }));
      expect(inFirst).toContain('lighthouse keeper');
      expect(inSecond).toContain('harbour master');
    } finally {
      await second.client.close();
      await first.client.close();
    }
  });
});

describe('CLI: tools and call', () => {
  /** Runs the CLI to completion. */
  const run = (args: string[], input = ''): Promise<CliRun> => runCli(args, childEnv(), input);

  it('tools lists the registry', async () => {
    const json = await run(['tools', '--json']);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ name: string; group: string; access: string; title: string }>;
    expect(rows).toHaveLength(43);
    expect(rows[0]).toMatchObject({ name: 'ingest_event', group: 'events', access: 'write', title: 'Record an event' });
    const text = await run(['tools']);
    expect(text.stdout).toMatch(/^name\s+group\s+access\s+title$/m);
    expect(text.stdout).toMatch(/^verify_integrity\s+events\s+read\s+Verify log integrity$/m);
  });

  it('call runs one tool and prints its structuredContent; errors go to stderr with exit 1', async () => {
    const data = join(root, 'call');
    const ingest = await run(['call', 'ingest_event', '{"entity_id":"user-1","event_type":"user.created","payload":{"name":"Ada"}}', '--data', data]);
    expect(ingest.code).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({ entity_id: 'user-1', version: 1, duplicate: false });
    const fromStdin = await run(['call', 'get_snapshot', '-', '--data', data], '{"entity_id":"user-1"}');
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ state: { name: 'Ada' }, version: 1 });
    // Prime through the CLI: a one-shot process searches vectors exactly (no HNSW build to wait for).
    expect((await run(['call', 'prime_add_node', '{"type":"note","properties":{"text":"the lighthouse is red"}}', '--data', data])).code).toBe(0);
    const stats = JSON.parse((await run(['call', 'prime_stats', '{}', '--data', data])).stdout) as { nodes: number; vector_index: { mode: string; note: string } };
    expect(stats).toMatchObject({ nodes: 1, vector_index: { mode: 'exact' } });
    expect(stats.vector_index.note).toMatch(/one-shot CLI call|not installed/);

    const bad = await run(['call', 'get_snapshot', '{"entity":"user-1"}', '--data', data]);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/^error: invalid: entity_id: is required/);
    const missing = await run(['call', 'get_snapshot', '{"entity_id":"ghost"}', '--data', data]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: not_found: entity_id: entity "ghost" has no events\. Next: /);
    // Rebuilt from the result's structured error: the code, and the argument the caller sent.
    const conflict = await run(['call', 'ingest_event', '{"entity_id":"user-1","event_type":"user.renamed","payload":{},"expected_version":7}', '--data', data]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error: conflict: expected_version: entity "user-1" is at version 1, not 7/);
    expect(conflict.stderr).not.toContain('(field:');
    const unknown = await run(['call', 'no_such_tool', '{}', '--data', data]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: not_found: tool "no_such_tool" does not exist/);
    const notJson = await run(['call', 'get_stats', '{oops', '--data', data]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^error: invalid: args: is not valid JSON/);
    // A read on a directory that does not exist does not create it.
    const noDir = await run(['call', 'get_stats', '{}', '--data', join(root, 'never')]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toMatch(/^error: not_found: data directory/);
  });
});

/** The server as a raw child process, spoken to in newline-delimited JSON-RPC, to see its exact stdout and exit code. */
function rawServer(dataDir: string) {
  const child = spawn(process.execPath, [BIN, 'mcp', '--data', dataDir], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const send = (message: object): void => {
    child.stdin.write(`${JSON.stringify(message)}\n`);
  };
  const waitFor = async (id: number): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!stdout.split('\n').some((line) => line.includes(`"id":${id}`))) {
      if (Date.now() > deadline) throw new Error(`no response ${id}; stdout: ${stdout}; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const initialize = async (): Promise<void> => {
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await waitFor(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  };
  return { child, exited, send, waitFor, initialize, stdout: () => stdout, stderr: () => stderr };
}
