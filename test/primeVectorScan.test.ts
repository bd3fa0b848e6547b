// The exact vector scan with its int8 prefilter (vectorStore.ts, int8Scan.ts): the WebAssembly
// kernel's integer dot products against plain arithmetic, and a property test of the search
// against a naive float scan over random, clustered, duplicated, scaled and sparse vectors, odd
// dimensions, filters, removals and reused slots, with every k: the ids and order must be the
// same, so the prefilter only ever saves work. Plus the snapshot state of a store, round-tripped.

import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../bench/workload.js';
import { normalize } from '../src/embed/codec.js';
import { Int8Rows, int8ScanAvailable } from '../src/prime/int8Scan.js';
import { PREFILTER_MIN, VectorStore, type VectorHit } from '../src/prime/vectorStore.js';

function randomUnit(dims: number, random: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return normalize(v);
}

function near(center: Float32Array, spread: number, random: () => number): Float32Array {
  const noise = randomUnit(center.length, random);
  return normalize(center.map((x, i) => x + spread * noise[i]));
}

/** Mostly zeros, as hashed bag-of-words vectors of short texts are. */
function sparse(dims: number, random: () => number): Float32Array {
  const v = new Float32Array(dims);
  for (let n = 0; n < 12; n++) v[Math.floor(random() * dims)] += random() < 0.5 ? -1 : random() < 0.5 ? 0.5 : 1;
  return normalize(v);
}

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
  actual.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i].score, 6));
}

const simd = int8ScanAvailable();

describe('int8 kernel', () => {
  it('is available on this runtime (Node 20 has WebAssembly SIMD)', () => {
    expect(simd).toBe(true);
  });

  it('computes the integer dot products of every row exactly, for padded dimensions too', () => {
    const random = mulberry32(3);
    for (const dims of [16, 24, 100, 256, 385]) {
      const rows = Int8Rows.create(dims, 40) as Int8Rows;
      const vectors = Array.from({ length: 37 }, () => randomUnit(dims, random));
      vectors.forEach((v, slot) => rows.set(slot, v));
      const query = randomUnit(dims, random);
      const { dots, queryScale } = rows.scores(query, vectors.length);
      // Re-derive the int16 query the way scores() rounds it, then the integer products by hand.
      let max = 0;
      for (const x of query) max = Math.max(max, Math.abs(x));
      const q = Array.from(query, (x) => Math.round((x / max) * Math.round(max / queryScale)));
      vectors.forEach((_, slot) => {
        let expected = 0;
        for (let j = 0; j < dims; j++) expected += q[j] * rows.rows[slot * rows.stride + j];
        expect(dots[slot]).toBe(expected);
      });
      // And the bounds hold: every int8 estimate is within its stated error of the float score,
      // and the kernel's float32 bounds (with the store's slack) enclose it.
      const { queryLength, queryError, high, low } = rows.scores(query, vectors.length, 1e-5);
      vectors.forEach((v, slot) => {
        let exact = 0;
        for (let j = 0; j < dims; j++) exact += v[j] * query[j];
        const estimate = queryScale * rows.scale[slot] * dots[slot];
        expect(Math.abs(exact - estimate)).toBeLessThanOrEqual(queryLength * rows.error[slot] + queryError * rows.length[slot] + 1e-9);
        expect(low[slot]).toBeLessThanOrEqual(exact);
        expect(high[slot]).toBeGreaterThanOrEqual(exact);
        expect(high[slot] - low[slot]).toBeLessThan(0.2); // bounds that prune, not just enclose
      });
    }
  });
});

