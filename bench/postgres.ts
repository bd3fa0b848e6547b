// PostgreSQL benchmark (`npm run bench:postgres`; `npm run bench` runs it after the Core bench):
// the same scenarios, through the same calls, on PostgresCore, EmbeddedCore and the SQLite peer
// of bench/run.ts, in one run, each on a fresh store:
//
//   1. batched ingest: the workload (bench/workload.ts) in sequential batches of 1000
//   2. single appends from 32 concurrent writers (one tenant)
//   3. one entity's 100 events, p50 / p99
//   4. state as_of a random instant of the entity's history, p50 / p99
//   5. single appends spread over 100 tenants: 32 writers in one process (every peer), and
//      4 `allsource` PostgresCore processes × 8 writers on one PostgreSQL (PostgresCore only:
//      neither embedded peer can take writers from several processes)
//
// PostgreSQL runs as a throwaway cluster with durability ON (fsync=on, synchronous_commit=on,
// the defaults; its flags are printed), and the Core connects as the RLS-bound runtime role.
// Prints one markdown table with the measured figures and ratios, misses shown as MISS. Nothing is
// hard-coded: every figure is measured here.
//
//   --events N       events of the ingest (default 100,000; a multiple of 100)
//   --seconds S      duration of each concurrent-append scenario (default 3)
//   --iterations N   latency samples per read scenario (default 2000)

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { openPostgresCore } from '../src/core/postgres/index.js';
import type { NewEvent } from '../src/index.js';
import { startPgCluster } from '../test/helpers/postgres.js';
import type { BenchPeer } from './peers/peer.js';
import { formatNumber, percentile } from './stats.js';
import { createWorkload, mulberry32, TENANT, type Workload } from './workload.js';

const BATCH = 1000;
const WRITERS = 32;
const SPREAD_TENANTS = 100;
const NODES = 4;
const NODE_WRITERS = 8;
const INGEST_TARGET = 80_000;

type Name = 'postgres' | 'embedded' | 'sqlite';
type Figures = Map<string, number | string>;

const log = (line: string): void => void process.stderr.write(`[bench:postgres] ${line}\n`);
const nowNs = (): bigint => process.hrtime.bigint();

/** The calls each scenario makes: BenchPeer's, so all three peers run the same code path. */
interface Peer {
  append(tenant: string, events: NewEvent[]): Promise<{ events: Array<{ timestamp: string; version: number }> }>;
  query: BenchPeer['query'];
  state: BenchPeer['state'];
  close(): Promise<void>;
}

async function openPeer(name: Name, dir: string, url: string): Promise<Peer> {
  if (name === 'postgres') {
    const store = await openPostgresCore({ url, poolSize: WRITERS, log: (line) => log(line) });
    return {
      append: (tenant, events) => store.append(tenant, events),
      query: async (tenant, entityId, limit) => (await store.query(tenant, { entity_id: entityId, limit })).events,
      state: async (tenant, entityId, asOf) => {
        const s = await store.state(tenant, entityId, asOf === undefined ? undefined : { as_of: asOf });
        return { state: s.state, version: s.version, event_count: s.event_count };
      },
      close: () => store.close(),
    };
  }
  if (name === 'embedded') return (await import('./peers/allsource.js')).openAllsourcePeer(dir);
  return (await import('./peers/sqlite.js')).openSqlitePeer(dir);
}

async function concurrent(peer: Peer, workload: Workload, seconds: number, tenantOf: (k: number) => string): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  let done = 0;
  const t0 = nowNs();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      let k = w * 7919;
      while (performance.now() < deadline) {
        k = (k * 1103515245 + 12345) % 2147483648;
        await peer.append(tenantOf(k), [workload.eventAt(workload.events + next++)]);
        done++;
      }
    }),
  );
  return done / (Number(nowNs() - t0) / 1e9);
}

async function latency(iterations: number, seed: number, call: (rand: () => number) => Promise<void>): Promise<Float64Array> {
  const rand = mulberry32(seed);
  for (let w = 0; w < 200; w++) await call(rand);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = nowNs();
    await call(rand);
    samples[i] = Number(nowNs() - t0) / 1e6;
  }
  return samples;
}

