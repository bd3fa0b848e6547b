// The default embedder: offline, deterministic, no model. It hashes a text's features into a
// fixed-size vector (the "hashing trick"): stemmed words, adjacent word pairs, and character
// n-grams of each word, so near-spellings and inflections still overlap. It is honest about what
// it is — lexical — and earns its place in recall as a second, fuzzier view beside BM25.

import { STOPWORDS, stem, words } from '../text/words.js';
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
  const embedSync = (text: string): Float32Array => hashEmbed(text, dims);
  return {
    name: HASH_EMBEDDER_NAME,
    kind: 'lexical',
    dims,
    deterministic: true,
    embedSync,
    embed: async (texts) => texts.map(embedSync),
    describe: () => ({ ...info }),
  };
}

function hashEmbed(text: string, dims: number): Float32Array {
  const vector = new Float32Array(dims);
  let previous: string | undefined;
  for (const word of words(text)) {
    if (STOPWORDS.has(word)) {
      // A stopword breaks a pair: "walk in the park" should not pair "walk" with "park".
      previous = undefined;
      continue;
    }
    const term = stem(word);
    add(vector, hashString(term, WORD_SEED), WORD_WEIGHT);
    if (previous !== undefined) add(vector, hashString(term, hashString(previous, BIGRAM_SEED)), BIGRAM_WEIGHT);
    previous = term;
    addCharGrams(vector, word);
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += vector[i] * vector[i];
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) vector[i] *= scale;
  }
  return vector;
}

/** Hashes every n-gram of `^word^` in place, without building substrings (this is the hot loop). */
function addCharGrams(vector: Float32Array, word: string): void {
  const length = word.length + 2;
  const codeAt = (i: number): number => (i === 0 || i === length - 1 ? BOUNDARY : word.charCodeAt(i - 1));
  for (let start = 0; start + CHAR_GRAM_MIN <= length; start++) {
    let hash = CHAR_SEED;
    for (let end = start; end < length && end - start < CHAR_GRAM_MAX; end++) {
      hash = Math.imul(hash ^ codeAt(end), 0x01000193);
      if (end - start + 1 >= CHAR_GRAM_MIN) add(vector, hash, CHAR_GRAM_WEIGHT);
    }
  }
}

/** Signed feature hashing: the sign bit halves the bias that collisions would otherwise add. */
function add(vector: Float32Array, hash: number, weight: number): void {
  const mixed = fmix32(hash);
  vector[(mixed >>> 1) % vector.length] += mixed & 1 ? weight : -weight;
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
