// Words of scripts written without spaces. Chinese, Japanese, Thai and their neighbours run a
// whole clause together, so a tokenizer that splits on spaces and punctuation makes one "word"
// of a sentence and a query for any word inside it finds nothing. Such runs are indexed as their
// overlapping character pairs, a lone character as itself (the CJK bigram scheme of Lucene and
// most search engines): "我住在北京" holds 北京, so a query 北京 or 北京市 meets it, with no
// dictionary and no model. Single characters are not indexed inside longer runs: 京 alone would
// make 東京 match a query for 北京.
// A leaf module: both tokenizers (Prime's and the event search's) use it.

/** The scripts written without spaces between words, as a regular expression class body. */
const SCRIPTS = ['Han', 'Hiragana', 'Katakana', 'Thai', 'Lao', 'Khmer', 'Myanmar'].map((script) => `\\p{Script=${script}}`).join('');
/** A character of one of them. */
const UNSPACED = new RegExp(`[${SCRIPTS}]`, 'u');
/** Runs of them (with the katakana length mark ー, which is of the Common script), and runs of anything else. */
const UNSPACED_RUNS = new RegExp(`[${SCRIPTS}\\u30fc]+|[^${SCRIPTS}\\u30fc]+`, 'gu');

/** True when `token` holds any character of an unspaced script (the common case is a fast false). */
export function hasUnspaced(token: string): boolean {
  return UNSPACED.test(token);
}

/**
 * The index tokens of one tokenizer word that holds unspaced characters: other parts stay whole
 * ("iphone" in "iphone手机"), each unspaced run gives its character pairs (or its one character).
 */
export function unspacedTokens(token: string): string[] {
  const out: string[] = [];
  for (const part of token.match(UNSPACED_RUNS) ?? []) {
    if (!UNSPACED.test(part)) {
      out.push(part);
      continue;
    }
    const chars = [...part];
    if (chars.length === 1) out.push(part);
    for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  }
  return out;
}
