// The index terms of a memory, as recall's lexical index sees them: the shared tokenizer's words
// (src/text/words.ts, also the offline embedder's) minus stopwords, Porter-stemmed.

import { STOPWORDS, stem, words } from '../text/words.js';

/** The index terms of a text: its words minus stopwords, Porter-stemmed, in order. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) if (!STOPWORDS.has(word)) out.push(stem(word));
  return out;
}
