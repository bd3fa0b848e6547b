// The words of a text as interned records: each distinct word is looked up once per process
// (generation), with its stem and its recall index term (the stem of its verb base, or none for a
// stopword) worked out on first sight. Folding a large log tokenizes every memory twice (BM25 terms, then the offline
// embedder's features); with interning neither pass builds a substring or hashes a string for a
// word it has seen before, and both get the same term strings (whose hashes V8 then keeps), so
// the maps keyed by them stay cheap. The answers are exactly those of words(), stem() and
// verbBase().
// Plain-ASCII texts (the common case) are scanned by hand; any other text goes through words().

import { verbBase } from './lemmas.js';
import { STOPWORDS, stemUncached, words } from './words.js';

/** One distinct word. */
export interface Word {
  /** The word as words() gives it (lower-cased, apostrophes folded). */
  readonly text: string;
  /** Its Porter stem, or null for a stopword (the offline embedder's features). */
  readonly term: string | null;
  /**
   * Its term in recall's lexical index: the stem of its base form when it is an irregular verb
   * form ("chose" → "choos", as "choose" is), else `term`; null for a stopword.
   */
  readonly indexTerm: string | null;
  /** Dense number, unique within the current generation (see vocabularyGeneration). */
  readonly id: number;
}

/** Distinct words kept before the vocabulary starts over (ids restart, the generation moves on). */
const VOCABULARY_LIMIT = 65_536;
/** Same bound as words(): longer tokens are ids, hashes or URLs. */
const MAX_TOKEN_LENGTH = 40;
const APOSTROPHE = 0x27;
const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Character classes of ASCII code units, and their lower case. */
const OTHER = 0;
const DIGIT = 1;
const LETTER = 2;
const CLASS = new Uint8Array(128);
const LOWER = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const upper = c >= 0x41 && c <= 0x5a;
  CLASS[c] = upper || (c >= 0x61 && c <= 0x7a) ? LETTER : c >= 0x30 && c <= 0x39 ? DIGIT : OTHER;
  LOWER[c] = upper ? c + 0x20 : c;
}
/** Any code unit past ASCII (a text holding one goes through words()). */
const NON_ASCII = /[\u0080-\uffff]/;

let entries: Word[] = [];
let hashes = new Int32Array(1024);
/** Open addressing: id + 1 per cell, 0 when empty; at most half full. */
let table = new Int32Array(2048);
let generation = 0;
let lastText: string | undefined;
let lastWords: readonly Word[] = [];

/** Changes whenever ids restart: a cache indexed by Word.id must be emptied when it does. */
export function vocabularyGeneration(): number {
  return generation;
}

/**
 * The words of `text` in order, stopwords included, as words(text) gives them but interned. The
 * last text's answer is kept, as words() keeps its own, for the two passes of a fold.
 */
export function analyze(text: string): readonly Word[] {
  if (text === lastText) return lastWords;
  // Ids are consistent within one answer: the vocabulary only starts over between texts.
  if (entries.length >= VOCABULARY_LIMIT) reset();
  const out: Word[] = [];
  if (NON_ASCII.test(text)) for (const word of words(text)) out.push(internString(word));
  else scanAscii(text, out);
  lastText = text;
  lastWords = out;
  return out;
}

/**
 * words() on a plain-ASCII text without a regular expression: runs of letters and digits, each
 * followed by any number of (apostrophe, letters); tokens over 40 characters dropped. A word's
 * hash is taken as it is scanned, so a known word costs one pass over its characters and a
 * comparison.
 */
function scanAscii(text: string, out: Word[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (CLASS[c] === OTHER) {
      i++;
      continue;
    }
    const start = i;
    let hash = FNV_BASIS;
    while (true) {
      hash = Math.imul(hash ^ LOWER[c], FNV_PRIME);
      if (++i === n) break;
      c = text.charCodeAt(i);
      if (CLASS[c] === OTHER) break;
    }
    if (i + 1 < n && c === APOSTROPHE && CLASS[text.charCodeAt(i + 1)] === LETTER) {
      // Rare: an apostrophe and letters follow. Fold as words() does (a possessive names its
      // owner; other apostrophes go).
      while (i + 1 < n && text.charCodeAt(i) === APOSTROPHE && CLASS[text.charCodeAt(i + 1)] === LETTER) {
        i += 2;
        while (i < n && CLASS[text.charCodeAt(i)] === LETTER) i++;
      }
      if (i - start > MAX_TOKEN_LENGTH) continue;
      const word = text.slice(start, i).toLowerCase();
      out.push(internString(word.endsWith("'s") ? word.slice(0, -2) : word.replace(/'/g, '')));
      continue;
    }
    if (i - start > MAX_TOKEN_LENGTH) continue;
    out.push(internRange(text, start, i, hash));
  }
}

/** The word text[start, end) lower-cased (letters and digits only, `hash` taken over them), interned. */
function internRange(text: string, start: number, end: number, hash: number): Word {
  const length = end - start;
  const mask = table.length - 1;
  for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
    const at = table[cell] - 1;
    if (at < 0) return add(text.slice(start, end).toLowerCase(), hash, cell);
    if (hashes[at] !== hash) continue;
    const known = entries[at].text;
    if (known.length !== length) continue;
    let k = 0;
    while (k < length && known.charCodeAt(k) === LOWER[text.charCodeAt(start + k)]) k++;
    if (k === length) return entries[at];
  }
}

/** An already folded word, interned. */
function internString(word: string): Word {
  let hash = FNV_BASIS;
  for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), FNV_PRIME);
  const mask = table.length - 1;
  for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
    const at = table[cell] - 1;
    if (at < 0) return add(word, hash, cell);
    if (hashes[at] === hash && entries[at].text === word) return entries[at];
  }
}

function add(text: string, hash: number, cell: number): Word {
  const id = entries.length;
  const term = STOPWORDS.has(text) ? null : stemUncached(text);
  const base = term === null ? text : verbBase(text);
  const word: Word = { text, term, indexTerm: base === text ? term : stemUncached(base), id };
  entries.push(word);
  if (id >= hashes.length) {
    const grown = new Int32Array(2 * hashes.length);
    grown.set(hashes);
    hashes = grown;
  }
  hashes[id] = hash;
  table[cell] = id + 1;
  if (2 * entries.length > table.length) rehash(2 * table.length);
  return word;
}

function rehash(size: number): void {
  table = new Int32Array(size);
  const mask = size - 1;
  for (let id = 0; id < entries.length; id++) {
    let cell = hashes[id] & mask;
    while (table[cell] !== 0) cell = (cell + 1) & mask;
    table[cell] = id + 1;
  }
}

function reset(): void {
  entries = [];
  // The arrays keep their size: the next generation fills them as fast as this one did.
  table.fill(0);
  generation++;
  lastText = undefined;
  lastWords = [];
}
