// Benchmark entry (`npm run bench [-- options]`): runs the same scenarios, through the same
// BenchPeer code path, against allsource's EmbeddedCore and against better-sqlite3 in one run,
// then prints environment lines and ONE markdown table with ratios (allsource / sqlite) and
// pass/MISS against the targets. Nothing is hard-coded: every figure is measured here.
//
//   --events N        events in the big store (default 1,000,000; a multiple of 100)
//   --only a,b        scenarios: ingest, concurrent, query, state, reopen, bytes (default: all)
//   --peer P          allsource | sqlite | both (default both)
//   --seconds S       duration of the 32-writer scenario, per peer (default 3)
//   --iterations N    latency samples per read scenario (default 10,000; capped at 4 s each)
//   --json            print JSON instead of the markdown table (skips the MCP bench)
//   --skip-mcp        only the store bench, not the MCP bench (bench/mcp.ts) that follows it
//   --skip-prime      not the Prime benches that follow (bench/locomo.ts recall quality, bench/prime.ts speed)
//   --skip-core       not the Core-over-HTTP bench (bench/core.ts: HttpCore vs in-process), the
//                     hosted MCP bench (bench/serve.ts: allsource serve over a Core vs stdio) nor the
//                     x402 bench (bench/x402.ts: paid vs free calls with a local facilitator) nor the
//                     shared-directory bench (bench/shared.ts: a follower process vs the holder)
//   --skip-postgres   not the PostgreSQL bench (bench/postgres.ts: PostgresCore vs EmbeddedCore vs
//                     SQLite); it also skips itself, saying so, where no PostgreSQL is installed
//
// Progress goes to stderr; stdout carries only the report.

import { execFile, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, totalmem, tmpdir, platform, arch } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { openSqlitePeer } from './peers/sqlite.js';
import { dirBytes, type BenchPeer, type PeerName } from './peers/peer.js';
import { makeRow, percentile, renderTable, formatNumber, type Row } from './stats.js';
import { createWorkload, meanPayloadBytes, mulberry32, EVENTS_PER_ENTITY, EVENT_TYPES, TENANT, type Workload } from './workload.js';

const SCENARIOS = ['ingest', 'concurrent', 'query', 'state', 'reopen', 'bytes'] as const;
type Scenario = (typeof SCENARIOS)[number];

const BATCH = 1000;
const WRITERS = 32;
const WARMUP = 500;
const LATENCY_BUDGET_MS = 4000;
const REOPEN_RUNS = 3;
const CHECK_ENTITIES = 20;

interface Options {
  events: number;
  only: Set<Scenario>;
  peers: PeerName[];
  seconds: number;
  iterations: number;
  json: boolean;
  /** Also run the MCP benchmark (bench/mcp.ts) after the store table. */
  mcp: boolean;
  /** Also run the Prime benchmarks (bench/locomo.ts, bench/prime.ts) after that. */
  prime: boolean;
  /** Also run the Core-over-HTTP benchmark (bench/core.ts). */
  core: boolean;
  /** Also run the PostgreSQL benchmark (bench/postgres.ts). */
  postgres: boolean;
}

