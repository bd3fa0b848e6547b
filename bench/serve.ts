// Hosted MCP benchmark (`npm run bench` runs it; alone: `npm run bench:serve`): a real `allsource
// core` and a real `allsource serve --core` as child processes on loopback, driven by real MCP
// clients over streamable HTTP, one per tenant. Measures tools/call throughput and latency with 50
// concurrent callers spread over 100 tenants, and the cold hydration of a tenant holding 10,000
// Prime memories through HttpCore, folding the whole log and starting from the snapshot a first
// instance uploaded to the Core (the artifact `prime-snapshot`); then the same call mix over stdio
// (`allsource mcp`, one tenant) for the ratio. Prints one markdown table; every figure is measured here.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CoreAdminClient, openHttpCore } from '../src/core/http/index.js';
import { nodeCreated } from '../src/prime/events.js';
import { createCoreSnapshotStore } from '../src/prime/coreSnapshots.js';
import { createPrimeService } from '../src/prime/service.js';
import { formatNumber, makeRow, percentile, renderTable, type Row } from './stats.js';

const BIN = fileURLToPath(new URL('../bin/allsource.js', import.meta.url));
const ADMIN_KEY = `bench-serve-${process.pid}-0123456789abcdef`;
const TENANTS = 100;
const CALLERS = 50;
const CALLS = 6000;
const WARM_UP = 2000;
const COLD_MEMORIES = 10_000;

const log = (line: string): void => void process.stderr.write(`[bench:serve] ${line}\n`);

