// Core-over-the-network benchmark (`npm run bench` runs it after the store table; alone:
// `npm run bench:core`). The same scenarios, in one run, on two peers: HttpCore talking over
// loopback to a real `allsource core` child process (its own CPU core, fsync durability), and an
// EmbeddedCore in this process (fsync). The peers take turns, round by round, each on a fresh
// directory, and each figure is the median over the rounds: this shared VM's speed drifts by tens
// of percent within a minute, and a ratio of two figures taken a minute apart would measure that.
// Prints one markdown table with ratios HttpCore / in-process and pass/MISS against the issue's
// targets. Every figure is measured here.
//
//   --events N     events of the batched-ingest scenario per round (default 100,000; a multiple of 100)
//   --seconds S    duration of the 64-client single-append scenario, per peer and round (default 2)
//   --rounds R     rounds (default 3)
//
// ALLSOURCE_BENCH_CORE_NODE_ARGS passes node flags to the Core child (e.g. "--cpu-prof").

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openHttpCore } from '../src/core/http/index.js';
import { openEmbeddedCore, type EventStore } from '../src/index.js';
import { formatNumber, makeRow, percentile, renderTable, type Row } from './stats.js';
import { createWorkload, TENANT } from './workload.js';

const BIN = fileURLToPath(new URL('../bin/allsource.js', import.meta.url));
const BATCH = 1000;
const CLIENTS = 64;
const PIPELINE = 4;
const QUERY_SAMPLES = 3000;
const WATCH_SAMPLES = 300;
const ADMIN_KEY = `bench-${process.pid}-0123456789abcdef`;

const log = (line: string): void => void process.stderr.write(`[bench:core] ${line}\n`);
const nowNs = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(nowNs() - t0) / 1e6;

interface Measured {
  ingest: number;
  /** Batched ingest with PIPELINE batches in flight. */
  ingestPipelined: number;
  singles: number;
  queryP50: number;
  queryP99: number;
  watchP50: number;
  watchP99: number;
}

async function startCoreProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = (process.env.ALLSOURCE_BENCH_CORE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'core', '--data', dataDir, '--port', '0'], { env: { ...process.env, ALLSOURCE_ADMIN_KEY: ADMIN_KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /"msg":"core ready"/.test(stderr) ? /listening on (http:\/\/\S+)/.exec(stderr) : null;
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`core exited ${code}: ${stderr}`)));
  });
  // Keep draining its log lines (one per request) so the pipe never blocks the Core.
  child.stderr!.removeAllListeners('data').resume();
  return { child, url };
}

async function measure(name: string, store: EventStore, events: number, seconds: number): Promise<Measured> {
  const workload = createWorkload(events);

  // 1. Batched ingest: the workload in sequential batches of 1000.
  let t0 = nowNs();
  for (let start = 0; start < workload.events; start += BATCH) await store.append(TENANT, workload.batch(start, BATCH));
  const ingest = workload.events / (msSince(t0) / 1000);
  log(`${name}: batched ingest ${formatNumber(ingest)} ev/s`);

  // 1b. The same events again (other entities), PIPELINE batches in flight: how a bulk loader would send them.
  const second = createWorkload(events, 0xbeef);
  const prefix = (batch: ReturnType<typeof second.batch>) => batch.map((e) => ({ ...e, entity_id: `p-${e.entity_id}` }));
  let cursor = 0;
  t0 = nowNs();
  await Promise.all(
    Array.from({ length: PIPELINE }, async () => {
      while (cursor < second.events) {
        const start = cursor;
        cursor += BATCH;
        await store.append(TENANT, prefix(second.batch(start, BATCH)));
      }
    }),
  );
  const ingestPipelined = second.events / (msSince(t0) / 1000);
  log(`${name}: batched ingest, ${PIPELINE} in flight ${formatNumber(ingestPipelined)} ev/s`);

  // 2. Single appends from 64 concurrent clients.
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let done = 0;
  t0 = nowNs();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        await store.append(TENANT, [workload.eventAt(workload.events + next++)]);
        done++;
      }
    }),
  );
  const singles = done / (msSince(t0) / 1000);
  log(`${name}: ${CLIENTS} clients, ${done} single appends, ${formatNumber(singles)}/s`);

  // 3. Query of one entity's 100 events (sequential calls, random entities of the ingested set).
  const samples = new Float64Array(QUERY_SAMPLES);
  for (let i = 0; i < QUERY_SAMPLES + 200; i++) {
    const entity = workload.entityId((i * 7919) % workload.entities);
    t0 = nowNs();
    const page = await store.query(TENANT, { entity_id: entity, limit: 100 });
    if (i >= 200) samples[i - 200] = msSince(t0);
    if (page.events.length < 100) throw new Error(`query of ${entity} returned ${page.events.length} events`);
  }
  const queryP50 = percentile(samples, 50);
  const queryP99 = percentile(samples, 99);
  log(`${name}: query 100 events p50 ${queryP50.toFixed(3)} ms, p99 ${queryP99.toFixed(3)} ms`);

  // 4. Watch wake-up: a waiting long-poll, then one append; time from issuing the append to the
  // watcher holding the event (the append's own durable write is included).
  const wake = new Float64Array(WATCH_SAMPLES);
  let after = (await store.stats(TENANT)).last_position;
  for (let i = 0; i < WATCH_SAMPLES; i++) {
    const watching = store.watch(TENANT, { after, timeout_ms: 10_000, entity_id: 'watched' });
    await new Promise((resolve) => setTimeout(resolve, 2)); // let the watch reach its wait
    t0 = nowNs();
    void store.append(TENANT, [{ entity_id: 'watched', event_type: 'bench.tick', payload: { i } }]);
    const result = await watching;
    wake[i] = msSince(t0);
    if (result.events.length !== 1) throw new Error('watch woke without the event');
    after = result.last_position;
  }
  const watchP50 = percentile(wake, 50);
  const watchP99 = percentile(wake, 99);
  log(`${name}: watch wake-up p50 ${watchP50.toFixed(3)} ms, p99 ${watchP99.toFixed(3)} ms`);
  return { ingest, ingestPipelined, singles, queryP50, queryP99, watchP50, watchP99 };
}