async function measure(name: Name, peer: Peer, workload: Workload, options: { seconds: number; iterations: number }): Promise<Figures> {
  const figures: Figures = new Map();
  // 1. Batched ingest, recording each entity's first and last recorded instant for the as_of reads.
  const first = new Float64Array(workload.entities).fill(NaN);
  const last = new Float64Array(workload.entities);
  const t0 = nowNs();
  for (let start = 0; start < workload.events; start += BATCH) {
    const result = await peer.append(TENANT, workload.batch(start, BATCH));
    const ms = Date.parse(result.events[0].timestamp);
    for (let j = 0; j < BATCH; j++) {
      const k = workload.entityOf(start + j);
      if (Number.isNaN(first[k])) first[k] = ms;
      last[k] = ms;
    }
  }
  figures.set('ingest', workload.events / (Number(nowNs() - t0) / 1e9));
  log(`${name}: batched ingest ${formatNumber(figures.get('ingest') as number)} ev/s`);

  // 3. One entity's 100 events.
  const q = await latency(options.iterations, 0xa11, async (rand) => {
    const events = await peer.query(TENANT, workload.entityId(Math.floor(rand() * workload.entities)), 100);
    if (events.length !== 100) throw new Error(`${name}: an entity read returned ${events.length} events`);
  });
  figures.set('query_p50', percentile(q, 50));
  figures.set('query_p99', percentile(q, 99));
  // 4. State as of a random instant of the entity's history.
  const s = await latency(options.iterations, 0x57a7e, async (rand) => {
    const k = Math.floor(rand() * workload.entities);
    const asOf = new Date(first[k] + Math.floor(rand() * (last[k] - first[k] + 1))).toISOString();
    const state = await peer.state(TENANT, workload.entityId(k), asOf);
    if (state.state === null || state.event_count < 1) throw new Error(`${name}: an as_of state was empty`);
  });
  figures.set('state_p50', percentile(s, 50));
  figures.set('state_p99', percentile(s, 99));
  log(`${name}: query p50 ${(figures.get('query_p50') as number).toFixed(3)} ms, state as_of p99 ${(figures.get('state_p99') as number).toFixed(3)} ms`);

  // 2. and 5. Concurrent single appends: one tenant, then spread over 100 tenants.
  figures.set('singles', await concurrent(peer, workload, options.seconds, () => 'singles'));
  figures.set('spread', await concurrent(peer, workload, options.seconds, (k) => `spread-${k % SPREAD_TENANTS}`));
  log(`${name}: ${WRITERS} writers ${formatNumber(figures.get('singles') as number)}/s, over ${SPREAD_TENANTS} tenants ${formatNumber(figures.get('spread') as number)}/s`);
  return figures;
}

/** Scenario 5b: NODES PostgresCore processes on one database, NODE_WRITERS writers each, over 100 tenants. */
async function multiProcess(url: string, seconds: number): Promise<number> {
  const run = promisify(execFile);
  const child = fileURLToPath(new URL('./postgresChild.js', import.meta.url));
  const startAt = Date.now() + 3000;
  const outputs = await Promise.all(Array.from({ length: NODES }, (_, node) => run(process.execPath, [child, url, String(SPREAD_TENANTS), String(NODE_WRITERS), String(seconds), String(startAt), String(node)])));
  let appends = 0;
  let longest = 0;
  for (const { stdout } of outputs) {
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { appends: number; seconds: number };
    appends += report.appends;
    longest = Math.max(longest, report.seconds);
  }
  return appends / longest;
}

interface Line {
  scenario: string;
  unit: string;
  key: string;
  /** Lower is better (latencies): the ratio still reads PostgresCore / peer. */
  target?: { text: string; check: (value: number) => boolean };
}

