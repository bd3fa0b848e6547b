// The exact storage of one vector space and its exact nearest-neighbour search. Every vector is a
// row of one contiguous Float32Array (a slot per id, freed slots reused), with a 64-bit digest per
// row that tells a persisted HNSW index which of its entries are still current. Past a couple of
// thousand rows, an int8 copy of the rows (int8Scan.ts) scores every row in a few milliseconds;
// each row's int8 score comes with an error bound, so only the rows that could still be in the
// top k are re-scored from the float rows: the answer is the exact top k, only found sooner.

import { Int8Rows } from './int8Scan.js';

export interface VectorHit {
  id: string;
  /** Cosine similarity (the dot product of unit vectors). */
  score: number;
}

/** Rows before the int8 prefilter pays for itself (below it a plain scan is well under a millisecond). */
export const PREFILTER_MIN = 2048;

/**
 * Relative slack (per unit of ‖query‖ × ‖row‖) added to every int8 error bound: the bounds are
 * summed in float32 (by the kernel), which rounds by ~1e-7 of that, and the float64 scores they
 * are compared with by far less.
 */
const BOUND_SLACK = 1e-5;

/** A store's rows as a snapshot carries them: slot order, free slots, float rows, digests, int8 rows. */
export interface VectorStoreState {
  dims: number;
  /** Per slot, its id or null (a free slot). */
  slotIds: Array<string | null>;
  /** Free slots, in the order they will be reused (last first). */
  freeSlots: number[];
  /** slotIds.length × dims floats. */
  data: Float32Array;
  /** slotIds.length × 2 digest words. */
  digests: Uint32Array;
  /** The int8 copy, when the store keeps one (rows are padded to `stride`). */
  int8?: { stride: number; rows: Int8Array; scale: Float64Array; error: Float64Array; length: Float64Array };
}

export interface VectorStoreOptions {
  dims: number;
  /**
   * Keep the int8 copy once the store reaches PREFILTER_MIN rows (default true): about 2 µs per
   * upsert and a quarter more memory, for searches ~10× faster. Off for folds searched once.
   */
  int8?: boolean;
}

export class VectorStore {
  readonly dims: number;
  private readonly wantsInt8: boolean;
  // Slot s holds data[s*dims … (s+1)*dims) and two digest words digests[2s, 2s+1].
  private data: Float32Array;
  private digests: Uint32Array;
  private slotIds: Array<string | null> = [];
  private readonly idToSlot = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  /** The int8 copy of every slot (current for all of them), or null. */
  private int8: Int8Rows | null = null;
  /** Whether WebAssembly SIMD was missing when the int8 copy was wanted (then never retried). */
  private int8Missing = false;
  /** Exported states that still hold views of the arrays: the next change copies them first. */
  private readonly sharedWith = new Set<VectorStoreState>();
  /** Rows the last prefiltered search scored exactly (tests and benchmarks read it). */
  lastRescored = 0;
  /** Scratch of scanPrefiltered: the rows that may be in the top k, and their upper bounds. */
  private candidates = new Int32Array(0);
  private highs = new Float64Array(0);

  constructor(options: VectorStoreOptions) {
    this.dims = options.dims;
    this.wantsInt8 = options.int8 !== false;
    this.data = new Float32Array(16 * this.dims);
    this.digests = new Uint32Array(32);
  }

  get size(): number {
    return this.idToSlot.size;
  }

  /** Slots in use or free (the rows a scan walks). */
  get slotCount(): number {
    return this.slotIds.length;
  }

  /** Whether searches use the int8 prefilter. */
  get prefiltered(): boolean {
    return this.int8 !== null;
  }

  has(id: string): boolean {
    return this.idToSlot.has(id);
  }

  ids(): IterableIterator<string> {
    return this.idToSlot.keys();
  }

  /** Live ids with their slots. */
  entries(): IterableIterator<[string, number]> {
    return this.idToSlot.entries();
  }