/** What one peer measured: metric name -> value, or an error message. */
type Measured = Map<string, number | string>;

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const nowNs = (): bigint => process.hrtime.bigint();
const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
};

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      only: { type: 'string' },
      peer: { type: 'string', default: 'both' },
      seconds: { type: 'string', default: '3' },
      iterations: { type: 'string', default: '10000' },
      json: { type: 'boolean', default: false },
      'skip-mcp': { type: 'boolean', default: false },
      'skip-prime': { type: 'boolean', default: false },
      'skip-core': { type: 'boolean', default: false },
      'skip-postgres': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench -- [--events N] [--only ingest,concurrent,query,state,reopen,bytes] [--peer allsource|sqlite|both] [--seconds S] [--iterations N] [--json] [--skip-mcp] [--skip-prime] [--skip-core] [--skip-postgres]\n');
    process.exit(0);
  }
  const int = (name: string, text: string): number => {
    const n = Number(text.replace(/[_,]/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
    return n;
  };
  const only = new Set<Scenario>();
  for (const name of (values.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(', ')})`);
    only.add(name as Scenario);
  }
  const peer = values.peer;
  if (peer !== 'both' && peer !== 'allsource' && peer !== 'sqlite') throw new Error(`--peer must be allsource, sqlite or both, got ${peer}`);
  return {
    events: Math.round(int('events', values.events)),
    only,
    peers: peer === 'both' ? ['sqlite', 'allsource'] : [peer],
    seconds: int('seconds', values.seconds),
    iterations: Math.round(int('iterations', values.iterations)),
    json: values.json,
    mcp: !values['skip-mcp'] && !values.json,
    prime: !values['skip-prime'] && !values.json,
    core: !values['skip-core'] && !values.json,
    postgres: !values['skip-postgres'] && !values.json,
  };
}

/** allsource is loaded lazily, so `--peer sqlite` runs even while the embedded store cannot load. */
async function openPeer(name: PeerName, dir: string): Promise<BenchPeer> {
  if (name === 'sqlite') return openSqlitePeer(dir);
  const { openAllsourcePeer } = await import('./peers/allsource.js');
  return openAllsourcePeer(dir);
}

function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `error: ${message.replace(/\s+/g, ' ').slice(0, 60)}`;
}

/** Sorted-key JSON, so states built in different key orders compare equal. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

interface Context {
  options: Options;
  workload: Workload;
  tempDirs: string[];
  childScript: string;
}

async function tempDir(ctx: Context, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `allsource-bench-${label}-`));
  ctx.tempDirs.push(dir);
  return dir;
}

/** Scenario 2: 32 async loops, each awaiting a one-event durable append, for a fixed duration. */
async function runConcurrent(ctx: Context, peer: BenchPeer): Promise<number> {
  const { workload, options } = ctx;
  const deadline = performance.now() + options.seconds * 1000;
  let next = 0;
  let done = 0;
  const start = nowNs();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < deadline) {
        const event = workload.eventAt(workload.events + next++);
        await peer.append(TENANT, [event]);
        done++;
      }
    }),
  );
  const seconds = Number(nowNs() - start) / 1e9;
  log(`${peer.name}: concurrent ${done} single appends in ${seconds.toFixed(2)} s`);
  return done / seconds;
}

interface IngestResult {
  appendSeconds: number;
  settleSeconds: number;
  /** Per entity: recorded time (ms) of its first and last event. */
  firstMs: Float64Array;
  lastMs: Float64Array;
}

/** Scenario 1: the whole workload in batches of 1000; only the append calls are timed. */
async function runIngest(ctx: Context, peer: BenchPeer): Promise<IngestResult> {
  const { workload } = ctx;
  const firstMs = new Float64Array(workload.entities).fill(NaN);
  const lastMs = new Float64Array(workload.entities).fill(NaN);
  let appendNs = 0n;
  let lastText = '';
  let lastParsed = 0;
  let nextReport = Math.max(BATCH, Math.floor(workload.events / 5));
  let reportedEvents = 0;
  let reportedNs = 0n;
  for (let start = 0; start < workload.events; start += BATCH) {
    const count = Math.min(BATCH, workload.events - start);
    const batch = workload.batch(start, count);
    const t0 = nowNs();
    const result = await peer.append(TENANT, batch);
    appendNs += nowNs() - t0;
    if (result.events.length !== count) throw new Error(`append returned ${result.events.length} results for ${count} events`);
    for (let j = 0; j < count; j++) {
      const i = start + j;
      const k = workload.entityOf(i);
      const appended = result.events[j];
      const expectedVersion = Math.floor(i / workload.entities) + 1;
      if (appended.version !== expectedVersion) throw new Error(`event ${i} got version ${appended.version}, expected ${expectedVersion}`);
      if (appended.timestamp !== lastText) {
        lastText = appended.timestamp;
        lastParsed = Date.parse(lastText);
      }
      if (Number.isNaN(firstMs[k])) firstMs[k] = lastParsed;
      lastMs[k] = lastParsed;
    }
    if (start + count >= nextReport) {
      const done = start + count;
      const rate = (done - reportedEvents) / (Number(appendNs - reportedNs) / 1e9);
      log(`${peer.name}: ingest ${done.toLocaleString('en-US')} / ${workload.events.toLocaleString('en-US')} (${Math.round(rate).toLocaleString('en-US')} ev/s since last line)`);
      reportedEvents = done;
      reportedNs = appendNs;
      nextReport += Math.max(BATCH, Math.floor(workload.events / 5));
    }
  }
  const t0 = nowNs();
  await peer.settle();
  const settleNs = nowNs() - t0;
  const appendSeconds = Number(appendNs) / 1e9;
  log(`${peer.name}: ingest done, appends ${appendSeconds.toFixed(2)} s, settle ${(Number(settleNs) / 1e9).toFixed(2)} s`);
  return { appendSeconds, settleSeconds: Number(settleNs) / 1e9, firstMs, lastMs };
}

/**
 * Times `call` per invocation (hrtime around the awaited call) over random entities: WARMUP
 * untimed calls, then up to `iterations` samples or LATENCY_BUDGET_MS, whichever comes first.
 * The entity sequence comes from a fixed seed, so both peers see the same one.
 */
async function sampleLatency(
  ctx: Context,
  seed: number,
  prepare: (entity: number, u: number) => () => Promise<void>,
): Promise<Float64Array> {
  const { workload, options } = ctx;
  const rand = mulberry32(seed);
  for (let w = 0; w < WARMUP; w++) await prepare(Math.floor(rand() * workload.entities), rand())();
  const samples = new Float64Array(options.iterations);
  const deadline = performance.now() + LATENCY_BUDGET_MS;
  let n = 0;
  while (n < samples.length && performance.now() < deadline) {
    const call = prepare(Math.floor(rand() * workload.entities), rand());
    const t0 = nowNs();
    await call();
    samples[n++] = Number(nowNs() - t0) / 1000;
  }
  return samples.subarray(0, n);
}

/** Child-process reopen probe: median open+first-query time, and the largest RSS seen. */
async function runReopen(ctx: Context, name: PeerName, dir: string): Promise<{ readyMs: number; openMs: number; rssBytes: number; settledRssBytes: number }> {
  const run = promisify(execFile);
  const readies: number[] = [];
  const opens: number[] = [];
  let rss = 0;
  let settledRss = 0;
  for (let r = 0; r < REOPEN_RUNS; r++) {
    gc();
    const { stdout } = await run(process.execPath, [ctx.childScript, dir, name, ctx.workload.entityId(0)], { maxBuffer: 1 << 20 });
    const line = stdout.trim().split('\n').pop() ?? '';
    const report = JSON.parse(line) as { ready_ms: number; open_ms: number; rss_bytes: number; settled_rss_bytes: number; events: number };
    if (report.events !== EVENTS_PER_ENTITY) throw new Error(`reopened store answered ${report.events} events, expected ${EVENTS_PER_ENTITY}`);
    readies.push(report.ready_ms);
    opens.push(report.open_ms);
    rss = Math.max(rss, report.rss_bytes);
    settledRss = Math.max(settledRss, report.settled_rss_bytes);
    log(`${name}: reopen ${r + 1}/${REOPEN_RUNS}: open ${report.open_ms.toFixed(1)} ms, ready ${report.ready_ms.toFixed(1)} ms, rss ${(report.rss_bytes / 2 ** 20).toFixed(1)} MB, settled ${(report.settled_rss_bytes / 2 ** 20).toFixed(1)} MB`);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { readyMs: median(readies), openMs: median(opens), rssBytes: rss, settledRssBytes: settledRss };
}

/** Runs every selected scenario against one peer; failures become error strings, not crashes. */
async function runPeer(ctx: Context, name: PeerName, measured: Measured, digests: Map<PeerName, string>): Promise<void> {
  const { only } = ctx.options;
  const { workload } = ctx;
  const fail = (keys: string[], error: unknown): void => {
    log(`${name}: ${errorText(error)}`);
    for (const key of keys) if (!measured.has(key)) measured.set(key, errorText(error));
  };

  if (only.has('concurrent')) {
    gc();
    let peer: BenchPeer | undefined;
    try {
      peer = await openPeer(name, await tempDir(ctx, `${name}-single`));
      measured.set('concurrent', await runConcurrent(ctx, peer));
    } catch (error) {
      fail(['concurrent'], error);
    } finally {
      await peer?.close().catch(() => undefined);
    }
  }

  const big = ['ingest', 'query', 'state', 'reopen', 'bytes'].filter((s) => only.has(s as Scenario));
  if (big.length === 0) return;
  const keys = ['ingest', 'ingest_settled', 'query_p50', 'query_p99', 'state_p50', 'state_p99', 'reopen_ms', 'reopen_rss', 'reopen_rss_settled', 'bytes'];
  gc();
  let peer: BenchPeer | undefined;
  try {
    const dir = await tempDir(ctx, name);
    peer = await openPeer(name, dir);
    const ingest = await runIngest(ctx, peer);
    measured.set('ingest', workload.events / ingest.appendSeconds);
    measured.set('ingest_settled', workload.events / (ingest.appendSeconds + ingest.settleSeconds));
    const p = peer;

    if (only.has('query')) {
      gc();
      let wrong = 0;
      const samples = await sampleLatency(ctx, 0xa11, (k) => async () => {
        if ((await p.query(TENANT, workload.entityId(k), EVENTS_PER_ENTITY)).length !== EVENTS_PER_ENTITY) wrong++;
      });
      if (wrong) throw new Error(`${wrong} entity reads did not return ${EVENTS_PER_ENTITY} events`);
      measured.set('query_p50', percentile(samples, 50));
      measured.set('query_p99', percentile(samples, 99));
      measured.set('query_n', samples.length);
      log(`${name}: query ${samples.length} samples`);
    }

    if (only.has('state')) {
      gc();
      let wrong = 0;
      let folded = 0;
      const samples = await sampleLatency(ctx, 0x57a7e, (k, u) => {
        const first = ingest.firstMs[k];
        const asOf = new Date(first + Math.floor(u * (ingest.lastMs[k] - first + 1))).toISOString();
        const entity = workload.entityId(k);
        return async () => {
          const s = await p.state(TENANT, entity, asOf);
          if (s.event_count < 1 || s.event_count > EVENTS_PER_ENTITY || s.state === null) wrong++;
          folded += s.event_count;
        };
      });
      if (wrong) throw new Error(`${wrong} as-of states were empty or out of range`);
      measured.set('state_p50', percentile(samples, 50));
      measured.set('state_p99', percentile(samples, 99));
      measured.set('state_n', samples.length);
      log(`${name}: state ${samples.length} samples, mean ${(folded / (samples.length + WARMUP)).toFixed(1)} events folded`);
    }

    // Untimed cross-check: the same entities must read back identically from both peers.
    const hash = createHash('sha256');
    for (let c = 0; c < CHECK_ENTITIES; c++) {
      const entity = workload.entityId(Math.floor((c * workload.entities) / CHECK_ENTITIES));
      const events = await p.query(TENANT, entity, EVENTS_PER_ENTITY);
      hash.update(canonical(events.map((e) => [e.entity_id, e.event_type, e.version, e.payload])));
      hash.update(canonical((await p.state(TENANT, entity)).state));
    }
    digests.set(name, hash.digest('hex'));

    peer = undefined;
    await p.close();
    if (only.has('bytes')) measured.set('bytes', await dirBytes(dir));
    if (only.has('reopen')) {
      const reopen = await runReopen(ctx, name, dir);
      measured.set('reopen_ms', reopen.readyMs);
      measured.set('reopen_open_ms', reopen.openMs);
      measured.set('reopen_rss', reopen.rssBytes / 2 ** 20);
      measured.set('reopen_rss_settled', reopen.settledRssBytes / 2 ** 20);
    }
    await rm(dir, { recursive: true, force: true });
  } catch (error) {
    fail(keys, error);
  } finally {
    await peer?.close().catch(() => undefined);
  }
}

function buildRows(options: Options, results: Map<PeerName, Measured>): Row[] {
  const value = (peer: PeerName, key: string): number | string | null => results.get(peer)?.get(key) ?? null;
  const row = (
    scenario: string,
    unit: string,
    key: string,
    target?: { text: string; check: (a: number, ratio: number | null) => boolean | null },
    scale = 1,
  ): Row => {
    const scaled = (v: number | string | null): number | string | null => (typeof v === 'number' ? v * scale : v);
    return makeRow(scenario, unit, scaled(value('allsource', key)), scaled(value('sqlite', key)), target);
  };
  const ratioAtLeast = (x: number) => (_a: number, ratio: number | null) => (ratio === null ? null : ratio >= x);
  const atMost = (x: number) => (a: number) => a <= x;
  const batches = `${BATCH}/batch`;
  const rows: Row[] = [];
  const { only } = options;
  if (only.has('ingest')) {
    rows.push(row(`1. durable batched ingest (${batches}, fsync)`, 'ev/s', 'ingest', {
      text: '>= 250k ev/s and >= 3x',
      check: (a, ratio) => (a < 250_000 ? false : ratio === null ? null : ratio >= 3),
    }));
    rows.push(row('1b. ingest until background rolls settle', 'ev/s', 'ingest_settled'));
  }
  if (only.has('concurrent')) {
    rows.push(row(`2. single durable appends, ${WRITERS} writers`, 'ev/s', 'concurrent', { text: '>= 3x', check: ratioAtLeast(3) }));
  }
  if (only.has('query')) {
    rows.push(row(`3. read one entity's ${EVENTS_PER_ENTITY} events, p50`, 'µs', 'query_p50'));
    rows.push(row(`3. read one entity's ${EVENTS_PER_ENTITY} events, p99`, 'µs', 'query_p99', { text: '<= 20 µs', check: atMost(20) }));
  }
  if (only.has('state')) {
    rows.push(row('4. state as_of (random instant), p50', 'µs', 'state_p50'));
    rows.push(row('4. state as_of (random instant), p99', 'µs', 'state_p99', { text: '<= 20 µs', check: atMost(20) }));
  }
  if (only.has('reopen')) {
    rows.push(row('5. reopen: open + first query', 'ms', 'reopen_ms', { text: '<= 2,000 ms', check: atMost(2000) }));
    rows.push(row('5. RSS after reopen (fresh process)', 'MB', 'reopen_rss', { text: '<= 600 MB', check: atMost(600) }));
    rows.push(row('5b. RSS once background folds finish', 'MB', 'reopen_rss_settled', { text: '<= 600 MB', check: atMost(600) }));
  }
  if (only.has('bytes')) {
    rows.push(row('6. bytes on disk', 'MB', 'bytes', { text: '<= 0.3x', check: (_a, ratio) => (ratio === null ? null : ratio <= 0.3) }, 1 / 2 ** 20));
  }
  return rows;
}

