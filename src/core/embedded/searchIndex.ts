// Full-text search over one tenant's payloads: an inverted index of the words in payload string
// and number values, scored with BM25. Built on a tenant's first search and then kept up to date
// as events are applied, so tenants that never search pay nothing.

import { hasUnspaced, unspacedTokens } from '../../text/unspaced.js';
import type { JsonValue } from '../types.js';

/** Words of at least one letter or digit, lower-cased; very long tokens are noise, not words. */
const WORD = /[\p{L}\p{N}]+/gu;
const MAX_TOKEN_LENGTH = 64;

/** BM25 parameters: the usual defaults (shared with PostgresCore, which ranks the same way). */
export const K1 = 1.2;
export const B = 0.75;

export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    // Chinese, Japanese or Thai run a clause together: index its characters and character pairs.
    if (hasUnspaced(match[0])) out.push(...unspacedTokens(match[0]).filter((token) => token.length <= MAX_TOKEN_LENGTH));
    else if (match[0].length <= MAX_TOKEN_LENGTH) out.push(match[0]);
  }
  return out;
}

function collectWords(value: JsonValue, out: string[]): void {
  if (typeof value === 'string') {
    for (const token of tokenize(value)) out.push(token);
  } else if (typeof value === 'number') {
    out.push(String(value));
  } else if (Array.isArray(value)) {
    for (const item of value) collectWords(item, out);
  } else if (value !== null && typeof value === 'object') {
    for (const key in value) collectWords(value[key], out);
  }
}

/** The words of a payload's string and number values, in order, as the index counts them. */
export function payloadWords(payload: JsonValue): string[] {
  const words: string[] = [];
  collectWords(payload, words);
  return words;
}

/** One term's postings: rows of the tenant's table (in position order) and the term's count in each. */
interface Postings {
  rows: number[];
  counts: number[];
}

/** A scored row of the tenant's table; `position` breaks ties and orders cursors. */
export interface ScoredRow {
  row: number;
  position: number;
  score: number;
}

export class SearchIndex {
  private readonly postings = new Map<string, Postings>();
  /** Word count of each indexed row. */
  private readonly lengths = new Map<number, number>();
  /** Positions of the indexed events, and the running total of their lengths, for stats as of a cut. */
  private readonly positions: number[] = [];
  private readonly lengthTotals: number[] = [];

  /** `rowPositions[row]` is the position of a row of the tenant's table (the table's own column). */
  constructor(private readonly rowPositions: readonly number[]) {}

  /** Indexes one row's payload (call in position order). */
  add(row: number, payload: JsonValue): void {
    const words = payloadWords(payload);
    this.lengths.set(row, words.length);
    this.positions.push(this.rowPositions[row]);
    this.lengthTotals.push((this.lengthTotals.at(-1) ?? 0) + words.length);
    const counts = new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    for (const [word, count] of counts) {
      let list = this.postings.get(word);
      if (list === undefined) this.postings.set(word, (list = { rows: [], counts: [] }));
      list.rows.push(row);
      list.counts.push(count);
    }
  }

  /**
   * Scores every row recorded at or before `cutPosition` that contains at least one query word
   * and passes `accept`. Document frequencies count only events up to the cut, so a ranking taken
   * at a cut does not shift when later events arrive.
   */
  score(query: string, cutPosition: number, accept: (row: number) => boolean): ScoredRow[] {
    const terms = [...new Set(tokenize(query))];
    const documents = countPositionsAtOrBefore(this.positions, cutPosition);
    const averageLength = documents === 0 ? 1 : Math.max(this.lengthTotals[documents - 1] / documents, 1);
    const scores = new Map<number, number>();
    for (const term of terms) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      const upTo = this.countRowsAtOrBefore(list.rows, cutPosition);
      if (upTo === 0) continue;
      const idf = Math.log(1 + (documents - upTo + 0.5) / (upTo + 0.5));
      for (let i = 0; i < upTo; i++) {
        const row = list.rows[i];
        if (!accept(row)) continue;
        const tf = list.counts[i];
        const length = this.lengths.get(row) ?? averageLength;
        const part = (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / averageLength));
        scores.set(row, (scores.get(row) ?? 0) + part);
      }
    }
    const ranked: ScoredRow[] = [];
    for (const [row, score] of scores) ranked.push({ row, position: this.rowPositions[row], score });
    ranked.sort(compareRanked);
    return ranked;
  }

  private countRowsAtOrBefore(rows: readonly number[], position: number): number {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rowPositions[rows[mid]] <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Best first; equal scores newest first, so the order is total and stable across pages. */
export function compareRanked(a: { position: number; score: number }, b: { position: number; score: number }): number {
  return b.score - a.score || b.position - a.position;
}

function countPositionsAtOrBefore(positions: readonly number[], position: number): number {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid] <= position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