function render(results: Map<Name, Figures>, extra: Array<{ scenario: string; unit: string; value: number | string }>): string {
  const lines: Line[] = [
    { scenario: 'batched ingest (1000/batch, sequential)', unit: 'ev/s', key: 'ingest', target: { text: `>= ${INGEST_TARGET / 1000}k ev/s`, check: (v) => v >= INGEST_TARGET } },
    { scenario: `single appends, ${WRITERS} writers, one tenant`, unit: '/s', key: 'singles' },
    { scenario: "one entity's 100 events p50", unit: 'ms', key: 'query_p50' },
    { scenario: "one entity's 100 events p99", unit: 'ms', key: 'query_p99' },
    { scenario: 'state as_of p50', unit: 'ms', key: 'state_p50' },
    { scenario: 'state as_of p99', unit: 'ms', key: 'state_p99' },
    { scenario: `single appends, ${WRITERS} writers, ${SPREAD_TENANTS} tenants, 1 process`, unit: '/s', key: 'spread' },
  ];
  const cell = (v: number | string | undefined, unit: string): string => (v === undefined ? '—' : typeof v === 'string' ? v : `${formatNumber(v)} ${unit}`);
  const ratio = (a: number | string | undefined, b: number | string | undefined): string => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? `${(a / b).toFixed(2)}x` : '—');
  const header = ['scenario', 'PostgresCore', 'EmbeddedCore', 'SQLite', 'PG / Embedded', 'PG / SQLite', 'target', 'result'];
  const body = lines.map((l) => {
    const pg = results.get('postgres')?.get(l.key);
    const em = results.get('embedded')?.get(l.key);
    const sq = results.get('sqlite')?.get(l.key);
    const result = l.target === undefined ? '—' : typeof pg === 'number' ? (l.target.check(pg) ? 'pass' : 'MISS') : 'n/a';
    return [l.scenario, cell(pg, l.unit), cell(em, l.unit), cell(sq, l.unit), ratio(pg, em), ratio(pg, sq), l.target?.text ?? '—', result];
  });
  for (const e of extra) body.push([e.scenario, cell(e.value, e.unit), 'n/a (one process)', 'n/a (one process)', '—', '—', '—', '—']);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]): string => `| ${cells.map((text, c) => text.padEnd(widths[c])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, seconds: { type: 'string', default: '3' }, iterations: { type: 'string', default: '2000' } } });
  const workload = createWorkload(Number(values.events));
  const options = { seconds: Number(values.seconds), iterations: Number(values.iterations) };
  log('starting a PostgreSQL cluster (fsync on)');
  const cluster = await startPgCluster({ fsync: true });
  const dirs: string[] = [];
  const results = new Map<Name, Figures>();
  let multi: number | string;
  try {
    for (const name of ['postgres', 'embedded', 'sqlite'] as const) {
      const dir = await mkdtemp(join(tmpdir(), `allsource-bench-pg-${name}-`));
      dirs.push(dir);
      const peer = await openPeer(name, dir, cluster.runtimeUrl);
      try {
        results.set(name, await measure(name, peer, workload, options));
      } catch (err) {
        log(`${name}: ${(err as Error).message}`);
        results.set(name, new Map([['ingest', `error: ${(err as Error).message.slice(0, 40)}`]]));
      } finally {
        await peer.close();
      }
    }
    try {
      multi = await multiProcess(cluster.runtimeUrl, options.seconds);
      log(`${NODES} processes × ${NODE_WRITERS} writers over ${SPREAD_TENANTS} tenants: ${formatNumber(multi)}/s`);
    } catch (err) {
      multi = `error: ${(err as Error).message.slice(0, 40)}`;
    }
  } finally {
    await cluster.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
  const report = [
    `## allsource on PostgreSQL — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; PostgreSQL 15 on the same machine`,
    `- PostgreSQL: throwaway cluster, postgres ${cluster.settings} (fsync and synchronous_commit at their defaults: on); the Core connects as the RLS-bound runtime role, pool of ${WRITERS}`,
    `- EmbeddedCore: durability fsync; SQLite: better-sqlite3, WAL, synchronous=FULL (bench/peers/sqlite.ts)`,
    `- ingest: ${workload.events.toLocaleString('en-US')} events; reads: ${options.iterations} samples each; concurrent appends: ${options.seconds} s each`,
    '',
    render(results, [{ scenario: `single appends, ${NODES} processes × ${NODE_WRITERS} writers, ${SPREAD_TENANTS} tenants, one PostgreSQL`, unit: '/s', value: multi }]),
  ];
  process.stdout.write(`${report.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
