// Prime speed benchmark, in-process on a real EmbeddedCore: warm prime_recall latency at 10k and
// 100k memories (exact scan, and HNSW once its background build is done), cold hydration of a
// tenant from the store (a fold of the whole log: no snapshot yet), and reopen of a local data
// directory (store open + Prime's first answer, from the projection snapshot written on close and
// the persisted HNSW index). Memories are synthetic sentences from a seeded generator, each
// linked to one of a few hundred people so recall's graph expansion has edges to walk.
// Run by `npm run bench` (after the store and MCP tables); `node dist/bench/prime.js [--sizes 10000,100000]`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEmbeddedCore, type EmbeddedCore } from '../src/index.js';
import type { NewEvent } from '../src/core/types.js';
import { edgeCreated, nodeCreated } from '../src/prime/events.js';
import { createPrimeService } from '../src/prime/service.js';
import { percentile } from './stats.js';
import { mulberry32 } from './workload.js';

const TENANT = 'bench';
const PEOPLE = 300;
const QUERIES = 400;
/** Recalls right after a cold hydration, reported apart from the warm ones (see benchSize). */
const WARMUP_QUERIES = 100;
const BATCH = 1000;

const log = (line: string): void => {
  process.stderr.write(`[bench:prime] ${line}\n`);
};

// A small closed vocabulary with a skewed (Zipf-like) draw, so words repeat as in real notes.
const SUBJECTS = ['meeting', 'trip', 'dinner', 'project', 'budget', 'doctor', 'flight', 'garden', 'concert', 'course', 'interview', 'wedding', 'move', 'recipe', 'workout', 'book', 'movie', 'painting', 'invoice', 'deadline'];
const VERBS = ['planned', 'cancelled', 'moved', 'enjoyed', 'discussed', 'booked', 'finished', 'started', 'postponed', 'reviewed', 'shared', 'forgot', 'remembered', 'loved', 'paid'];
const PLACES = ['Paris', 'Berlin', 'Lisbon', 'Tokyo', 'Austin', 'Nairobi', 'Oslo', 'Lima', 'Seoul', 'Toronto', 'Madrid', 'Cairo', 'Dublin', 'Prague', 'Denver', 'Hanoi'];
const DETAILS = ['with the team', 'after work', 'on the weekend', 'next month', 'before the holidays', 'with family', 'for the first time', 'again', 'at short notice', 'over video', 'in the morning', 'late at night'];
const ADJECTIVES = ['quick', 'long', 'expensive', 'relaxing', 'stressful', 'surprising', 'boring', 'important', 'fun', 'tiring', 'memorable', 'short'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  // Squaring skews toward the front of the list.
  return list[Math.floor(rand() * rand() * list.length)];
}

function memoryText(rand: () => number, i: number): string {
  return `${name(i % PEOPLE)} ${pick(rand, VERBS)} a ${pick(rand, ADJECTIVES)} ${pick(rand, SUBJECTS)} in ${pick(rand, PLACES)} ${pick(rand, DETAILS)} (note ${i}, code ${Math.floor(rand() * 100000).toString(36)})`;
}

const name = (i: number): string => `Person${i.toString(36)}`;

function queryText(rand: () => number): string {
  return `${pick(rand, SUBJECTS)} ${pick(rand, PLACES)} ${pick(rand, ADJECTIVES)} ${name(Math.floor(rand() * PEOPLE))}`;
}

/** Appends PEOPLE person nodes and `count` memory nodes, each memory linked to its person. */
async function load(store: EmbeddedCore, count: number): Promise<number> {
  const rand = mulberry32(42);
  const start = performance.now();
  const people: NewEvent[] = [];
  for (let p = 0; p < PEOPLE; p++) people.push(nodeCreated(`p${p}`, 'person', { name: name(p) }));
  await store.append(TENANT, people);
  for (let from = 0; from < count; from += BATCH / 2) {
    const events: NewEvent[] = [];
    for (let i = from; i < Math.min(count, from + BATCH / 2); i++) {
      events.push(nodeCreated(`m${i}`, 'memory', { text: memoryText(rand, i), importance: Math.round(rand() * 10) / 10 }));
      events.push(edgeCreated({ id: `e${i}`, source: `p${i % PEOPLE}`, target: `m${i}`, relation: 'said', properties: {}, weight: 1 }));
    }
    await store.append(TENANT, events);
  }
  return performance.now() - start;
}

interface Row {
  scenario: string;
  value: string;
  target: string;
  result: string;
}

const ms = (value: number): string => `${value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 3)} ms`;

async function recallLatencies(prime: ReturnType<typeof createPrimeService>, seed: number, queries = QUERIES): Promise<{ p50: number; p99: number; max: number }> {
  const rand = mulberry32(seed);
  const samples = new Float64Array(queries);
  for (let i = 0; i < queries; i++) {
    const text = queryText(rand);
    const start = performance.now();
    await prime.recall(TENANT, { text, top_k: 10 });
    samples[i] = performance.now() - start;
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100) };
}