  /** A copy of the vector stored under `id`. */
  get(id: string): Float32Array | undefined {
    const slot = this.idToSlot.get(id);
    return slot === undefined ? undefined : this.data.slice(slot * this.dims, (slot + 1) * this.dims);
  }

  /** Stores a copy of `vector` (already checked) under `id`; false when it holds exactly that vector already. */
  upsert(id: string, vector: Float32Array): boolean {
    this.unshare();
    let slot = this.idToSlot.get(id);
    const isNew = slot === undefined;
    const digest0 = isNew ? 0 : this.digests[2 * (slot as number)];
    const digest1 = isNew ? 0 : this.digests[2 * (slot as number) + 1];
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slotIds[slot] = id;
      this.idToSlot.set(id, slot);
    }
    this.data.set(vector, slot * this.dims);
    digestInto(vector, this.digests, 2 * slot);
    if (!isNew && this.digests[2 * slot] === digest0 && this.digests[2 * slot + 1] === digest1) return false;
    if (this.int8 !== null) this.int8.set(slot, vector);
    else this.maybeStartInt8();
    return true;
  }

  /** Removes `id`; false when it was not there. */
  remove(id: string): boolean {
    const slot = this.idToSlot.get(id);
    if (slot === undefined) return false;
    this.idToSlot.delete(id);
    this.slotIds[slot] = null;
    this.freeSlots.push(slot);
    return true;
  }

  /** Whether `id` holds the vector with these digest words (`words[2i]`, `words[2i+1]`). */
  matchesDigest(id: string, words: ArrayLike<number>, i: number): boolean {
    const slot = this.idToSlot.get(id);
    return slot !== undefined && this.digests[2 * slot] === words[2 * i] && this.digests[2 * slot + 1] === words[2 * i + 1];
  }

  /** The two digest words of `id`'s vector (it must be stored). */
  digestOf(id: string): [number, number] {
    const slot = this.idToSlot.get(id) as number;
    return [this.digests[2 * slot], this.digests[2 * slot + 1]];
  }

  /** Copies `id`'s vector (it must be stored) into `out` (a plain array, as hnswlib-node takes). */
  rowInto(id: string, out: number[]): void {
    const base = (this.idToSlot.get(id) as number) * this.dims;
    for (let j = 0; j < this.dims; j++) out[j] = this.data[base + j];
  }

  /** Dot product of `query` (as float64) with `id`'s vector (it must be stored). */
  dotOf(id: string, query: Float64Array): number {
    return dot(query, this.data, (this.idToSlot.get(id) as number) * this.dims, this.dims);
  }

  /** Every live vector packed row after row, with its id and digest words, for an index build. */
  pack(): { ids: string[]; vectors: Float32Array; digests: Uint32Array } {
    const count = this.size;
    const ids: string[] = [];
    const digests = new Uint32Array(2 * count);
    const vectors = new Float32Array(count * this.dims);
    let i = 0;
    for (const [id, slot] of this.idToSlot) {
      ids[i] = id;
      vectors.set(this.data.subarray(slot * this.dims, (slot + 1) * this.dims), i * this.dims);
      digests[2 * i] = this.digests[2 * slot];
      digests[2 * i + 1] = this.digests[2 * slot + 1];
      i++;
    }
    return { ids, vectors, digests };
  }

  // ── Search ──────────────────────────────────────────────────────────────────────────────────

  /**
   * The exact `k` nearest vectors to `query` (checked by the caller), best first, ties by id.
   * `accept` is only asked about vectors that could enter the result.
   */
  search(query: Float32Array, k: number, accept?: (id: string) => boolean): VectorHit[] {
    const top = new TopK(k);
    const query64 = Float64Array.from(query);
    if (this.int8 !== null && this.size >= PREFILTER_MIN) this.scanPrefiltered(query, query64, top, accept);
    else this.scanAll(query64, top, accept);
    return top.sorted();
  }

  /** Offers every stored vector to `top`. */
  private scanAll(query: Float64Array, top: TopK, accept: ((id: string) => boolean) | undefined): void {
    const { data, dims, slotIds } = this;
    const slots = slotIds.length;
    for (let slot = 0; slot < slots; slot++) {
      const id = slotIds[slot];
      if (id === null) continue;
      const score = dot(query, data, slot * dims, dims);
      if (!top.admits(score)) continue;
      if (accept !== undefined && !accept(id)) continue;
      top.push(id, score);
    }
  }

  /**
   * One pass over the int8 bounds, then exact scores for the few rows that may be in the top k.
   * A row's true score lies within ± bound of its int8 estimate (bound = ‖q̂‖·err + (‖q − q̂‖ +
   * slack)·‖row‖; the kernel gives both ends), so the k-th largest lower bound T among accepted
   * rows is at most the k-th best true score, and a row whose upper bound is below T cannot be in
   * the top k. T only rises during the pass, so a row dropped against the T of the moment would
   * also fail against the final one. A free slot's int8 row is stale: it is skipped where a row is
   * kept (rarely), not in the loop.
   */
  private scanPrefiltered(query: Float32Array, query64: Float64Array, top: TopK, accept: ((id: string) => boolean) | undefined): void {
    const int8 = this.int8 as Int8Rows;
    const slots = this.slotIds.length;
    const { high: highBound, low: lowBound } = int8.scores(query, slots, BOUND_SLACK);
    const slotIds = this.slotIds;
    if (this.candidates.length < slots) {
      this.candidates = new Int32Array(Math.max(slots, 2 * this.candidates.length));
      this.highs = new Float64Array(this.candidates.length);
    }
    const { candidates, highs } = this;
    const { count, floor } = collectCandidates(highBound, lowBound, slotIds, slots, new LowerBounds(top.capacity), accept, candidates, highs);
    const { data, dims } = this;
    let rescored = 0;
    for (let i = 0; i < count; i++) {
      if (highs[i] < floor) continue;
      const slot = candidates[i];
      const id = slotIds[slot] as string;
      rescored++;
      const score = dot(query64, data, slot * dims, dims);
      if (!top.admits(score)) continue;
      if (accept !== undefined && !accept(id)) continue;
      top.push(id, score);
    }
    this.lastRescored = rescored;
  }

  // ── Storage ─────────────────────────────────────────────────────────────────────────────────

  private allocateSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const slot = this.slotIds.length;
    if ((slot + 1) * this.dims > this.data.length) {
      const capacity = Math.max(16, slot * 2);
      const data = new Float32Array(capacity * this.dims);
      data.set(this.data);
      this.data = data;
      const digests = new Uint32Array(capacity * 2);
      digests.set(this.digests);
      this.digests = digests;
    }
    this.slotIds.push(null);
    this.int8?.ensure(slot + 1);
    return slot;
  }

  /** Makes the int8 copy once the store is large enough (every row quantized here, once). */
  private maybeStartInt8(): void {
    if (!this.wantsInt8 || this.int8Missing || this.size < PREFILTER_MIN) return;
    const int8 = Int8Rows.create(this.dims, this.data.length / this.dims);
    if (int8 === null) {
      this.int8Missing = true;
      return;
    }
    for (let slot = 0; slot < this.slotIds.length; slot++) if (this.slotIds[slot] !== null) int8.set(slot, this.data, slot * this.dims);
    this.int8 = int8;
  }

  // ── Snapshots ───────────────────────────────────────────────────────────────────────────────

  /**
   * The rows as they are now, for a snapshot being written. The float rows and digests are views,
   * not copies: the store copies them itself before its next change (copy on write), so holding
   * the state costs nothing while nothing changes (copying 100k rows takes tens of ms and makes
   * the collector run). The int8 copy is shared the same way: a change moves the store to a
   * copy in fresh WebAssembly memory, so the snapshot's views stay valid.
   */
  exportState(): VectorStoreState {
    const slots = this.slotIds.length;
    const state: VectorStoreState = {
      dims: this.dims,
      slotIds: this.slotIds.slice(),
      freeSlots: this.freeSlots.slice(),
      data: this.data.subarray(0, slots * this.dims),
      digests: this.digests.subarray(0, 2 * slots),
    };
    if (this.int8 !== null) state.int8 = { stride: this.int8.stride, ...this.int8.views(slots) };
    this.sharedWith.add(state);
    return state;
  }

  /** Says an exported state is no longer read (its snapshot is written): no copy is needed for it. */
  releaseState(state: VectorStoreState): void {
    this.sharedWith.delete(state);
  }

  /** Rows a restored store makes room for: a quarter more than it holds, so the next add does not copy them all. */
  static capacityFor(slots: number): number {
    return Math.max(16, Math.ceil(slots * 1.25));
  }

  /**
   * A store holding exactly `state`, which it adopts (the caller must not change it after). Float
   * rows and digests with room for capacityFor(slots) rows are used as they are, others copied.
   */
  static fromState(state: VectorStoreState, options: Omit<VectorStoreOptions, 'dims'> = {}): VectorStore {
    const store = new VectorStore({ dims: state.dims, ...options });
    const slots = state.slotIds.length;
    const capacity = VectorStore.capacityFor(slots);
    if (state.data.length >= capacity * state.dims && state.digests.length >= 2 * capacity) {
      store.data = state.data;
      store.digests = state.digests;
    } else {
      store.data = new Float32Array(capacity * state.dims);
      store.data.set(state.data.subarray(0, slots * state.dims));
      store.digests = new Uint32Array(capacity * 2);
      store.digests.set(state.digests.subarray(0, 2 * slots));
    }
    store.slotIds = state.slotIds;
    store.freeSlots.push(...state.freeSlots);
    for (let slot = 0; slot < slots; slot++) {
      const id = state.slotIds[slot];
      if (id !== null) store.idToSlot.set(id, slot);
    }
    const int8 = state.int8;
    if (store.wantsInt8 && int8 !== undefined) {
      const rows = Int8Rows.create(state.dims, capacity);
      if (rows !== null && rows.stride === int8.stride) {
        rows.load(int8.rows, int8.scale, int8.error, int8.length, slots);
        store.int8 = rows;
      }
    }
    if (store.int8 === null) store.maybeStartInt8();
    return store;
  }

  /** Copy on write: a snapshot still holds views of the arrays, so they are replaced, not changed. */
  private unshare(): void {
    if (this.sharedWith.size === 0) return;
    this.sharedWith.clear();
    this.data = this.data.slice();
    this.digests = this.digests.slice();
    this.int8 = this.int8?.clone() ?? null;
  }
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────

