// The default embedder: offline, deterministic, no model. It hashes a text's features into a
// fixed-size vector (the "hashing trick"): stemmed words, adjacent word pairs, and character
// n-grams of each word, so near-spellings and inflections still overlap. It is honest about what
// it is — lexical — and earns its place in recall as a second, fuzzier view beside BM25.

import { analyze, vocabularyGeneration, type Word } from '../text/vocabulary.js';
import type { Embedder, EmbedderInfo } from './types.js';

/** Bump the version whenever the features, weights or hashing change: stored vectors record it. */
export const HASH_EMBEDDER_NAME = 'hash-ngram-v1';

/** 256 keeps a 10k-vector exact scan around a millisecond; collisions cost little at memory-sized texts. */
const DEFAULT_DIMS = 256;

/** Feature weights: whole words dominate, pairs add word order, n-grams add fuzziness. */
const WORD_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.5;
const CHAR_GRAM_WEIGHT = 0.25;
/** Character n-gram lengths, taken over the word framed by boundary marks (`^paint$`). */
const CHAR_GRAM_MIN = 3;
const CHAR_GRAM_MAX = 5;

/** Distinct seeds give words, pairs and n-grams independent slots even when their strings coincide. */
const WORD_SEED = 0x811c9dc5;
const BIGRAM_SEED = 0x01000193;
const CHAR_SEED = 0x9e3779b9;
const BOUNDARY = 0x5e; // '^', stands for both edges of a word

export interface HashEmbedderOptions {
  /** Vector length (default 256). */
  dims?: number;
}

export function createHashEmbedder(options: HashEmbedderOptions = {}): Embedder {
  const dims = options.dims ?? DEFAULT_DIMS;
  if (!Number.isInteger(dims) || dims < 8) throw new RangeError(`createHashEmbedder: dims must be an integer >= 8, got ${dims}`);
  const info: EmbedderInfo = { name: HASH_EMBEDDER_NAME, kind: 'lexical', dims, source: 'offline' };
  const features = new WordFeatures(dims);
  const embedSyncInto = (text: string, out: Float32Array): void => {
    if (out.length !== dims) throw new RangeError(`embedSyncInto: expected a Float32Array of ${dims}, got ${out.length}`);
    hashEmbedInto(text, out, features);
  };
  const embedSync = (text: string): Float32Array => {
    const vector = new Float32Array(dims);
    hashEmbedInto(text, vector, features);
    return vector;
  };
  return {
    name: HASH_EMBEDDER_NAME,
    kind: 'lexical',
    dims,
    deterministic: true,
    embedSync,
    embedSyncInto,
    embed: async (texts) => texts.map(embedSync),
    describe: () => ({ ...info }),
  };
}

/**
 * The features of `text` summed into `vector` (overwritten), then scaled to unit length. Per word:
 * its stem, the pair with the previous word's stem, its character n-grams, in that order (the
 * order of the float32 additions fixes the result bit for bit).
 */
function hashEmbedInto(text: string, vector: Float32Array, features: WordFeatures): void {
  vector.fill(0);
  const dims = vector.length;
  const words = analyze(text);
  features.sync();
  let previousSeed = -1;
  for (const word of words) {
    if (word.term === null) {
      // A stopword breaks a pair: "walk in the park" should not pair "walk" with "park".
      previousSeed = -1;
      continue;
    }
    const start = features.startOf(word);
    // Read after startOf: learning a new word may have grown the array.
    const codes = features.codes;
    addCode(vector, codes[start], WORD_WEIGHT);
    if (previousSeed >= 0) addCode(vector, slotCode(hashString(word.term, previousSeed), dims), BIGRAM_WEIGHT);
    previousSeed = features.pairSeeds[word.id];
    const end = start + features.counts[word.id];
    for (let i = start + 1; i < end; i++) addCode(vector, codes[i], CHAR_GRAM_WEIGHT);
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += vector[i] * vector[i];
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) vector[i] *= scale;
  }
}