function environment(options: Options, workload: Workload): Record<string, string | number> {
  const require = createRequire(import.meta.url);
  const sqliteVersion = (() => {
    const db = new Database(':memory:');
    try {
      return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    } finally {
      db.close();
    }
  })();
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cpus: `${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown'}`,
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    tmpdir: tmpdir(),
    sqlite: `SQLite ${sqliteVersion} via better-sqlite3 ${(require('better-sqlite3/package.json') as { version: string }).version}, journal_mode=WAL, synchronous=FULL`,
    workload: `${workload.events.toLocaleString('en-US')} events, 1 tenant, ${workload.entities.toLocaleString('en-US')} entities × ${EVENTS_PER_ENTITY} events, ${EVENT_TYPES.length} event types, payload ≈ ${Math.round(meanPayloadBytes(workload))} B JSON, seed 0x${workload.seed.toString(16)}`,
    method: `ingest times only the append calls (generation excluded); scenario 2 runs ${options.seconds} s per peer; latencies: ${WARMUP} warm-up calls then up to ${options.iterations.toLocaleString('en-US')} samples or ${LATENCY_BUDGET_MS / 1000} s, hrtime per awaited call; reopen: median of ${REOPEN_RUNS} fresh processes (RSS: max); ratio = allsource / sqlite`,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const workload = createWorkload(options.events);
  const ctx: Context = {
    options,
    workload,
    tempDirs: [],
    childScript: fileURLToPath(new URL('./reopenChild.js', import.meta.url)),
  };
  const cleanup = (): void => {
    for (const dir of ctx.tempDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const env = environment(options, workload);
  const results = new Map<PeerName, Measured>();
  const digests = new Map<PeerName, string>();
  const started = performance.now();
  try {
    for (const name of options.peers) {
      const measured: Measured = new Map();
      results.set(name, measured);
      log(`--- ${name} ---`);
      await runPeer(ctx, name, measured, digests);
      gc();
    }
  } finally {
    for (const dir of ctx.tempDirs) await rm(dir, { recursive: true, force: true });
  }
  const rows = buildRows(options, results);
  const samples = (peer: PeerName, key: string): string => {
    const v = results.get(peer)?.get(key);
    return typeof v === 'number' ? formatNumber(v) : '—';
  };
  const check =
    digests.size === 2
      ? digests.get('allsource') === digests.get('sqlite')
        ? `identical reads and states for ${CHECK_ENTITIES} sampled entities on both peers`
        : `MISMATCH: allsource and sqlite returned different reads/states for ${CHECK_ENTITIES} sampled entities`
      : 'cross-check skipped (needs both peers)';
  const notes = {
    samples: `query samples: allsource ${samples('allsource', 'query_n')}, sqlite ${samples('sqlite', 'query_n')}; state samples: allsource ${samples('allsource', 'state_n')}, sqlite ${samples('sqlite', 'state_n')}`,
    reopen_open_only: `reopen, open alone (ms): allsource ${samples('allsource', 'reopen_open_ms')}, sqlite ${samples('sqlite', 'reopen_open_ms')}`,
    check,
    total_seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ env, rows, notes }, null, 2)}\n`);
    return;
  }
  const lines = [
    `## allsource bench — ${env.date}`,
    '',
    ...Object.entries(env).filter(([k]) => k !== 'date').map(([k, v]) => `- ${k}: ${v}`),
    '',
    renderTable(rows),
    '',
    `- ${notes.samples}`,
    `- ${notes.reopen_open_only}`,
    `- check: ${notes.check}`,
    `- total: ${notes.total_seconds} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (options.mcp) {
    // The MCP benchmark runs in its own process: it drives two stdio servers of its own.
    process.stdout.write('\n');
    const mcp = spawnSync(process.execPath, [fileURLToPath(new URL('./mcp.js', import.meta.url))], { stdio: 'inherit' });
    if (mcp.status !== 0) process.exitCode = 1;
  }
  if (options.core) {
    // Each in its own process too: they start `allsource core` (and `serve`) children of their own.
    process.stdout.write('\n');
    for (const script of ['./core.js', './serve.js', './x402.js', './shared.js']) {
      if (script !== './core.js') process.stdout.write('\n');
      const run = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
      if (run.status !== 0) process.exitCode = 1;
    }
  }
  if (options.postgres) {
    // Its own process too: it starts a PostgreSQL cluster and Core node processes of its own.
    process.stdout.write('\n');
    const { postgresUnavailable } = await import('../test/helpers/postgres.js');
    const missing = postgresUnavailable();
    if (missing !== null) process.stdout.write(`## allsource on PostgreSQL — skipped: ${missing}\n`);
    else {
      const run = spawnSync(process.execPath, [fileURLToPath(new URL('./postgres.js', import.meta.url))], { stdio: 'inherit' });
      if (run.status !== 0) process.exitCode = 1;
    }
  }
  if (options.prime) {
    // Each in its own process, so one's heap and background index builds do not colour the other's figures.
    for (const script of ['./locomo.js', './prime.js']) {
      process.stdout.write('\n');
      const run = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
      if (run.status !== 0) process.exitCode = 1;
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