/**
 * The k best (score, id) pairs seen so far: a binary min-heap whose root is the worst kept pair,
 * so a scan costs O(n log k) and usually one comparison per vector. Ties go to the smaller id.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly ids: string[] = [];
  private size = 0;

  constructor(readonly capacity: number) {
    this.scores = new Float64Array(capacity);
  }

  /** Whether a pair with this score could enter (ties may still lose on id). */
  admits(score: number): boolean {
    return this.size < this.capacity || score >= this.scores[0];
  }

  push(id: string, score: number): void {
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, id, parent)) break;
        this.scores[i] = this.scores[parent];
        this.ids[i] = this.ids[parent];
        i = parent;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (score < this.scores[0] || (score === this.scores[0] && id >= this.ids[0])) return;
    let i = 0;
    const n = this.size;
    while (true) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.worseAt(right, left) ? right : left;
      if (!this.worseAt(child, i, score, id)) break;
      this.scores[i] = this.scores[child];
      this.ids[i] = this.ids[child];
      i = child;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /** Best first. */
  sorted(): VectorHit[] {
    const hits: VectorHit[] = [];
    for (let i = 0; i < this.size; i++) hits.push({ id: this.ids[i], score: this.scores[i] });
    return hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Whether (score, id) ranks below the pair at heap position `at`. */
  private worse(score: number, id: string, at: number): boolean {
    return score < this.scores[at] || (score === this.scores[at] && id > this.ids[at]);
  }

  /** Whether the pair at `a` ranks below the pair at `b` (or below the given pair, which sits at `b`). */
  private worseAt(a: number, b: number, bScore = this.scores[b], bId = this.ids[b]): boolean {
    return this.scores[a] < bScore || (this.scores[a] === bScore && this.ids[a] > bId);
  }
}

