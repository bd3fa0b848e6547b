// VectorIndex: exact search against a naive scan, the HNSW path (worker build, recall, writes
// during and after the build, the backlog a burst of writes leaves until they pause, closing
// mid-build, the main-thread fallback), switching HNSW off, and persistence with reconciliation
// and a corrupted file. Latency is measured by `npm run bench`, not here.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../bench/workload.js';
import { normalize } from '../src/embed/codec.js';
import { hnswWorkerUrl, VectorIndex, type VectorHit, type VectorIndexOptions } from '../src/prime/vectorIndex.js';

// ── Data ─────────────────────────────────────────────────────────────────────────────────────────

/** Deterministic PRNG so failures reproduce. */
const rng = mulberry32;

/** A random direction: normal components (Box–Muller), normalized. */
function randomUnit(dims: number, random: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return normalize(v);
}

/** A unit vector near `center`: embeddings of related texts cluster like this. */
function near(center: Float32Array, spread: number, random: () => number): Float32Array {
  const noise = randomUnit(center.length, random);
  const v = new Float32Array(center.length);
  for (let i = 0; i < v.length; i++) v[i] = center[i] + spread * noise[i];
  return normalize(v);
}

function clustered(count: number, dims: number, clusters: number, random: () => number): Float32Array[] {
  const centers = Array.from({ length: clusters }, () => randomUnit(dims, random));
  return Array.from({ length: count }, (_, i) => near(centers[i % clusters], 0.6, random));
}

/** The reference: score every vector, sort by score then id. */
function naive(vectors: Map<string, Float32Array>, query: Float32Array, k: number, accept?: (id: string) => boolean): VectorHit[] {
  const hits: VectorHit[] = [];
  for (const [id, v] of vectors) {
    if (accept !== undefined && !accept(id)) continue;
    let score = 0;
    for (let i = 0; i < v.length; i++) score += v[i] * query[i];
    hits.push({ id, score });
  }
  hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  return hits.slice(0, k);
}

function expectSameHits(actual: VectorHit[], expected: VectorHit[]): void {
  expect(actual.map((h) => h.id)).toEqual(expected.map((h) => h.id));
  actual.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i].score, 5));
}

function recallAt(index: VectorIndex, exact: Map<string, Float32Array>, queries: Float32Array[], k: number): number {
  let found = 0;
  for (const query of queries) {
    const truth = new Set(naive(exact, query, k).map((h) => h.id));
    for (const hit of index.search(query, k)) if (truth.has(hit.id)) found++;
  }
  return found / (queries.length * k);
}

const quiet = (): void => {};
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'allsource-vectors-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * The worker script from the sources: vitest runs TypeScript, a worker thread cannot, so the test
 * transpiles hnswWorker.ts (which imports only Node built-ins) on its own, as the build would.
 */
