// The words of a text: one tokenizer shared by Prime's lexical index and the offline embedder, so
// a query and a memory that say the same thing in different inflections ("painted", "painting")
// meet on the same terms. English-centred (Porter stemming, an English stopword list); other
// scripts still tokenize into lower-cased words, just without stemming. A leaf module: it sits
// below both src/embed and src/prime and imports neither.

import { stemmer } from 'stemmer';
import { hasUnspaced, unspacedTokens } from './unspaced.js';

/** Runs of letters and digits; an apostrophe inside a word is kept so contractions stay whole. */
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

/** Longer tokens are ids, hashes or URLs: noise for ranking. */
const MAX_TOKEN_LENGTH = 40;

/**
 * Function words that carry no topic: matching them only rewards long memories. A classic
 * information-retrieval list plus conversational filler ("yeah", "gonna") that chat memories are
 * full of. Kept short on purpose: negations and question words an answer might echo
 * ("not", "never", "first", "last") stay searchable.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  `a about above after again against all am an and any are as at be because been before being below
  between both but by can could did do does doing down during each few for from further had has have
  having he her here hers herself him himself his how i if in into is it its itself just me more most
  my myself no nor of off on once only or other our ours ourselves out over own same she should so some
  such than that the their theirs them themselves then there these they this those through to too under
  until up very was we were what when where which while who whom why will with would you your yours
  yourself yourselves also ever got get gets getting let lets may might must shall us im ive id youre
  youve youll ill its thats theres whats hows theyre dont doesnt didnt isnt arent wasnt werent cant
  couldnt wont wouldnt shouldnt hasnt havent hadnt oh ok okay yeah yes yep hey hi hello wow um uh hmm
  really totally gonna wanna gotta kinda sorta lol haha thanks thank like well much many lot lots`
    .split(/\s+/)
    .filter((word) => word.length > 0),
);

/** Porter stems, memoized: the same few thousand words recur across every memory and query. */
const stemCache = new Map<string, string>();
const STEM_CACHE_LIMIT = 100_000;

export function stem(word: string): string {
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = stemUncached(word);
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

/** stem() without its cache, for a caller that keeps its own (src/text/vocabulary.ts). */
export function stemUncached(word: string): string {
  // Only plain ASCII words go through Porter; it would mangle other scripts.
  return word.length > 2 && /^[a-z]+$/.test(word) ? stemmer(word) : word;
}

/**
 * Lower-cased surface words, apostrophes folded away ("don't" → "dont", "Mel's" → "mel"), in
 * order, stopwords included. The raw material for both terms and character n-grams.
 */
export function words(text: string): readonly string[] {
  // Folding a node indexes its text twice in a row (BM25 terms, then the offline embedder's features).
  if (text === lastText) return lastWords;
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    let word = match[0];
    // A clause of Chinese or Japanese is one match: split it before the length check drops it.
    if (hasUnspaced(word)) {
      for (const token of unspacedTokens(word)) if (token.length <= MAX_TOKEN_LENGTH) out.push(token);
      continue;
    }
    if (word.length > MAX_TOKEN_LENGTH) continue;
    if (word.includes("'") || word.includes('’')) {
      // A possessive names its owner; any other contraction is spelled without its apostrophe.
      word = /['’]s$/.test(word) ? word.slice(0, -2) : word.replace(/['’]/g, '');
    }
    out.push(word);
  }
  lastText = text;
  lastWords = out;
  return out;
}

let lastText: string | undefined;
let lastWords: readonly string[] = [];