/** The median of each figure over the rounds. */
function medians(runs: Measured[]): Measured {
  const median = (key: keyof Measured): number => {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)];
  };
  return { ingest: median('ingest'), ingestPipelined: median('ingestPipelined'), singles: median('singles'), queryP50: median('queryP50'), queryP99: median('queryP99'), watchP50: median('watchP50'), watchP99: median('watchP99') };
}

function rows(http: Measured, local: Measured): Row[] {
  return [
    makeRow('batched ingest (1000/batch, sequential)', 'ev/s', http.ingest, local.ingest, { text: '>= 0.70x in-process', check: (_v, r) => (r === null ? null : r >= 0.7) }),
    makeRow(`batched ingest, ${PIPELINE} batches in flight`, 'ev/s', http.ingestPipelined, local.ingestPipelined),
    makeRow(`single appends, ${CLIENTS} concurrent clients`, '/s', http.singles, local.singles, { text: '>= 10k/s', check: (v) => v >= 10_000 }),
    makeRow("query one entity's 100 events p50", 'ms', http.queryP50, local.queryP50, { text: '<= 0.5 ms', check: (v) => v <= 0.5 }),
    makeRow("query one entity's 100 events p99", 'ms', http.queryP99, local.queryP99),
    makeRow('watch wake-up after an append p50', 'ms', http.watchP50, local.watchP50, { text: '<= 2 ms', check: (v) => v <= 2 }),
    makeRow('watch wake-up after an append p99', 'ms', http.watchP99, local.watchP99),
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } });
  const events = Number(values.events);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const dirs: string[] = [];
  const temp = async (label: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `allsource-bench-core-${label}-`));
    dirs.push(dir);
    return dir;
  };
  let child: ChildProcess | undefined;
  try {
    const httpRuns: Measured[] = [];
    const localRuns: Measured[] = [];
    for (let round = 1; round <= rounds; round++) {
      log(`--- round ${round} of ${rounds} ---`);
      const core = await startCoreProcess(await temp('http'));
      child = core.child;
      const remote = await openHttpCore({ url: core.url, key: ADMIN_KEY });
      httpRuns.push(await measure('HttpCore', remote, events, seconds));
      await remote.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
      child = undefined;

      const embedded = await openEmbeddedCore({ dataDir: await temp('local'), log: () => {} });
      localRuns.push(await measure('in-process', embedded, events, seconds));
      await embedded.close();
    }
    const http = medians(httpRuns);
    const local = medians(localRuns);

    const table = renderTable(rows(http, local), { a: 'HttpCore (loopback)', b: 'EmbeddedCore in-process', ratio: 'HttpCore / in-process' });
    const lines = [
      `## allsource Core over HTTP — ${new Date().toISOString().slice(0, 10)}`,
      '',
      `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
      `- Core: \`allsource core\` child process on 127.0.0.1 (fsync), HttpCore in this process (undici Pool, 64 connections); in-process: EmbeddedCore (fsync)`,
      `- ${rounds} rounds, peers taking turns, medians shown; batched ingest: ${events.toLocaleString('en-US')} events per round; single appends: ${seconds} s per peer and round; query: ${QUERY_SAMPLES} samples; watch: ${WATCH_SAMPLES} samples, timed from issuing the append to the watcher holding the event`,
      '',
      table,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    child?.kill('SIGKILL');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
