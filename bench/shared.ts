// Shared local memory benchmark (`npm run bench` runs it; alone: `npm run bench:shared`): two
// `allsource mcp` processes on one data directory, as Claude Desktop and an IDE would run them,
// each driven by a real MCP client over stdio. The first holds the directory; the second follows
// it through the unix socket. Times the same calls through both, one at a time: an append
// (ingest_event) and a recall (prime_recall over 500 memories). Target: a follower's p50 at most
// twice the holder's.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { makeRow, percentile, renderTable } from './stats.js';

const BIN = fileURLToPath(new URL('../bin/allsource.js', import.meta.url));
const CALLS = 1000;
const MEMORIES = 500;

const log = (line: string): void => void process.stderr.write(`[bench:shared] ${line}\n`);

async function open(dataDir: string): Promise<Client> {
  const client = new Client({ name: 'bench-shared', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--data', dataDir], stderr: 'ignore' }));
  return client;
}

async function role(client: Client): Promise<string> {
  const r = (await client.callTool({ name: 'get_cluster_status', arguments: {} })) as CallToolResult;
  return (r.structuredContent as { core: { sharing: { role: string } } }).core.sharing.role;
}

async function timed(client: Client, calls: number, make: (i: number) => { name: string; arguments: Record<string, unknown> }): Promise<Float64Array> {
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const r = (await client.callTool(make(i))) as CallToolResult;
    samples[i] = performance.now() - t0;
    if (r.isError) throw new Error(`${make(i).name} failed: ${JSON.stringify(r.content).slice(0, 200)}`);
  }
  return samples;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allsource-bench-shared-'));
  const clients: Client[] = [];
  try {
    const holder = await open(dir);
    clients.push(holder);
    const follower = await open(dir);
    clients.push(follower);
    const roles = [await role(holder), await role(follower)];
    if (roles.join() !== 'holder,follower') throw new Error(`expected a holder and a follower, got ${roles.join(', ')}`);
    log(`seeding ${MEMORIES} memories`);
    for (let i = 0; i < MEMORIES; i++) await holder.callTool({ name: 'prime_add_node', arguments: { type: 'note', properties: { text: `note ${i}: project ${i % 23} met ${['Ada', 'Alan', 'Grace', 'Edsger'][i % 4]} in city ${i % 17}` } } });
    const append = (i: number) => ({ name: 'ingest_event', arguments: { entity_id: `doc-${i % 50}`, event_type: 'doc.edited', payload: { words: i } } });
    const recall = (i: number) => ({ name: 'prime_recall', arguments: { text: `project ${i % 23} with ${['Ada', 'Grace'][i % 2]}`, top_k: 5 } });
    // Warm both (JIT, the follower's first hydration), then alternate so drift hits both alike.
    await timed(holder, 100, append);
    await timed(follower, 100, append);
    await timed(holder, 50, recall);
    await timed(follower, 50, recall);
    log(`${CALLS} appends and ${CALLS} recalls through each, one at a time`);
    const holderAppend = await timed(holder, CALLS, append);
    const followerAppend = await timed(follower, CALLS, append);
    const holderRecall = await timed(holder, CALLS, recall);
    const followerRecall = await timed(follower, CALLS, recall);
    const twice = { text: '<= 2x the holder', check: (_v: number, ratio: number | null) => ratio !== null && ratio <= 2 };
    const rows = [
      makeRow('append round trip p50 (ingest_event)', 'ms', percentile(followerAppend, 50), percentile(holderAppend, 50), twice),
      makeRow('append round trip p99', 'ms', percentile(followerAppend, 99), percentile(holderAppend, 99)),
      makeRow(`recall p50 (prime_recall, ${MEMORIES} memories)`, 'ms', percentile(followerRecall, 50), percentile(holderRecall, 50), twice),
      makeRow('recall p99', 'ms', percentile(followerRecall, 99), percentile(holderRecall, 99)),
    ];
    const lines = [
      `## one memory, two processes (allsource mcp holder and follower) — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- two \`allsource mcp\` processes on one data directory, SDK 1.32 clients over stdio; the follower reaches the holder's store through the unix socket (HttpCore), and its Prime catches up with the log before each read`,
      '',
      renderTable(rows, { a: 'follower', b: 'holder', ratio: 'follower / holder' }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const c of clients.reverse()) await c.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
