// The index terms of a memory, as recall's lexical index sees them: the shared tokenizer's words
// (src/text/words.ts, also the offline embedder's) minus stopwords, Porter-stemmed. Words come
// interned (src/text/vocabulary.ts), so the same term is the same string wherever it occurs.

import { analyze } from '../text/vocabulary.js';

/** The index terms of a text: its words minus stopwords, Porter-stemmed, in order. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of analyze(text)) if (word.term !== null) out.push(word.term);
  return out;
}