describe.runIf(simd)('exact search with the int8 prefilter', () => {
  const cases: Array<[string, number, (random: () => number, dims: number, i: number) => Float32Array]> = [
    ['random', 64, (random, dims) => randomUnit(dims, random)],
    ['clustered', 256, (() => {
      let centers: Float32Array[] = [];
      return (random: () => number, dims: number, i: number) => {
        if (i === 0) centers = Array.from({ length: 12 }, () => randomUnit(dims, random));
        return near(centers[i % centers.length], 0.5, random);
      };
    })()],
    ['sparse (hashed words)', 256, (random, dims) => sparse(dims, random)],
    ['odd dims, scaled (not unit)', 37, (random, dims) => randomUnit(dims, random).map((x) => x * (0.01 + 5 * random()))],
    ['duplicates (ties)', 48, (() => {
      let pool: Float32Array[] = [];
      return (random: () => number, dims: number, i: number) => {
        if (i === 0) pool = Array.from({ length: 40 }, () => randomUnit(dims, random));
        return pool[Math.floor(random() * pool.length)].slice();
      };
    })()],
  ];

  for (const [name, dims, make] of cases) {
    it(`returns the naive scan's top k exactly: ${name}`, () => {
      const random = mulberry32(name.length * 7919);
      const store = new VectorStore({ dims });
      const reference = new Map<string, Float32Array>();
      const count = PREFILTER_MIN + 1500;
      for (let i = 0; i < count; i++) {
        const v = make(random, dims, i);
        store.upsert(`v${i}`, v);
        reference.set(`v${i}`, v);
      }
      // Removals free slots, replacements rewrite rows, new ids reuse the freed slots.
      for (let i = 0; i < count; i += 9) {
        store.remove(`v${i}`);
        reference.delete(`v${i}`);
      }
      for (let i = 1; i < count; i += 13) {
        const v = make(random, dims, i);
        store.upsert(`v${i}`, v);
        reference.set(`v${i}`, v);
      }
      for (let i = 0; i < 200; i++) {
        const v = make(random, dims, count + i);
        store.upsert(`new${i}`, v);
        reference.set(`new${i}`, v);
      }
      expect(store.prefiltered).toBe(true);
      const odd = (id: string): boolean => id.length % 2 === 1;
      const rare = (id: string): boolean => id.endsWith('7');
      let rescored = 0;
      const queries = 25;
      for (let q = 0; q < queries; q++) {
        // Queries near stored vectors (the usual case) and unrelated ones.
        const query = q % 2 === 0 ? near(reference.get(`v${1 + 13 * q}`) ?? randomUnit(dims, random), 0.3, random) : randomUnit(dims, random);
        for (const k of [1, 10, 30, 100]) expectSameHits(store.search(query, k), naive(reference, query, k));
        rescored += store.lastRescored;
        expectSameHits(store.search(query, 20, odd), naive(reference, query, 20, odd));
        expectSameHits(store.search(query, 20, rare), naive(reference, query, 20, rare));
      }
      const all = randomUnit(dims, random);
      expectSameHits(store.search(all, reference.size + 5), naive(reference, all, reference.size + 5));
      // The point of it: far fewer rows are scored exactly than there are (ties are the exception).
      if (!name.startsWith('duplicates')) expect(rescored / queries).toBeLessThan(reference.size / 2);
    });
  }

  it('round-trips its rows through a snapshot state, int8 copy included, and copies on write', () => {
    const random = mulberry32(5);
    const dims = 40;
    const store = new VectorStore({ dims });
    const reference = new Map<string, Float32Array>();
    for (let i = 0; i < PREFILTER_MIN + 100; i++) {
      const v = randomUnit(dims, random);
      store.upsert(`v${i}`, v);
      reference.set(`v${i}`, v);
    }
    for (let i = 0; i < 50; i++) {
      store.remove(`v${i * 3}`);
      reference.delete(`v${i * 3}`);
    }
    const state = store.exportState();
    const before = state.data.slice();
    // Changes after the export must not show through the state's views.
    store.upsert('v1', randomUnit(dims, random));
    store.upsert('late', randomUnit(dims, random));
    expect(state.data).toEqual(before);
    const restored = VectorStore.fromState(state);
    expect(restored.size).toBe(reference.size);
    expect(restored.prefiltered).toBe(true);
    for (let q = 0; q < 10; q++) {
      const query = randomUnit(dims, random);
      expectSameHits(restored.search(query, 10), naive(reference, query, 10));
    }
    // Freed slots are reused in the same order as by the original store.
    restored.upsert('x', randomUnit(dims, random));
    expect(restored.exportState().slotIds.indexOf('x')).toBe(state.freeSlots[state.freeSlots.length - 1]);
  });
});