/**
 * The pass of scanPrefiltered over every row: the rows whose upper bound reaches the running
 * threshold (the k-th largest lower bound among accepted rows so far) go to `candidates`. A
 * function of its own so that the optimizing compiler sees it whole: compiled mid-loop as part of
 * a larger function, the code after the loop lacked type feedback and was thrown away on every call.
 */
function collectCandidates(
  highBound: Float32Array,
  lowBound: Float32Array,
  slotIds: ReadonlyArray<string | null>,
  slots: number,
  lower: LowerBounds,
  accept: ((id: string) => boolean) | undefined,
  candidates: Int32Array,
  highs: Float64Array,
): { count: number; floor: number } {
  let floor = -Infinity;
  let count = 0;
  for (let slot = 0; slot < slots; slot++) {
    const high = highBound[slot];
    if (!(high >= floor)) continue;
    const id = slotIds[slot];
    if (id === null) continue;
    candidates[count] = slot;
    highs[count++] = high;
    const low = lowBound[slot];
    if (!(low > floor) && lower.full) continue;
    if (accept !== undefined && !accept(id)) continue;
    lower.push(low);
    if (lower.full) floor = lower.minimum;
  }
  return { count, floor };
}

/** The k largest numbers seen so far (a min-heap of numbers alone). */
class LowerBounds {
  private readonly values: Float64Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.values = new Float64Array(Math.max(1, k));
  }

  get full(): boolean {
    return this.size >= this.k;
  }

  /** The smallest kept (the k-th largest once full). */
  get minimum(): number {
    return this.values[0];
  }

  /** Keeps `value` (when full, call only with a value above the minimum: it replaces it). */
  push(value: number): void {
    const v = this.values;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (v[parent] <= value) break;
        v[i] = v[parent];
        i = parent;
      }
      v[i] = value;
      return;
    }
    let i = 0;
    const n = this.size;
    while (true) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && v[right] < v[left] ? right : left;
      if (v[child] >= value) break;
      v[i] = v[child];
      i = child;
    }
    v[i] = value;
  }
}

