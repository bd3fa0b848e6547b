// MCP benchmark: the real `allsource mcp` stdio server against the reference memory server
// (@modelcontextprotocol/server-memory), both as child processes driven by a real MCP Client.
// Prints one markdown table with ratios and targets. Run by `npm run bench` after the store bench.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = dirname(fileURLToPath(import.meta.url));
const ALLSOURCE_BIN = join(here, '..', 'bin', 'allsource.js');
const REFERENCE_BIN = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

const ENTITIES = 10_000;
const LATENCY_CALLS = 2000;
const INFLIGHT_CALLS = 10_000;
const INFLIGHT = 64;
const SINGLE_CREATES = 500;
const SEARCHES = 200;

function log(line: string): void {
  process.stderr.write(`[bench:mcp] ${line}\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function connect(command: string, args: string[], env: Record<string, string>): Promise<Client> {
  const transport = new StdioClientTransport({ command, args, env: { ...(process.env as Record<string, string>), ...env }, stderr: 'ignore' });
  const client = new Client({ name: 'allsource-bench', version: '0' });
  await client.connect(transport);
  return client;
}

/** Calls a tool and fails loudly on an error result: a benchmark of failing calls measures nothing. */
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<unknown> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content).slice(0, 300)}`);
  return result;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function latencies(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await timed(() => fn(i)));
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(total: number, inflight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return (total / (performance.now() - start)) * 1000;
}

const person = (i: number) => ({ name: `person-${i}`, entityType: 'person', observations: [`works on project ${i % 97}`, `lives in city ${i % 31}`] });

interface Row {
  scenario: string;
  allsource: string;
  reference: string;
  ratio: string;
  target: string;
  result: string;
}

function fmt(n: number, unit: string): string {
  return `${n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 3)} ${unit}`;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'allsource-bench-mcp-'));
  const rows: Row[] = [];
  try {
    log('starting both servers');
    const allsource = await connect(process.execPath, [ALLSOURCE_BIN, 'mcp', '--data', join(root, 'allsource')], {});
    const reference = await connect(process.execPath, [REFERENCE_BIN], { MEMORY_FILE_PATH: join(root, 'memory.jsonl') });

    log(`round trips: ${LATENCY_CALLS} sequential ingest_event and query_events calls`);
    const ingest = await latencies(LATENCY_CALLS, (i) => call(allsource, 'ingest_event', { entity_id: `rt-${i % 50}`, event_type: 'note.added', payload: { text: `note ${i}` } }));
    const query = await latencies(LATENCY_CALLS, (i) => call(allsource, 'query_events', { entity_id: `rt-${i % 50}`, limit: 10 }));
    rows.push({ scenario: 'ingest_event round trip p50', allsource: fmt(ingest.p50, 'ms'), reference: '—', ratio: '—', target: '<= 0.5 ms', result: ingest.p50 <= 0.5 ? 'pass' : 'MISS' });
    rows.push({ scenario: 'ingest_event round trip p99', allsource: fmt(ingest.p99, 'ms'), reference: '—', ratio: '—', target: '—', result: '—' });
    rows.push({ scenario: 'query_events round trip p50', allsource: fmt(query.p50, 'ms'), reference: '—', ratio: '—', target: '<= 0.5 ms', result: query.p50 <= 0.5 ? 'pass' : 'MISS' });
    rows.push({ scenario: 'query_events round trip p99', allsource: fmt(query.p99, 'ms'), reference: '—', ratio: '—', target: '—', result: '—' });

    log(`sustained: ${INFLIGHT_CALLS} ingest_event calls, ${INFLIGHT} in flight`);
    const sustained = await throughput(INFLIGHT_CALLS, INFLIGHT, (i) => call(allsource, 'ingest_event', { entity_id: `load-${i % 500}`, event_type: 'load.tested', payload: { i } }));
    rows.push({ scenario: `sustained ingest_event, ${INFLIGHT} in flight`, allsource: fmt(sustained, 'calls/s'), reference: '—', ratio: '—', target: '>= 5,000 calls/s', result: sustained >= 5000 ? 'pass' : 'MISS' });

    log(`preloading ${ENTITIES.toLocaleString('en-US')} entities into both`);
    for (let start = 0; start < ENTITIES; start += 1000) {
      const batch = Array.from({ length: 1000 }, (_, k) => person(start + k));
      await call(allsource, 'create_entities', { entities: batch });
      await call(reference, 'create_entities', { entities: batch });
    }

    log(`${SINGLE_CREATES} more entities, one call at a time, at ${ENTITIES.toLocaleString('en-US')} entities`);
    const ours = await throughput(SINGLE_CREATES, 1, (i) => call(allsource, 'create_entities', { entities: [{ ...person(ENTITIES + i), name: `person-x${i}` }] }));
    const theirs = await throughput(SINGLE_CREATES, 1, (i) => call(reference, 'create_entities', { entities: [{ ...person(ENTITIES + i), name: `person-x${i}` }] }));
    rows.push({
      scenario: `create one entity per call, at ${ENTITIES.toLocaleString('en-US')} entities`,
      allsource: fmt(ours, 'calls/s'),
      reference: fmt(theirs, 'calls/s'),
      ratio: `${(ours / theirs).toFixed(1)}x`,
      target: '>= 65x',
      result: ours / theirs >= 65 ? 'pass' : 'MISS',
    });

    log(`${SEARCHES} searches on each`);
    const oursSearch = await latencies(SEARCHES, (i) => call(allsource, 'search_nodes', { query: `project ${i % 97}`, limit: 10 }));
    const oursRecall = await latencies(SEARCHES, (i) => call(allsource, 'prime_recall', { text: `works on project ${i % 97}`, top_k: 10 }));
    const theirsSearch = await latencies(SEARCHES, (i) => call(reference, 'search_nodes', { query: `project ${i % 97}` }));
    rows.push({
      scenario: `search_nodes at ${ENTITIES.toLocaleString('en-US')} entities, p50`,
      allsource: fmt(oursSearch.p50, 'ms'),
      reference: fmt(theirsSearch.p50, 'ms'),
      ratio: `${(theirsSearch.p50 / oursSearch.p50).toFixed(1)}x faster`,
      target: '>= 50x faster',
      result: theirsSearch.p50 / oursSearch.p50 >= 50 ? 'pass' : 'MISS',
    });
    rows.push({
      scenario: `prime_recall at ${ENTITIES.toLocaleString('en-US')} entities, p50 / p99`,
      allsource: `${fmt(oursRecall.p50, 'ms')} / ${fmt(oursRecall.p99, 'ms')}`,
      reference: '— (no ranked recall)',
      ratio: '—',
      target: '—',
      result: '—',
    });

    await allsource.close();
    await reference.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const header = '| scenario | allsource | reference memory server | ratio | target | result |';
  const out = [
    `## allsource MCP bench — ${new Date().toISOString()}`,
    '',
    `- node ${process.version}; both servers as stdio child processes driven by @modelcontextprotocol/sdk Client; reference: @modelcontextprotocol/server-memory (JSONL file)`,
    '- the same tools on both sides: create_entities, and search_nodes (reference: substring match, every hit; allsource: the same matches ranked, first page of 10)',
    '- prime_recall: hybrid recall (BM25 + offline embedder + graph) over the same entities, through the stdio round trip',
    '',
    header,
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.allsource} | ${r.reference} | ${r.ratio} | ${r.target} | ${r.result} |`),
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench:mcp] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