async function benchSize(root: string, count: number, rows: Row[]): Promise<void> {
  const dataDir = join(root, `n${count}`);
  const label = count.toLocaleString('en-US');
  let store = await openEmbeddedCore({ dataDir, durability: 'none' });
  log(`${label}: loading ${label} memories + ${PEOPLE} people + ${label} edges`);
  const loadMs = await load(store, count);
  log(`${label}: loaded in ${(loadMs / 1000).toFixed(1)} s`);

  // Cold hydration: a fresh service's first read folds every prime event from the store.
  let prime = createPrimeService({ store, dataDir, log });
  let start = performance.now();
  const stats = await prime.stats(TENANT);
  const hydrateMs = performance.now() - start;
  if (stats.nodes !== count + PEOPLE || stats.edges !== count) throw new Error(`hydrated ${stats.nodes} nodes, ${stats.edges} edges; expected ${count + PEOPLE}, ${count}`);
  const hydrateLimit = count <= 10_000 ? 500 : 1000;
  rows.push({ scenario: `cold hydration, ${label} memories + vectors (whole log, no snapshot)`, value: ms(hydrateMs), target: `<= ${hydrateLimit} ms`, result: hydrateMs <= hydrateLimit ? 'pass' : 'MISS' });

  // The first recalls after a hydration run cold code and meet the collector sweeping up after
  // the fold: they are reported on their own, and the warm figures are taken after them.
  const first = await recallLatencies(prime, 99, WARMUP_QUERIES);
  rows.push({ scenario: `prime_recall, first ${WARMUP_QUERIES} after the cold hydration, p50 / p99 / max`, value: `${ms(first.p50)} / ${ms(first.p99)} / ${ms(first.max)}`, target: '—', result: '—' });
  const modeBefore = (await prime.stats(TENANT)).vector_index.mode;
  const exact = await recallLatencies(prime, 7);
  const modeNow = (await prime.stats(TENANT)).vector_index.mode;
  const exactLabel = modeNow === 'exact' ? 'exact scan' : modeBefore === 'building' && modeNow === 'building' ? 'building: exact answers while HNSW builds' : `${modeBefore} → ${modeNow}`;
  rows.push({ scenario: `prime_recall warm p50, ${label} (${exactLabel})`, value: ms(exact.p50), target: '—', result: '—' });
  rows.push({ scenario: `prime_recall warm p99, ${label} (${exactLabel})`, value: ms(exact.p99), target: '<= 5 ms', result: exact.p99 <= 5 ? 'pass' : 'MISS' });

  if (modeNow !== 'exact') {
    start = performance.now();
    await prime.whenIdle();
    log(`${label}: HNSW ready after ${((performance.now() - start) / 1000).toFixed(1)} s more`);
    const after = await prime.stats(TENANT);
    // The first searches of a freshly attached index touch its pages for the first time.
    const firstHnsw = await recallLatencies(prime, 98, WARMUP_QUERIES);
    rows.push({ scenario: `prime_recall, first ${WARMUP_QUERIES} once HNSW is ready, p50 / p99 / max`, value: `${ms(firstHnsw.p50)} / ${ms(firstHnsw.p99)} / ${ms(firstHnsw.max)}`, target: '—', result: '—' });
    const hnsw = await recallLatencies(prime, 7);
    rows.push({ scenario: `prime_recall warm p50, ${label} (${after.vector_index.mode})`, value: ms(hnsw.p50), target: '—', result: '—' });
    rows.push({ scenario: `prime_recall warm p99, ${label} (${after.vector_index.mode})`, value: ms(hnsw.p99), target: '<= 5 ms', result: hnsw.p99 <= 5 ? 'pass' : 'MISS' });
  }

  // Reopen: close everything (Prime writes its projection snapshot and persists its derived HNSW
  // index), then time store open + first recall, and Prime's part of it on its own.
  start = performance.now();
  await prime.close();
  log(`${label}: closed Prime (snapshot and HNSW index written) in ${ms(performance.now() - start)}`);
  await store.close();
  start = performance.now();
  store = await openEmbeddedCore({ dataDir, durability: 'none' });
  const openMs = performance.now() - start;
  prime = createPrimeService({ store, dataDir, log });
  const primeStart = performance.now();
  await prime.recall(TENANT, { text: 'trip Paris', top_k: 10 });
  const primeMs = performance.now() - primeStart;
  const reopenMs = performance.now() - start;
  const reopened = await prime.stats(TENANT);
  if (reopened.nodes !== count + PEOPLE || reopened.edges !== count) throw new Error(`reopened with ${reopened.nodes} nodes, ${reopened.edges} edges`);
  const firstMode = reopened.vector_index.mode;
  const snapshot = prime.snapshotInfo()?.loaded === 1 ? 'from its snapshot' : 'snapshot NOT used: whole log';
  rows.push({ scenario: `reopen local data dir, ${label}: store open + first recall (${firstMode})`, value: ms(reopenMs), target: '—', result: `store open ${ms(openMs)}` });
  rows.push({ scenario: `reopen local data dir, ${label}: Prime ${snapshot} to the first recall, after the store is open`, value: ms(primeMs), target: '<= 1000 ms', result: primeMs <= 1000 ? 'pass' : 'MISS' });
  if (firstMode !== 'hnsw') {
    await prime.whenIdle();
    const readyMs = performance.now() - start;
    const ready = await prime.stats(TENANT);
    rows.push({ scenario: `reopen local data dir, ${label}: until the persisted HNSW index is loaded (${ready.vector_index.mode})`, value: ms(readyMs), target: '—', result: '—' });
  }
  await prime.close();
  await store.close();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10000,100000' } } });
  const sizes = (values.sizes ?? '').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  const root = mkdtempSync(join(tmpdir(), 'allsource-bench-prime-'));
  const rows: Row[] = [];
  const began = performance.now();
  try {
    for (const size of sizes) await benchSize(root, size, rows);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const lines = [
    '## Prime (in-process, EmbeddedCore, offline embedder)',
    '',
    `- memories: synthetic notes from a seeded generator, each linked to one of ${PEOPLE} people; ${QUERIES} recall queries of 4 words, top_k 10, depth 1 (warm: after the first ${WARMUP_QUERIES} of each phase, which have their own rows)`,
    `- total: ${((performance.now() - began) / 1000).toFixed(1)} s`,
    '',
    '| scenario | allsource | target | result |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.value} | ${r.target} | ${r.result} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