/**
 * Dot product of `query` with the row at `base`. The query is float64 so only the row needs
 * converting, and four accumulators let the CPU overlap the adds (together ~2× a plain loop).
 */
export function dot(query: Float64Array, data: Float32Array, base: number, dims: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    s0 += query[i] * data[base + i];
    s1 += query[i + 1] * data[base + i + 1];
    s2 += query[i + 2] * data[base + i + 2];
    s3 += query[i + 3] * data[base + i + 3];
  }
  for (; i < dims; i++) s0 += query[i] * data[base + i];
  return s0 + s1 + (s2 + s3);
}

let lastDigested: Float32Array | null = null;
let lastWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * A 64-bit digest of a vector's bytes (two FNV-1a lanes over its float32 words, the second with
 * words rotated and another basis), written to out[at], out[at + 1]. It only has to tell whether a
 * persisted vector is still the current one.
 */
export function digestInto(vector: Float32Array, out: Uint32Array, at: number): void {
  // A fold passes the same scratch vector every time: its word view is made once.
  if (vector !== lastDigested) {
    lastDigested = vector;
    lastWords = new Uint32Array(vector.buffer, vector.byteOffset, vector.length);
  }
  const words = lastWords;
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul(h2 ^ ((w >>> 16) | (w << 16)), 0x01000193);
  }
  out[at] = h1 >>> 0;
  out[at + 1] = h2 >>> 0;
}

export function allFinite(vector: Float32Array): boolean {
  for (let i = 0; i < vector.length; i++) if (!Number.isFinite(vector[i])) return false;
  return true;
}

export function describeVector(value: unknown): string {
  if (value instanceof Float32Array) return `${value.length} dimensions`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return value === null ? 'null' : typeof value;
}
