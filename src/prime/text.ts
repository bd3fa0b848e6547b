// The index terms of a memory, as recall's lexical index sees them: the shared tokenizer's words
// (src/text/words.ts, also the offline embedder's) minus stopwords, irregular verb forms brought
// to their base (src/text/lemmas.ts), Porter-stemmed. Words come interned (src/text/vocabulary.ts),
// so the same term is the same string wherever it occurs. The embedder reads each word's plain
// stem, not its index term, so its vectors do not depend on the lemmas.

import { analyze } from '../text/vocabulary.js';

/** The index terms of a text: its words minus stopwords, irregular verbs at their base, Porter-stemmed, in order. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of analyze(text)) if (word.indexTerm !== null) out.push(word.indexTerm);
  return out;
}
