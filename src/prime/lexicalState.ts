// The lexical index as a snapshot carries it, and the read-only form a restored index searches
// until its terms change. A restored index does not rebuild a map of its (often 100k+) terms: the
// vocabulary stays one sorted string with offsets, searched by binary search, and each term's
// postings stay a range of two shared arrays. Only terms touched after the restore move into the
// index's own map, which shadows the frozen entry of the same term.

export interface Bm25Parameters {
  /** Term-frequency saturation (default 0.9). */
  k1: number;
  /** Length normalisation, 0 = none, 1 = full (default 0.4). */
  b: number;
}

/**
 * An index as plain data. Terms are sorted by UTF-16 code units and stored back to back; term t
 * is termText[termStarts[t] … termStarts[t+1]) and its postings (slot, term frequency) are
 * postingSlots/postingTfs[postingStarts[t] … postingStarts[t+1]). Slot s holds document ids[s]
 * (null: a free slot) of lengths[s] terms, whose distinct terms are
 * slotTermIds[slotTermStarts[s] … slotTermStarts[s+1]). Slots and free slots are kept as they are,
 * so a restored index breaks ties (by slot) exactly as the one it was taken from.
 */
export interface LexicalState {
  parameters: Bm25Parameters;
  termText: string;
  termStarts: Uint32Array;
  postingStarts: Uint32Array;
  postingSlots: Int32Array;
  postingTfs: Float32Array;
  slotTermStarts: Uint32Array;
  slotTermIds: Uint32Array;
  ids: Array<string | null>;
  lengths: Float64Array;
  freeSlots: number[];
  totalLength: number;
}

/** One term's postings: a range of shared arrays, or arrays of its own. */
export interface PostingRange {
  slots: Int32Array;
  tfs: Float32Array;
  start: number;
  length: number;
}

/** The terms and postings of a restored index, read-only. */
export class FrozenTerms {
  constructor(readonly state: LexicalState) {}

  get count(): number {
    return this.state.termStarts.length - 1;
  }

  /** The index of `term`, or -1. */
  find(term: string): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const order = this.compare(term, mid);
      if (order === 0) return mid;
      if (order < 0) high = mid - 1;
      else low = mid + 1;
    }
    return -1;
  }

  /** `term` against term `i`, by UTF-16 code units (as `<` orders strings): negative, 0 or positive. */
  compare(term: string, i: number): number {
    const { termText, termStarts } = this.state;
    const start = termStarts[i];
    const length = termStarts[i + 1] - start;
    const shared = Math.min(term.length, length);
    for (let k = 0; k < shared; k++) {
      const difference = term.charCodeAt(k) - termText.charCodeAt(start + k);
      if (difference !== 0) return difference;
    }
    return term.length - length;
  }

  termAt(i: number): string {
    const { termText, termStarts } = this.state;
    return termText.slice(termStarts[i], termStarts[i + 1]);
  }

  postings(i: number): PostingRange {
    const { postingSlots, postingTfs, postingStarts } = this.state;
    return { slots: postingSlots, tfs: postingTfs, start: postingStarts[i], length: postingStarts[i + 1] - postingStarts[i] };
  }

  /** The term indices of slot `slot` as restored (empty past the restored slots). */
  termsOfSlot(slot: number): Uint32Array {
    const { slotTermStarts, slotTermIds } = this.state;
    if (slot + 1 >= slotTermStarts.length) return new Uint32Array(0);
    return slotTermIds.subarray(slotTermStarts[slot], slotTermStarts[slot + 1]);
  }
}

/**
 * Merges the frozen terms (if any) with the live ones (which win where both have a term) into
 * one sorted vocabulary with postings back to back. Returns it with each frozen term's new index
 * (-1 when it is gone); each live term's is set on its postings (exportIndex, -1 when empty).
 */
export function mergeTerms(
  frozen: FrozenTerms | null,
  live: ReadonlyMap<string, PostingRange & { exportIndex: number }>,
): { termText: string; termStarts: Uint32Array; postingStarts: Uint32Array; postingSlots: Int32Array; postingTfs: Float32Array; frozenIndex: Int32Array } {
  const liveTerms = [...live.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const frozenCount = frozen?.count ?? 0;
  let capacity = frozen === null ? 0 : frozen.state.postingSlots.length;
  for (const list of live.values()) capacity += list.length;
  const termStarts = new Uint32Array(frozenCount + liveTerms.length + 1);
  const postingStarts = new Uint32Array(frozenCount + liveTerms.length + 1);
  const postingSlots = new Int32Array(capacity);
  const postingTfs = new Float32Array(capacity);
  const frozenIndex = new Int32Array(frozenCount).fill(-1);
  const text: string[] = [];
  let textLength = 0;
  let terms = 0;
  let postings = 0;
  const emit = (term: string, list: PostingRange): number => {
    termStarts[terms] = textLength;
    postingStarts[terms] = postings;
    text.push(term);
    textLength += term.length;
    // Element by element: most terms have a posting or two, and a view per term would cost more.
    const { slots, tfs, start, length } = list;
    for (let k = 0; k < length; k++) {
      postingSlots[postings + k] = slots[start + k];
      postingTfs[postings + k] = tfs[start + k];
    }
    postings += length;
    return terms++;
  };
  // Frozen terms between live ones are copied a run at a time (one slice of text, one of postings).
  let runStart = 0;
  const flush = (runEnd: number): void => {
    if (frozen === null || runEnd <= runStart) return;
    const s = frozen.state;
    const textFrom = s.termStarts[runStart];
    const postingsFrom = s.postingStarts[runStart];
    for (let i = runStart; i < runEnd; i++) {
      termStarts[terms] = textLength + (s.termStarts[i] - textFrom);
      postingStarts[terms] = postings + (s.postingStarts[i] - postingsFrom);
      frozenIndex[i] = terms++;
    }
    text.push(s.termText.slice(textFrom, s.termStarts[runEnd]));
    textLength += s.termStarts[runEnd] - textFrom;
    const postingsTo = s.postingStarts[runEnd];
    postingSlots.set(s.postingSlots.subarray(postingsFrom, postingsTo), postings);
    postingTfs.set(s.postingTfs.subarray(postingsFrom, postingsTo), postings);
    postings += postingsTo - postingsFrom;
  };
  let i = 0;
  for (const term of liveTerms) {
    // Frozen terms before this live one go out as they are.
    let order = 1;
    while (i < frozenCount && (order = (frozen as FrozenTerms).compare(term, i)) > 0) i++;
    flush(i);
    const list = live.get(term) as PostingRange & { exportIndex: number };
    const index = list.length > 0 ? emit(term, list) : -1;
    list.exportIndex = index;
    if (i < frozenCount && order === 0) {
      // The live entry shadows the frozen one of the same term.
      frozenIndex[i] = index;
      i++;
    }
    runStart = i;
  }
  flush(frozenCount);
  termStarts[terms] = textLength;
  postingStarts[terms] = postings;
  return {
    termText: text.join(''),
    termStarts: termStarts.slice(0, terms + 1),
    postingStarts: postingStarts.slice(0, terms + 1),
    postingSlots: postingSlots.slice(0, postings),
    postingTfs: postingTfs.slice(0, postings),
    frozenIndex,
  };
}
