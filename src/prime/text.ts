// The index terms of a memory, as recall's lexical index sees them: the shared tokenizer's words
// (src/text/words.ts, also the offline embedder's) minus stopwords, irregular verb forms brought
// to their base (src/text/lemmas.ts), Porter-stemmed. The embedder reads words(), not terms(), so
// its vectors do not depend on the lemmas.

import { verbBase } from '../text/lemmas.js';
import { STOPWORDS, stem, words } from '../text/words.js';

/** The index terms of a text: its words minus stopwords, irregular verbs at their base, Porter-stemmed, in order. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) if (!STOPWORDS.has(word)) out.push(stem(verbBase(word)));
  return out;
}