/** Starts `allsource <args>`; `ready` finds the URL in its stderr once it is ready to serve. */
async function start(args: string[], ready: (stderr: string) => string | undefined, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string }> {
  // ALLSOURCE_BENCH_SERVE_NODE_ARGS passes node flags (e.g. --cpu-prof) to the serve child.
  const nodeArgs = args[0] === 'serve' ? (process.env.ALLSOURCE_BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: { ...process.env, ALLSOURCE_ADMIN_KEY: ADMIN_KEY, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = ready(stderr);
      if (url !== undefined) resolve(url);
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${stderr}`)));
  });
  child.stderr!.removeAllListeners('data').resume();
  return { child, url };
}

/** The call mix of one caller's i-th call: writes, reads by entity, and Prime recall. */
function callFor(i: number): { name: string; arguments: Record<string, unknown> } {
  switch (i % 4) {
    case 0:
      return { name: 'ingest_event', arguments: { entity_id: `doc-${i % 40}`, event_type: 'doc.edited', payload: { words: 100 + (i % 50), title: `draft ${i % 40}` } } };
    case 1:
      return { name: 'query_events', arguments: { entity_id: `doc-${i % 40}`, limit: 10 } };
    case 2:
      return { name: 'prime_add_node', arguments: { type: 'note', properties: { text: `meeting note ${i} about project ${i % 13} and budget ${i % 7}` } } };
    default:
      return { name: 'prime_recall', arguments: { text: `project ${i % 13} budget`, top_k: 5 } };
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name.
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU milliseconds per call spent by the core, serve and this (client) process over `run`. */
async function cpuPerCall<T>(pids: { core?: number; serve?: number }, calls: number, run: () => Promise<T>): Promise<{ result: T; ms: { core: number; serve: number; clients: number } }> {
  const before = { core: await cpuSeconds(pids.core), serve: await cpuSeconds(pids.serve), clients: process.cpuUsage() };
  const result = await run();
  const clients = process.cpuUsage(before.clients);
  const per = (seconds: number): number => (seconds * 1000) / calls;
  return {
    result,
    ms: { core: per((await cpuSeconds(pids.core)) - before.core), serve: per((await cpuSeconds(pids.serve)) - before.serve), clients: per((clients.user + clients.system) / 1e6) },
  };
}

async function drive(clientFor: (i: number) => Client, calls: number, inflight: number): Promise<{ perSecond: number; p50: number; p99: number; errors: number }> {
  const samples = new Float64Array(calls);
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < calls) {
        const i = next++;
        const t0 = performance.now();
        const result = await clientFor(i).callTool(callFor(i));
        samples[i] = performance.now() - t0;
        if (result.isError) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: calls / seconds, p50: percentile(samples, 50), p99: percentile(samples, 99), errors };
}

async function main(): Promise<void> {
  const dirs: string[] = [];
  const temp = async (label: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `allsource-bench-serve-${label}-`));
    dirs.push(dir);
    return dir;
  };
  const children: ChildProcess[] = [];
  const clients: Client[] = [];
  try {
    const core = await start(['core', '--data', await temp('core'), '--port', '0'], (s) => (/"msg":"core ready"/.test(s) ? /listening on (http:\/\/\S+)/.exec(s)?.[1] : undefined));
    children.push(core.child);
    const coreUrl = core.url;
    const admin = new CoreAdminClient({ url: coreUrl, key: ADMIN_KEY, retryForMs: 10_000 });
    const keys: string[] = [];
    for (let t = 0; t < TENANTS; t++) {
      await admin.createTenant(`tenant-${t}`);
      keys.push((await admin.createKey({ tenant: `tenant-${t}` })).key);
    }
    await admin.close();
    const serve = await start(['serve', '--core', coreUrl, '--port', '0'], (s) => /MCP on (http:\/\/\S+)\/mcp/.exec(s)?.[1]);
    children.push(serve.child);
    log(`core ${coreUrl}, serve ${serve.url}; ${TENANTS} tenants`);

    const httpClients: Client[] = [];
    for (const key of keys) {
      const client = new Client({ name: 'bench-serve', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${serve.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      httpClients.push(client);
      clients.push(client);
    }
    // Steady state is what a long-running server sees: 20 calls per tenant first (JIT, each
    // tenant's first hydration and key check); a cold tenant's cost is measured on its own below.
    log(`warm-up: ${WARM_UP} calls`);
    await drive((i) => httpClients[i % TENANTS], WARM_UP, CALLERS);
    log(`${CALLS} tools/call, ${CALLERS} in flight over ${TENANTS} tenants`);
    const { result: http, ms: cpu } = await cpuPerCall({ core: core.child.pid, serve: serve.child.pid }, CALLS, () => drive((i) => httpClients[(i * 7) % TENANTS], CALLS, CALLERS));
    log(`http: ${formatNumber(http.perSecond)} calls/s, p50 ${http.p50.toFixed(2)} ms, p99 ${http.p99.toFixed(2)} ms, ${http.errors} errors`);
    const cpuNote = `CPU per call: core ${cpu.core.toFixed(2)} ms, serve ${cpu.serve.toFixed(2)} ms, the 100 MCP clients ${cpu.clients.toFixed(2)} ms (${(cpu.core + cpu.serve + cpu.clients).toFixed(2)} ms on 2 cores)`;
    log(cpuNote);

    log(`cold hydration: ${COLD_MEMORIES} memories in one tenant, read by a fresh Prime over HttpCore`);
    const store = await openHttpCore({ url: coreUrl, key: ADMIN_KEY });
    for (let start = 0; start < COLD_MEMORIES; start += 1000) {
      const batch = Array.from({ length: 1000 }, (_, k) => nodeCreated(`m-${start + k}`, 'memory', { text: `memory ${start + k}: project ${(start + k) % 97} met in city ${(start + k) % 31}` }));
      await store.append('cold-tenant', batch);
    }
    const hydrations: number[] = [];
    for (let round = 0; round < 3; round++) {
      // No snapshot store: the whole log, as an instance whose Core keeps no artifacts.
      const prime = createPrimeService({ store, vectorSearch: 'exact' });
      const t0 = performance.now();
      const stats = await prime.stats('cold-tenant', {});
      hydrations.push(performance.now() - t0);
      if (stats.nodes !== COLD_MEMORIES) throw new Error(`hydrated ${stats.nodes} nodes`);
      await prime.close();
    }
    hydrations.sort((a, b) => a - b);
    const hydration = hydrations[1];
    log(`cold hydration median ${hydration.toFixed(0)} ms (${hydrations.map((h) => h.toFixed(0)).join(', ')})`);

    // A first instance uploads the tenant's snapshot; fresh ones (no local state) start from it.
    const uploader = createPrimeService({ store, vectorSearch: 'exact', snapshotStore: createCoreSnapshotStore(store), snapshots: { delayMs: 3_600_000 }, log: () => {} });
    await uploader.stats('cold-tenant', {});
    await uploader.writeSnapshots();
    await uploader.close();
    const artifact = (await store.listArtifacts('cold-tenant')).find((a) => a.name === 'prime-snapshot');
    if (artifact === undefined) throw new Error('no snapshot artifact was uploaded');
    const fromArtifact: number[] = [];
    for (let round = 0; round < 3; round++) {
      const prime = createPrimeService({ store, vectorSearch: 'exact', snapshotStore: createCoreSnapshotStore(store), snapshots: { delayMs: 3_600_000 }, log });
      const t0 = performance.now();
      const stats = await prime.stats('cold-tenant', {});
      fromArtifact.push(performance.now() - t0);
      if (stats.nodes !== COLD_MEMORIES || prime.snapshotInfo()?.loaded !== 1) throw new Error(`restored ${stats.nodes} nodes, snapshots ${JSON.stringify(prime.snapshotInfo())}`);
      await prime.close();
    }
    await store.close();
    fromArtifact.sort((a, b) => a - b);
    const restored = fromArtifact[1];
    const artifactNote = `snapshot artifact ${(artifact.bytes / 1048576).toFixed(1)} MiB; ${(hydration / restored).toFixed(1)}x faster than the whole log`;
    log(`cold hydration from the Core's snapshot median ${restored.toFixed(0)} ms (${fromArtifact.map((h) => h.toFixed(0)).join(', ')}); ${artifactNote}`);

    log(`the same ${CALLS} calls over stdio, ${CALLERS} in flight, one tenant`);
    const stdioClient = new Client({ name: 'bench-serve', version: '0' });
    await stdioClient.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--data', await temp('stdio')], stderr: 'ignore' }));
    clients.push(stdioClient);
    await drive(() => stdioClient, WARM_UP, CALLERS);
    const stdio = await drive(() => stdioClient, CALLS, CALLERS);
    log(`stdio: ${formatNumber(stdio.perSecond)} calls/s, p50 ${stdio.p50.toFixed(2)} ms, p99 ${stdio.p99.toFixed(2)} ms`);

    const rows: Row[] = [
      makeRow(`tools/call throughput, ${CALLERS} callers over ${TENANTS} tenants`, 'calls/s', http.perSecond, stdio.perSecond, { text: '>= 2,000 calls/s', check: (v) => v >= 2000 }),
      makeRow('tools/call latency p50', 'ms', http.p50, stdio.p50),
      makeRow('tools/call latency p99', 'ms', http.p99, stdio.p99, { text: '<= 25 ms', check: (v) => v <= 25 }),
      makeRow(`cold hydration, ${COLD_MEMORIES.toLocaleString('en-US')} Prime memories over HttpCore`, 'ms', hydration, null, { text: '<= 300 ms', check: (v) => v <= 300 }),
      makeRow(`cold hydration, ${COLD_MEMORIES.toLocaleString('en-US')} Prime memories, from the Core's snapshot artifact`, 'ms', restored, null),
    ];
    const lines = [
      `## allsource serve (hosted MCP over HTTP) — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- \`allsource core\` and \`allsource serve --core\` as child processes on 127.0.0.1; ${TENANTS} tenants, one MCP client each (streamable HTTP, JSON answers); ${CALLS} calls after ${WARM_UP.toLocaleString('en-US')} to warm up, ${CALLERS} in flight; mix: ingest_event, query_events, prime_add_node, prime_recall (top 5)`,
      `- stdio: the same mix on \`allsource mcp\` (one tenant, one client, ${CALLERS} in flight); cold hydration: median of 3 fresh Prime services folding ${COLD_MEMORIES.toLocaleString('en-US')} node events through HttpCore; from the artifact: median of 3 fresh ones (no local state) fetching the \`prime-snapshot\` a first one uploaded, checking it against the log and restoring it (${artifactNote})`,
      `- errors: http ${http.errors}, stdio ${stdio.errors}; ${cpuNote}`,
      '',
      renderTable(rows, { a: 'serve (HTTP)', b: 'stdio', ratio: 'HTTP / stdio' }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const child of children) child.kill('SIGKILL');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