function transpiledWorker(): URL {
  const source = readFileSync(new URL('../src/prime/hnswWorker.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
  const path = join(tempDir(), 'hnswWorker.mjs');
  writeFileSync(path, outputText);
  return pathToFileURL(path);
}

// The suite decides per test whether HNSW is off, whatever the environment says.
const savedHnswEnv = process.env.ALLSOURCE_HNSW;
delete process.env.ALLSOURCE_HNSW;
afterAll(() => {
  if (savedHnswEnv === undefined) delete process.env.ALLSOURCE_HNSW;
  else process.env.ALLSOURCE_HNSW = savedHnswEnv;
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ── Exact ────────────────────────────────────────────────────────────────────────────────────────

describe('VectorIndex (exact)', () => {
  const dims = 24;

  it('answers like a naive scan through upserts, replacements, removals and slot reuse', () => {
    const random = rng(1);
    const index = new VectorIndex({ dims, hnsw: false, log: quiet });
    const reference = new Map<string, Float32Array>();
    const put = (id: string, v: Float32Array): void => {
      index.upsert(id, v);
      reference.set(id, v);
    };
    for (let i = 0; i < 400; i++) put(`v${i}`, randomUnit(dims, random));
    for (let i = 0; i < 400; i += 7) put(`v${i}`, randomUnit(dims, random)); // replace
    for (let i = 3; i < 400; i += 5) {
      expect(index.remove(`v${i}`)).toBe(true);
      reference.delete(`v${i}`);
    }
    for (let i = 0; i < 60; i++) put(`new${i}`, randomUnit(dims, random)); // reuses freed slots
    expect(index.remove('v3')).toBe(false);
    expect(index.size).toBe(reference.size);
    expect(new Set(index.ids())).toEqual(new Set(reference.keys()));

    for (let q = 0; q < 25; q++) {
      const query = randomUnit(dims, random);
      expectSameHits(index.search(query, 10), naive(reference, query, 10));
      expectSameHits(index.search(query, 1), naive(reference, query, 1));
    }
    const query = randomUnit(dims, random);
    expectSameHits(index.search(query, 10_000), naive(reference, query, 10_000));
    expect(index.search(query, 0)).toEqual([]);
    // A stored vector is its own best match.
    const own = reference.get('new5') as Float32Array;
    expect(index.search(own, 1)[0]).toMatchObject({ id: 'new5' });
    expect(index.search(own, 1)[0].score).toBeCloseTo(1, 5);
  });

  it('stores copies: get returns the vector, and mutating either side changes nothing', () => {
    const index = new VectorIndex({ dims: 3, log: quiet });
    const v = normalize(new Float32Array([1, 2, 3]));
    index.upsert('a', v);
    const got = index.get('a') as Float32Array;
    expect(Array.from(got)).toEqual(Array.from(v));
    got[0] = 42;
    v[1] = 42;
    expect(index.get('a')?.[0]).not.toBe(42);
    expect(index.get('a')?.[1]).not.toBe(42);
    expect(index.has('a')).toBe(true);
    expect(index.get('b')).toBeUndefined();
  });

  it('breaks score ties by id', () => {
    const index = new VectorIndex({ dims: 2, log: quiet });
    const v = new Float32Array([1, 0]);
    for (const id of ['d', 'b', 'a', 'c']) index.upsert(id, v);
    expect(index.search(v, 3).map((h) => h.id)).toEqual(['a', 'b', 'c']);
  });

  it('filters with accept and still returns k hits when enough accepted vectors exist', () => {
    const random = rng(2);
    const index = new VectorIndex({ dims, log: quiet });
    const reference = new Map<string, Float32Array>();
    for (let i = 0; i < 500; i++) {
      const v = randomUnit(dims, random);
      index.upsert(`n${i}`, v);
      reference.set(`n${i}`, v);
    }
    const rare = (id: string): boolean => Number(id.slice(1)) % 50 === 0; // 10 accepted
    const even = (id: string): boolean => Number(id.slice(1)) % 2 === 0;
    for (let q = 0; q < 10; q++) {
      const query = randomUnit(dims, random);
      expectSameHits(index.search(query, 20, even), naive(reference, query, 20, even));
      const hits = index.search(query, 20, rare);
      expect(hits).toHaveLength(10);
      expectSameHits(hits, naive(reference, query, 20, rare));
    }
  });

  it('refuses wrong lengths, non-finite values and bad k with typed errors naming the field', () => {
    const index = new VectorIndex({ dims: 4, log: quiet });
    expect(() => index.upsert('a', new Float32Array(3))).toThrow(expect.objectContaining({ code: 'invalid', field: 'vector' }));
    expect(() => index.upsert('a', new Float32Array([1, Number.NaN, 0, 0]))).toThrow(expect.objectContaining({ code: 'invalid', field: 'vector' }));
    expect(() => index.upsert('a', [1, 0, 0, 0] as unknown as Float32Array)).toThrow(expect.objectContaining({ code: 'invalid', field: 'vector' }));
    expect(() => index.search(new Float32Array(5), 3)).toThrow(expect.objectContaining({ code: 'invalid', field: 'query' }));
    expect(() => index.search(new Float32Array(4), -1)).toThrow(expect.objectContaining({ code: 'invalid', field: 'k' }));
    expect(() => new VectorIndex({ dims: 0 })).toThrow(expect.objectContaining({ code: 'invalid', field: 'dims' }));
    expect(index.size).toBe(0);
  });

  it('finds the worker script next to the built module, or under dist/ from the sources', () => {
    expect(hnswWorkerUrl('file:///app/dist/src/prime/vectorIndex.js').href).toBe('file:///app/dist/src/prime/hnswWorker.js');
    expect(hnswWorkerUrl('file:///app/src/prime/vectorIndex.ts').href).toBe('file:///app/dist/src/prime/hnswWorker.js');
  });

  it('says why it is exact below the threshold', () => {
    const index = new VectorIndex({ dims: 4, hnswThreshold: 100, log: quiet });
    index.upsert('a', normalize(new Float32Array([1, 1, 1, 1])));
    const status = index.status();
    expect(status).toMatchObject({ mode: 'exact', vectors: 1, dims: 4 });
    expect(status.note).toMatch(/^exact: /);
  });
});

// ── HNSW ─────────────────────────────────────────────────────────────────────────────────────────

const hnswAvailable = new VectorIndex({ dims: 2, log: quiet }).status().hnsw_available;
if (!hnswAvailable) console.error('vectorIndex.test: hnswlib-node is not installed here; the HNSW tests are skipped');

describe.skipIf(!hnswAvailable)('VectorIndex (HNSW)', () => {
  const dims = 384;
  let workerScript: URL;
  beforeAll(() => {
    workerScript = transpiledWorker();
  });

  function fill(index: VectorIndex, vectors: Float32Array[], prefix = 'v'): Map<string, Float32Array> {
    const reference = new Map<string, Float32Array>();
    vectors.forEach((v, i) => {
      index.upsert(`${prefix}${i}`, v);
      reference.set(`${prefix}${i}`, v);
    });
    return reference;
  }

  it('goes exact → building → hnsw in a worker, with recall@10 ≥ 0.9 on random and clustered data', async () => {
    const random = rng(3);
    for (const [label, vectors] of [
      ['random', Array.from({ length: 2000 }, () => randomUnit(dims, random))],
      ['clustered', clustered(2000, dims, 40, random)],
    ] as const) {
      const options: VectorIndexOptions = { dims, hnswThreshold: 1000, workerScript, log: quiet };
      const index = new VectorIndex(options);
      const reference = fill(index, vectors.slice(0, 999));
      expect(index.status().mode).toBe('exact');
      for (const [id, v] of fill(index, vectors.slice(999), 'w')) reference.set(id, v);
      expect(index.status().mode).toBe('building');
      await index.whenIdle();
      const status = index.status();
      expect(status).toMatchObject({ mode: 'hnsw', hnsw_available: true, vectors: 2000, dims });
      expect(status.note).toMatch(/worker thread/);
      expect(index.counters).toMatchObject({ builds: 1, workerBuilds: 1 });
      const queries = Array.from({ length: 50 }, () => near(vectors[Math.floor(random() * vectors.length)], 0.8, random));
      const recall = recallAt(index, reference, queries, 10);
      console.error(`HNSW recall@10 on ${label} 2000 × ${dims}: ${recall.toFixed(3)} (build ${index.counters.lastBuildMs?.toFixed(0)} ms)`);
      expect(recall).toBeGreaterThanOrEqual(0.9);
      await index.close();
    }
  });

  it('reflects upserts and removals made during and after the build', async () => {
    const random = rng(4);
    const index = new VectorIndex({ dims, hnswThreshold: 500, workerScript, log: quiet });
    const reference = fill(
      index,
      Array.from({ length: 1500 }, () => randomUnit(dims, random)),
    );
    await new Promise((resolve) => setTimeout(resolve, 80)); // the build is under way
    expect(index.status().mode).toBe('building');

    // During the build: remove some, replace some, add some.
    const removed = new Map<string, Float32Array>();
    for (let i = 0; i < 1500; i += 15) {
      removed.set(`v${i}`, reference.get(`v${i}`) as Float32Array);
      index.remove(`v${i}`);
      reference.delete(`v${i}`);
    }
    const replaced = new Map<string, Float32Array>();
    for (let i = 1; i < 1500; i += 30) {
      const v = randomUnit(dims, random);
      replaced.set(`v${i}`, v);
      index.upsert(`v${i}`, v);
      reference.set(`v${i}`, v);
    }
    for (let i = 0; i < 50; i++) {
      const v = randomUnit(dims, random);
      index.upsert(`late${i}`, v);
      reference.set(`late${i}`, v);
    }
    await index.whenIdle();
    expect(index.status().mode).toBe('hnsw');

    const check = (): void => {
      for (const [id, v] of removed) expect(index.search(v, 10).some((h) => h.id === id)).toBe(false);
      for (const [id, v] of replaced) expect(index.search(v, 1)[0].id).toBe(id);
      for (let i = 0; i < 50; i += 7) expect(index.search(reference.get(`late${i}`) as Float32Array, 1)[0].id).toBe(`late${i}`);
      expect(index.size).toBe(reference.size);
    };
    check();

    // After the build: visible at once (the backlog is scanned exactly), and after catching up.
    for (let i = 2; i < 1500; i += 45) {
      if (!reference.has(`v${i}`)) continue;
      removed.set(`v${i}`, reference.get(`v${i}`) as Float32Array);
      index.remove(`v${i}`);
      reference.delete(`v${i}`);
    }
    for (let i = 4; i < 1500; i += 60) {
      if (!reference.has(`v${i}`)) continue;
      const v = randomUnit(dims, random);
      replaced.set(`v${i}`, v);
      index.upsert(`v${i}`, v);
      reference.set(`v${i}`, v);
    }
    check();
    await index.whenIdle();
    check();
    const queries = Array.from({ length: 30 }, () => randomUnit(dims, random));
    expect(recallAt(index, reference, queries, 10)).toBeGreaterThanOrEqual(0.9);
    await index.close();
  });

  it('keeps a burst of new vectors in the exactly-searched backlog until writes pause, then adds them', async () => {
    const random = rng(13);
    const index = new VectorIndex({ dims, hnswThreshold: 1000, workerScript, log: quiet });
    fill(index, Array.from({ length: 1200 }, () => randomUnit(dims, random)));
    await index.prepare();
    expect(index.status().mode).toBe('hnsw');
    // Writes with the event loop turning between them, as sequential tool calls come: nothing is added meanwhile.
    const burst = Array.from({ length: 40 }, () => randomUnit(dims, random));
    for (let i = 0; i < burst.length; i++) {
      index.upsert(`burst${i}`, burst[i]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(index.search(burst[i], 1)[0].id).toBe(`burst${i}`);
    }
    expect(index.status().note).toMatch(/; 40 recent vectors are searched exactly until added$/);
    await index.whenIdle();
    expect(index.status().note).not.toMatch(/recent vectors/);
    for (let i = 0; i < burst.length; i += 9) expect(index.search(burst[i], 1)[0].id).toBe(`burst${i}`);
    await index.close();
  });

  it('stops a build on close by asking the worker, so closing mid-build never aborts the process (20 rounds)', async () => {
    // Terminating the worker inside hnswlib-node's addPoint aborted the whole process about one
    // close in six (a fatal napi throw); 20 rounds in this process would all but surely hit it.
    const random = rng(11);
    const vectors = Array.from({ length: 1500 }, () => randomUnit(dims, random));
    for (let round = 0; round < 20; round++) {
      const index = new VectorIndex({ dims, hnswThreshold: 1000, workerScript, log: quiet });
      fill(index, vectors);
      void index.prepare();
      const deadline = Date.now() + 10_000;
      while (!/\(([1-9]\d*) indexed so far\)/.test(index.status().note) && index.status().mode === 'building' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await index.close();
      expect(index.status().mode).toBe('exact');
    }
  });

  it('keeps k hits under a selective accept filter', async () => {
    const random = rng(5);
    const index = new VectorIndex({ dims, hnswThreshold: 500, workerScript, log: quiet });
    const reference = fill(
      index,
      Array.from({ length: 1200 }, () => randomUnit(dims, random)),
    );
    await index.whenIdle();
    expect(index.status().mode).toBe('hnsw');
    const rare = (id: string): boolean => Number(id.slice(1)) % 100 === 0; // 12 accepted
    const half = (id: string): boolean => Number(id.slice(1)) % 2 === 0;
    for (let q = 0; q < 10; q++) {
      const query = randomUnit(dims, random);
      const rareHits = index.search(query, 10, rare);
      expectSameHits(rareHits, naive(reference, query, 10, rare));
      const halfHits = index.search(query, 10, half);
      expect(halfHits).toHaveLength(10);
      expect(halfHits.every((h) => half(h.id))).toBe(true);
    }
    await index.close();
  });

  it('builds on the main thread, in slices, when the worker script is missing', async () => {
    const random = rng(6);
    const index = new VectorIndex({ dims, hnswThreshold: 300, workerScript: pathToFileURL(join(tempDir(), 'missing.js')), log: quiet });
    const reference = fill(
      index,
      Array.from({ length: 600 }, () => randomUnit(dims, random)),
    );
    await index.whenIdle();
    expect(index.status().mode).toBe('hnsw');
    expect(index.counters).toMatchObject({ builds: 1, workerBuilds: 0 });
    const queries = Array.from({ length: 20 }, () => randomUnit(dims, random));
    expect(recallAt(index, reference, queries, 10)).toBeGreaterThanOrEqual(0.9);
    await index.close();
  });

  it('persists the index, loads it on reopen instead of building, and reconciles changes', async () => {
    const random = rng(7);
    const dir = tempDir();
    const vectors = Array.from({ length: 1500 }, () => randomUnit(dims, random));
    const queries = Array.from({ length: 20 }, () => randomUnit(dims, random));

    const first = new VectorIndex({ dims, hnswThreshold: 500, workerScript, persistDir: dir, log: quiet });
    fill(first, vectors);
    await first.whenIdle();
    expect(first.status().mode).toBe('hnsw');
    const before = queries.map((q) => first.search(q, 10));
    await first.close();
    expect(existsSync(join(dir, 'hnsw.bin'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'hnsw.json'), 'utf8'))).toMatchObject({ format: 1, dims, space: 'ip' });

    // Same vectors: loaded, no build, same answers.
    const second = new VectorIndex({ dims, hnswThreshold: 500, workerScript, persistDir: dir, log: quiet });
    fill(second, vectors);
    await second.prepare(); // the owner's fold is done: load now rather than after writes pause
    expect(second.counters).toMatchObject({ loads: 1, builds: 0 });
    expect(second.status()).toMatchObject({ mode: 'hnsw' });
    expect(second.status().note).toMatch(/loaded from/);
    expect(queries.map((q) => second.search(q, 10))).toEqual(before);
    await second.close();

    // Some vectors gone, some changed since: loaded, then the stale entries are dropped or re-added.
    const third = new VectorIndex({ dims, hnswThreshold: 500, workerScript, persistDir: dir, log: quiet });
    const reference = fill(third, vectors);
    for (let i = 0; i < 100; i++) {
      third.remove(`v${i}`);
      reference.delete(`v${i}`);
    }
    for (let i = 100; i < 150; i++) {
      const v = randomUnit(dims, random);
      third.upsert(`v${i}`, v);
      reference.set(`v${i}`, v);
    }
    await third.whenIdle();
    expect(third.counters).toMatchObject({ loads: 1, builds: 0 });
    expect(third.status().mode).toBe('hnsw');
    for (let i = 0; i < 100; i += 9) expect(third.search(vectors[i], 10).some((h) => h.id === `v${i}`)).toBe(false);
    for (let i = 100; i < 150; i += 7) expect(third.search(reference.get(`v${i}`) as Float32Array, 1)[0].id).toBe(`v${i}`);
    expect(recallAt(third, reference, queries, 10)).toBeGreaterThanOrEqual(0.9);
    await third.close();
  });

  it('ignores a corrupted or mismatched persisted index and rebuilds it', async () => {
    const random = rng(8);
    const dir = tempDir();
    const vectors = Array.from({ length: 800 }, () => randomUnit(dims, random));
    const lines: string[] = [];
    const first = new VectorIndex({ dims, hnswThreshold: 400, workerScript, persistDir: dir, log: quiet });
    fill(first, vectors);
    await first.whenIdle();
    await first.close();

    const bin = readFileSync(join(dir, 'hnsw.bin'));
    for (let i = 100; i < bin.length; i += 997) bin[i] ^= 0xff;
    writeFileSync(join(dir, 'hnsw.bin'), bin);
    const second = new VectorIndex({ dims, hnswThreshold: 400, workerScript, persistDir: dir, log: (line) => lines.push(line) });
    const reference = fill(second, vectors);
    await second.whenIdle();
    expect(second.counters).toMatchObject({ loads: 0, rejectedFiles: 1, builds: 1 });
    expect(lines.join('\n')).toMatch(/ignoring the persisted HNSW index/);
    expect(second.status().mode).toBe('hnsw');
    const queries = Array.from({ length: 20 }, () => randomUnit(dims, random));
    expect(recallAt(second, reference, queries, 10)).toBeGreaterThanOrEqual(0.9);
    await second.close();

    // The rebuilt index was persisted again, and a space of other dims does not take it.
    const other = new VectorIndex({ dims: 128, hnswThreshold: 400, workerScript, persistDir: dir, log: quiet });
    fill(
      other,
      Array.from({ length: 400 }, () => randomUnit(128, random)),
    );
    await other.whenIdle();
    expect(other.counters).toMatchObject({ loads: 0, rejectedFiles: 1, builds: 1 });
    await other.close();
  });

  it('stays exact, saying why, when the build fails', async () => {
    const random = rng(11);
    const failing = join(tempDir(), 'failing.mjs');
    writeFileSync(failing, 'throw new Error("no build today");\n');
    const lines: string[] = [];
    const index = new VectorIndex({ dims: 32, hnswThreshold: 100, workerScript: pathToFileURL(failing), log: (line) => lines.push(line) });
    const reference = fill(
      index,
      Array.from({ length: 150 }, () => randomUnit(32, random)),
    );
    await index.whenIdle();
    expect(index.status()).toMatchObject({ mode: 'exact', hnsw_available: true });
    expect(index.status().note).toMatch(/HNSW build failed .*no build today.*retried at 300 vectors/);
    expect(lines.join('\n')).toMatch(/no build today/);
    const query = randomUnit(32, random);
    expectSameHits(index.search(query, 5), naive(reference, query, 5));
    await index.close();
  });

  it('stays exact with ALLSOURCE_HNSW=off or hnsw: false, and says so', async () => {
    const random = rng(9);
    const vectors = Array.from({ length: 300 }, () => randomUnit(64, random));
    process.env.ALLSOURCE_HNSW = 'off';
    let index: VectorIndex;
    try {
      index = new VectorIndex({ dims: 64, hnswThreshold: 100, workerScript, log: quiet });
    } finally {
      delete process.env.ALLSOURCE_HNSW;
    }
    const reference = fill(index, vectors);
    await index.whenIdle();
    expect(index.status()).toMatchObject({ mode: 'exact', hnsw_available: false, vectors: 300 });
    expect(index.status().note).toMatch(/ALLSOURCE_HNSW=off/);
    const query = randomUnit(64, random);
    expectSameHits(index.search(query, 10), naive(reference, query, 10));
    expect(index.counters.builds).toBe(0);

    const view = new VectorIndex({ dims: 64, hnswThreshold: 100, hnsw: false, workerScript, log: quiet });
    fill(view, vectors);
    await view.whenIdle();
    expect(view.status()).toMatchObject({ mode: 'exact', hnsw_available: true });
    expect(view.status().note).toMatch(/^exact: HNSW is off/);
    expect(view.counters.builds).toBe(0);
  });
});

