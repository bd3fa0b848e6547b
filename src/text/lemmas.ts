// Irregular English verb forms mapped to their base form ("chose" → "choose", "bought" → "buy"),
// read from WordNet's verb exception list as the wink-lexicon package ships it. Porter stemming
// only strips suffixes, so it leaves "chose" and "choose" apart; a question asks "why did she
// choose it?" while the memory says "I chose them because…". Only the exception list is loaded
// (about 2,200 forms, ~100 KB), not a lemmatizer with its whole lexicon (~20 MB of heap), and only
// on first use. Like stemming it conflates without looking at the sentence ("left" → "leave",
// "found" → "find"): the same on both sides of a match, which is what recall needs.

import { createRequire } from 'node:module';

let exceptions: ReadonlyMap<string, string> | undefined;

function load(): ReadonlyMap<string, string> {
  const require = createRequire(import.meta.url);
  const table = require('wink-lexicon/src/wn-verb-exceptions.js') as Record<string, string>;
  const map = new Map<string, string>();
  for (const [form, base] of Object.entries(table)) {
    // Multi-word bases ("forbore" → "forbear" is fine; a few list phrasal forms) would not match a single word.
    if (typeof base === 'string' && /^[a-z]+$/.test(form) && /^[a-z]+$/.test(base)) map.set(form, base);
  }
  return map;
}

/** The base form of an irregular verb form (lower-case), else the word itself. */
export function verbBase(word: string): string {
  exceptions ??= load();
  return exceptions.get(word) ?? word;
}