/**
 * The features of each distinct word, computed on first sight, by the word's vocabulary id:
 * words recur across memories (the same few thousand make up most notes), and a word's stem and
 * n-gram slots never change, so folding a large log hashes each word once instead of once per
 * occurrence. Codes (slot × 2 + sign) of all words share one growing Int32Array; codes[start] is
 * the word's stem, the rest its n-grams. Emptied when the vocabulary starts over (its ids restart).
 */
class WordFeatures {
  codes = new Int32Array(1 << 16);
  /** Per word id: start in codes + 1 (0: not worked out yet), code count, and the pair seed. */
  starts = new Int32Array(1024);
  counts = new Int32Array(1024);
  /** hashString(term, BIGRAM_SEED): the seed of the pair a word starts (non-negative). */
  pairSeeds = new Float64Array(1024);
  private used = 0;
  private generation = vocabularyGeneration();

  constructor(private readonly dims: number) {}

  /** Call after analyze(), before startOf: drops what belongs to an earlier generation. */
  sync(): void {
    const now = vocabularyGeneration();
    if (now === this.generation) return;
    this.generation = now;
    this.starts.fill(0);
    this.used = 0;
  }

  /** Where the codes of `word` (not a stopword) start, working them out on first sight. */
  startOf(word: Word): number {
    const id = word.id;
    if (id < this.starts.length && this.starts[id] !== 0) return this.starts[id] - 1;
    if (id >= this.starts.length) this.grow(id + 1);
    const text = word.text;
    const term = word.term as string;
    // Framed by boundary marks, the word has length + 2 characters; each start gives up to 3 n-grams.
    this.reserve(1 + 3 * (text.length + 2));
    const start = this.used;
    this.codes[this.used++] = slotCode(hashString(term, WORD_SEED), this.dims);
    this.addCharGrams(text);
    this.starts[id] = start + 1;
    this.counts[id] = this.used - start;
    this.pairSeeds[id] = hashString(term, BIGRAM_SEED);
    return start;
  }

  /** The n-grams of `^word^` in place, without building substrings. */
  private addCharGrams(word: string): void {
    const length = word.length + 2;
    for (let start = 0; start + CHAR_GRAM_MIN <= length; start++) {
      let hash = CHAR_SEED;
      for (let end = start; end < length && end - start < CHAR_GRAM_MAX; end++) {
        hash = Math.imul(hash ^ (end === 0 || end === length - 1 ? BOUNDARY : word.charCodeAt(end - 1)), 0x01000193);
        if (end - start + 1 >= CHAR_GRAM_MIN) this.codes[this.used++] = slotCode(hash, this.dims);
      }
    }
  }

  private grow(needed: number): void {
    let size = this.starts.length;
    while (size < needed) size *= 2;
    const starts = new Int32Array(size);
    starts.set(this.starts);
    this.starts = starts;
    const counts = new Int32Array(size);
    counts.set(this.counts);
    this.counts = counts;
    const pairSeeds = new Float64Array(size);
    pairSeeds.set(this.pairSeeds);
    this.pairSeeds = pairSeeds;
  }

  private reserve(more: number): void {
    if (this.used + more <= this.codes.length) return;
    const codes = new Int32Array(Math.max(2 * this.codes.length, this.used + more));
    codes.set(this.codes.subarray(0, this.used));
    this.codes = codes;
  }
}

/**
 * Signed feature hashing: the sign bit halves the bias that collisions would otherwise add. A
 * feature's code is its slot × 2, plus 1 when it adds (0 when it subtracts).
 */
function slotCode(hash: number, dims: number): number {
  const mixed = fmix32(hash);
  return ((mixed >>> 1) % dims) * 2 + (mixed & 1);
}

function addCode(vector: Float32Array, code: number, weight: number): void {
  // ±weight by arithmetic, not a branch: signs are coin flips, and a mispredicted branch per
  // feature cost more than the rest of the loop. The sum is the same to the bit (±1 × weight is exact).
  vector[code >> 1] += ((code & 1) * 2 - 1) * weight;
}

/** FNV-1a over UTF-16 code units, from a seed so callers can chain it. */
function hashString(text: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Murmur3's finaliser: spreads FNV's weak low bits before taking a slot. */
function fmix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
