// Prime's keyword index: BM25 over node text, kept exact and up to date one node at a time
// (add, replace, remove) as the projection folds events. Terms come from the shared tokenizer
// (stopwords out, Porter stems), so "painted" finds "painting". An index restored from a snapshot
// searches its restored terms in place (lexicalState.ts) and moves a term into its own map only
// when a change touches it.

import { Postings, PostingSlab } from './lexicalPostings.js';
import { FrozenTerms, mergeTerms, type Bm25Parameters, type LexicalState, type PostingRange } from './lexicalState.js';
import { analyze, vocabularyGeneration, type Word } from '../text/vocabulary.js';
import { terms } from './text.js';

export type { Bm25Parameters, LexicalState } from './lexicalState.js';

/*
 * BM25 parameters: the defaults are the short-passage setting popularised by Anserini's MS MARCO
 * baselines (k1 0.9, b 0.4) rather than the classic 1.2 / 0.75: memories are a sentence or two,
 * and a longer memory that mentions more things is not less about each of them.
 */

export const DEFAULT_BM25: Readonly<Bm25Parameters> = Object.freeze({ k1: 0.9, b: 0.4 });

/**
 * A term whose postings are at least this long gets a slot → position map once a search has had
 * to walk it for only a few documents (see search), and at most MAX_POSITION_MAPS terms hold one
 * (each is 4 bytes per slot): the oldest map is dropped when another is made.
 */
const LONG_POSTINGS = 1024;
const MAX_POSITION_MAPS = 32;
/** Documents with more words than this count their terms with a map (see add). */
const SCAN_DISTINCT = 64;
/** Documents before the index remembers each word's list by word id (see wordLists). */
const WORD_CACHE_MIN = 4096;

/** Terms added to a query (already index terms, e.g. from feedbackTerms), each counted once, while every word of the query itself counts queryWeight times. */
export interface QueryExpansion {
  terms: readonly string[];
  queryWeight: number;
}

export interface LexicalHit {
  id: string;
  score: number;
}

/**
 * Documents live in numbered slots so scoring accumulates into a typed array instead of a map;
 * a removed document's slot is reused by the next add.
 */
export class LexicalIndex {
  private readonly parameters: Bm25Parameters;
  /** Terms with postings of their own (an empty list shadows a frozen term that is gone). */
  private readonly postings = new Map<string, Postings>();
  /** The restored terms no change has touched yet (null: the index was never restored). */
  private frozen: FrozenTerms | null = null;
  /** Slot by document id; built on first need in a restored index (see slots()). */
  private slotOf: Map<string, number> | null = new Map();
  private documents = 0;
  private ids: Array<string | undefined> = [];
  /**
   * Each slot's distinct terms, as their postings, so a removal touches only those (and an export
   * finds each term's new index without a lookup). A restored slot's terms are frozen instead.
   */
  private slotTerms: Array<Postings[] | undefined> = [];
  private lengths = new Float64Array(64);
  private scores = new Float64Array(64);
  private touched = new Int32Array(64);
  private readonly freeSlots: number[] = [];
  private totalLength = 0;
  /** Where a new term's first posting goes (most terms of a large index have one document). */
  private readonly slab = new PostingSlab();
  /** Term counts of the document being added (see add). */
  private countScratch: number[] = [];
  /** Each word's own list by vocabulary id, once the index is large (see wordLists). */
  private byWord: Array<Postings | undefined> | null = null;
  private byWordGeneration = -1;
  /** Position maps in the order they were made, by term (own lists keep theirs up to date). */
  private readonly positionMaps = new Map<string, Int32Array>();

  constructor(parameters: Partial<Bm25Parameters> = {}) {
    this.parameters = { ...DEFAULT_BM25, ...parameters };
  }

  get size(): number {
    return this.documents;
  }

  has(id: string): boolean {
    return this.slots().has(id);
  }

  /** Indexes `text` under `id`, replacing whatever `id` held before. */
  add(id: string, text: string): void {
    this.remove(id);
    const words = analyze(text);
    const byWord = this.wordLists();
    const slot = this.freeSlots.pop() ?? this.ids.length;
    if (slot >= this.lengths.length) this.grow(slot + 1);
    this.ids[slot] = id;
    this.slots().set(id, slot);
    this.documents++;
    // The distinct terms in order of first occurrence, with their counts. A memory has a few
    // dozen words: finding a repeat by scanning the lists so far beats a map made per document.
    const lists: Postings[] = [];
    const counts = this.countScratch;
    const byList = words.length > SCAN_DISTINCT ? new Map<Postings, number>() : null;
    let length = 0;
    for (const word of words) {
      if (word.indexTerm === null) continue;
      length++;
      const list = byWord === null ? this.ownList(word.indexTerm) : this.listOfWord(byWord, word);
      let at = byList === null ? lists.indexOf(list) : (byList.get(list) ?? -1);
      if (at < 0) {
        at = lists.length;
        lists.push(list);
        byList?.set(list, at);
        counts[at] = 0;
      }
      counts[at]++;
    }
    for (let i = 0; i < lists.length; i++) lists[i].push(slot, counts[i]);
    this.slotTerms[slot] = lists;
    this.lengths[slot] = length;
    this.totalLength += length;
  }

  /** The word → list cache of a large index (null while small), emptied when the vocabulary starts over. */
  private wordLists(): Array<Postings | undefined> | null {
    if (this.documents < WORD_CACHE_MIN && this.byWord === null) return null;
    const generation = vocabularyGeneration();
    if (this.byWord === null || this.byWordGeneration !== generation) {
      this.byWord = [];
      this.byWordGeneration = generation;
    }
    return this.byWord;
  }

  /** ownList(word.indexTerm), remembered by word id: an array read instead of a map lookup per word. */
  private listOfWord(byWord: Array<Postings | undefined>, word: Word): Postings {
    const known = byWord[word.id];
    if (known !== undefined && !known.dropped) return known;
    const list = this.ownList(word.indexTerm as string);
    // Grown in one step and filled, so the array never turns into a dictionary.
    if (word.id >= byWord.length) {
      const from = byWord.length;
      byWord.length = Math.max(2 * from, word.id + 1, 1024);
      byWord.fill(undefined, from);
    }
    byWord[word.id] = list;
    return list;
  }

  /** Drops `id`; false when it was not indexed. */
  remove(id: string): boolean {
    const slotOf = this.slots();
    const slot = slotOf.get(id);
    if (slot === undefined) return false;
    const lists = this.slotTerms[slot] ?? Array.from(this.frozen?.termsOfSlot(slot) ?? [], (t) => this.ownList((this.frozen as FrozenTerms).termAt(t)));
    for (const list of lists) {
      list.delete(slot);
      // A frozen term keeps its (empty) entry, which hides the frozen postings from searches.
      if (list.length === 0 && (this.frozen === null || this.frozen.find(list.term) < 0)) {
        this.postings.delete(list.term);
        list.dropped = true;
        this.dropPositions(list.term);
      }
    }
    this.totalLength -= this.lengths[slot];
    this.lengths[slot] = 0;
    this.ids[slot] = undefined;
    this.slotTerms[slot] = undefined;
    slotOf.delete(id);
    this.documents--;
    this.freeSlots.push(slot);
    return true;
  }

  /** The postings of `term` to search, own or frozen (undefined when no document has it). */
  private list(term: string): PostingRange | undefined {
    const own = this.postings.get(term);
    if (own !== undefined) return own.length > 0 ? own : undefined;
    const at = this.frozen?.find(term) ?? -1;
    return at < 0 ? undefined : (this.frozen as FrozenTerms).postings(at);
  }

  /** The postings of `term` to change: its own entry, made (from the frozen one, if any) when missing. */
  private ownList(term: string): Postings {
    let list = this.postings.get(term);
    if (list === undefined) {
      const at = this.frozen?.find(term) ?? -1;
      if (at < 0) list = this.slab.start(term);
      else {
        const range = (this.frozen as FrozenTerms).postings(at);
        // The shared arrays hold the next term's postings past this range: no room to grow in place.
        list = new Postings(term, range.slots, range.tfs, range.start, range.length, range.length);
        // The frozen range's map no longer describes the term: the own list makes its own.
        this.positionMaps.delete(term);
      }
      this.postings.set(term, list);
    }
    return list;
  }

  private slots(): Map<string, number> {
    if (this.slotOf === null) {
      const slotOf = new Map<string, number>();
      this.ids.forEach((id, slot) => {
        if (id !== undefined) slotOf.set(id, slot);
      });
      this.slotOf = slotOf;
    }
    return this.slotOf;
  }

  /**
   * The `limit` best documents for `text` by BM25, best first (ties in slot order, so repeatable).
   * A query word repeated counts once per repetition; `accept` filters before ranking, so a
   * filtered search still returns `limit` hits when that many match; `expansion` adds terms.
   *
   * Terms are scored rarest first (term at a time), and a term can add at most its weight
   * (idf × (k1 + 1) × its count in the query) to a document. Once `limit` accepted documents
   * already score more than everything the remaining terms could add, a document none of the
   * terms so far matched cannot reach the top any more: the remaining terms (the common words,
   * with the longest postings) then only add to documents already in the running. The answer is
   * the same as scoring everything.
   */
  search(text: string, limit: number, accept?: (id: string) => boolean, expansion?: QueryExpansion): LexicalHit[] {
    const documents = this.documents;
    if (documents === 0 || limit <= 0) return [];
    const queryCounts = new Map<string, number>();
    const queryWeight = expansion?.queryWeight ?? 1;
    for (const term of terms(text)) queryCounts.set(term, (queryCounts.get(term) ?? 0) + queryWeight);
    for (const term of expansion?.terms ?? []) queryCounts.set(term, (queryCounts.get(term) ?? 0) + 1);
    const { k1, b } = this.parameters;
    const averageLength = Math.max(this.totalLength / documents, 1);
    const flat = k1 * (1 - b);
    const perLength = (k1 * b) / averageLength;
    const plan: Array<{ term: string; list: PostingRange; weight: number }> = [];
    for (const [term, queryCount] of queryCounts) {
      const list = this.list(term);
      if (list === undefined) continue;
      plan.push({ term, list, weight: this.idf(list.length) * queryCount * (k1 + 1) });
    }
    plan.sort((x, y) => y.weight - x.weight || x.list.length - y.list.length);
    let remaining = 0;
    for (const step of plan) remaining += step.weight;
    const scores = this.scores;
    const lengths = this.lengths;
    // Slots with a non-zero score, in a buffer reused across searches (no per-query garbage).
    const touched = this.touched;
    let touchedCount = 0;
    let admitting = true;
    for (let t = 0; t < plan.length; t++) {
      const { term, list, weight } = plan[t];
      const { slots, tfs, start } = list;
      const end = start + list.length;
      if (!admitting && list.length >= LONG_POSTINGS && list.length > 8 * touchedCount) {
        // Only the documents already in the running can gain: look each one up in this term's
        // postings instead of walking all of them (a common word's list is most of the index).
        const positions = this.positionsOf(term, list);
        for (let j = 0; j < touchedCount; j++) {
          const slot = touched[j];
          const at = slot < positions.length ? positions[slot] : -1;
          if (at < 0) continue;
          const tf = tfs[start + at];
          scores[slot] += (weight * tf) / (tf + flat + perLength * lengths[slot]);
        }
      } else if (admitting) {
        for (let i = start; i < end; i++) {
          const slot = slots[i];
          const tf = tfs[i];
          if (scores[slot] === 0) touched[touchedCount++] = slot;
          scores[slot] += (weight * tf) / (tf + flat + perLength * lengths[slot]);
        }
      } else {
        for (let i = start; i < end; i++) {
          const slot = slots[i];
          if (scores[slot] === 0) continue;
          const tf = tfs[i];
          scores[slot] += (weight * tf) / (tf + flat + perLength * lengths[slot]);
        }
      }
      remaining -= weight;
      // Worth checking only while the rest is long: then skipping new documents saves work.
      if (admitting && t + 1 < plan.length && touchedCount >= limit && plan[t + 1].list.length > touchedCount) {
        admitting = this.kthScore(touchedCount, limit, accept) <= remaining;
      }
    }
    const best = new TopK(limit);
    for (let i = 0; i < touchedCount; i++) {
      const slot = touched[i];
      const score = scores[slot];
      scores[slot] = 0;
      // The filter (a graph lookup for the tools) runs only for a document that would make the cut.
      if (!best.admits(slot, score)) continue;
      if (accept !== undefined && !accept(this.ids[slot] as string)) continue;
      best.offer(slot, score);
    }
    return best.sorted().map(({ slot, score }) => ({ id: this.ids[slot] as string, score }));
  }

  /**
   * Pseudo-relevance feedback: the `count` terms of the documents `ids` (the first pass's best) that
   * are not in `text` and are rarest overall (mean idf over those documents, so a term most of them
   * share comes first). Appending them to the query reaches memories that say the same thing in
   * the words of the best match rather than of the question.
   */
  feedbackTerms(ids: readonly string[], text: string, count: number): string[] {
    const documents = this.documents;
    if (count <= 0 || ids.length === 0 || documents === 0) return [];
    const asked = new Set(terms(text));
    const weight = new Map<string, number>();
    const slotOf = this.slots();
    for (const id of ids) {
      const slot = slotOf.get(id);
      if (slot === undefined) continue;
      for (const term of this.termsOf(slot)) {
        if (asked.has(term)) continue;
        const list = this.list(term);
        if (list === undefined) continue;
        weight.set(term, (weight.get(term) ?? 0) + this.idf(list.length) / ids.length);
      }
    }
    return [...weight]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, count)
      .map(([term]) => term);
  }

  /** Whether the text of `id` holds any of `wanted` (index terms). */
  hasAnyTerm(id: string, wanted: ReadonlySet<string>): boolean {
    const slot = this.slots().get(id);
    return slot !== undefined && this.termsOf(slot).some((term) => wanted.has(term));
  }

  /** BM25's inverse document frequency of a term found in `postings` documents. */
  private idf(postings: number): number {
    return Math.log(1 + (this.documents - postings + 0.5) / (postings + 0.5));
  }

  /** The distinct terms of a slot: its own lists, or its restored (frozen) term range. */
  private termsOf(slot: number): string[] {
    const own = this.slotTerms[slot];
    if (own !== undefined) return own.map((list) => list.term);
    const frozen = this.frozen;
    return frozen === null ? [] : Array.from(frozen.termsOfSlot(slot), (t) => frozen.termAt(t));
  }

  /**
   * Where each slot is in `list` (relative to its start; -1: absent), for a long list. An own list
   * keeps its map up to date as it changes; a frozen one never changes.
   */
  private positionsOf(term: string, list: PostingRange): Int32Array {
    const own = list instanceof Postings ? list : null;
    const known = own !== null ? own.positions : this.positionMaps.get(term);
    if (known !== undefined && known !== null) return known;
    const { slots, start, length } = list;
    let size = this.lengths.length;
    for (let i = 0; i < length; i++) size = Math.max(size, slots[start + i] + 1);
    const positions = new Int32Array(size).fill(-1);
    for (let i = 0; i < length; i++) positions[slots[start + i]] = i;
    if (own !== null) own.positions = positions;
    this.positionMaps.set(term, positions);
    if (this.positionMaps.size > MAX_POSITION_MAPS) {
      const [oldest] = this.positionMaps.keys();
      this.dropPositions(oldest);
    }
    return positions;
  }

  private dropPositions(term: string): void {
    this.positionMaps.delete(term);
    const own = this.postings.get(term);
    if (own !== undefined) own.positions = null;
  }

  /** The `limit`-th best partial score among the first `count` touched slots that `accept` takes (0 if fewer). */
  private kthScore(count: number, limit: number, accept?: (id: string) => boolean): number {
    const heap = new TopK(limit);
    for (let i = 0; i < count; i++) {
      const slot = this.touched[i];
      const score = this.scores[slot];
      if (!heap.admits(slot, score)) continue;
      if (accept !== undefined && !accept(this.ids[slot] as string)) continue;
      heap.offer(slot, score);
    }
    return heap.size < limit ? 0 : heap.minimum;
  }

  /** The state of the index, for a snapshot (fresh arrays: the index keeps changing). */
  exportState(): LexicalState {
    // Nothing changed since the restore: the frozen state is still exact (and is not copied).
    if (this.frozen !== null && this.postings.size === 0 && this.ids.length === this.frozen.state.slotTermStarts.length - 1) return { ...this.frozen.state, ids: this.ids.map((id) => id ?? null), lengths: this.lengths.slice(0, this.ids.length), freeSlots: this.freeSlots.slice(), totalLength: this.totalLength };
    const merged = mergeTerms(this.frozen, this.postings);
    const slots = this.ids.length;
    const slotTermStarts = new Uint32Array(slots + 1);
    // A restored slot's terms are a range of the frozen table (read in place: no view per slot).
    const frozenStarts = this.frozen?.state.slotTermStarts;
    const frozenIds = this.frozen?.state.slotTermIds;
    const frozenRange = (slot: number): [number, number] => (frozenStarts === undefined || slot + 1 >= frozenStarts.length ? [0, 0] : [frozenStarts[slot], frozenStarts[slot + 1]]);
    let total = 0;
    for (let slot = 0; slot < slots; slot++) {
      if (this.ids[slot] === undefined) continue;
      const own = this.slotTerms[slot];
      if (own !== undefined) total += own.length;
      else {
        const [from, to] = frozenRange(slot);
        total += to - from;
      }
    }
    const slotTermIds = new Uint32Array(total);
    let at = 0;
    for (let slot = 0; slot < slots; slot++) {
      slotTermStarts[slot] = at;
      if (this.ids[slot] === undefined) continue;
      const own = this.slotTerms[slot];
      if (own !== undefined) for (const list of own) slotTermIds[at++] = list.exportIndex;
      else {
        const [from, to] = frozenRange(slot);
        for (let k = from; k < to; k++) slotTermIds[at++] = merged.frozenIndex[(frozenIds as Uint32Array)[k]];
      }
    }
    slotTermStarts[slots] = at;
    return {
      parameters: { ...this.parameters },
      termText: merged.termText,
      termStarts: merged.termStarts,
      postingStarts: merged.postingStarts,
      postingSlots: merged.postingSlots,
      postingTfs: merged.postingTfs,
      slotTermStarts,
      slotTermIds,
      ids: this.ids.map((id) => id ?? null),
      lengths: this.lengths.slice(0, slots),
      freeSlots: this.freeSlots.slice(),
      totalLength: this.totalLength,
    };
  }

  /**
   * The index of `state`, which it adopts (the caller must not change it): its terms are
   * searched in place, and the slot of each id is looked up only when a change needs it.
   */
  static fromState(state: LexicalState): LexicalIndex {
    const index = new LexicalIndex(state.parameters);
    index.frozen = new FrozenTerms(state);
    const slots = state.ids.length;
    index.ids = state.ids.map((id) => id ?? undefined);
    for (const id of state.ids) if (id !== null) index.documents++;
    index.slotOf = null;
    index.grow(Math.max(slots, 64));
    index.lengths.set(state.lengths.subarray(0, slots));
    index.freeSlots.push(...state.freeSlots);
    index.totalLength = state.totalLength;
    return index;
  }

  private grow(needed: number): void {
    let capacity = this.lengths.length;
    while (capacity < needed) capacity *= 2;
    const lengths = new Float64Array(capacity);
    lengths.set(this.lengths);
    this.lengths = lengths;
    this.scores = new Float64Array(capacity);
    this.touched = new Int32Array(capacity);
  }
}

/** A bounded min-heap keeping the `limit` highest scores (lower slot wins a tie). */
class TopK {
  private readonly slots: number[] = [];
  private readonly values: number[] = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.slots.length;
  }

  /** The lowest score kept (the heap's root). */
  get minimum(): number {
    return this.values[0];
  }

  /** Whether (slot, score) would be kept by offer. */
  admits(slot: number, score: number): boolean {
    return this.slots.length < this.limit || this.better(slot, score, 0);
  }

  offer(slot: number, score: number): void {
    if (this.slots.length < this.limit) {
      this.slots.push(slot);
      this.values.push(score);
      this.up(this.slots.length - 1);
    } else if (this.better(slot, score, 0)) {
      this.slots[0] = slot;
      this.values[0] = score;
      this.down(0);
    }
  }

  sorted(): Array<{ slot: number; score: number }> {
    return this.slots
      .map((slot, i) => ({ slot, score: this.values[i] }))
      .sort((x, y) => y.score - x.score || x.slot - y.slot);
  }

  /** Whether (slot, score) ranks above the entry at heap index i. */
  private better(slot: number, score: number, i: number): boolean {
    return score > this.values[i] || (score === this.values[i] && slot < this.slots[i]);
  }

  private swap(i: number, j: number): void {
    [this.slots[i], this.slots[j]] = [this.slots[j], this.slots[i]];
    [this.values[i], this.values[j]] = [this.values[j], this.values[i]];
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.better(this.slots[parent], this.values[parent], i)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.slots.length;
    while (true) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < n && this.better(this.slots[worst], this.values[worst], left)) worst = left;
      if (right < n && this.better(this.slots[worst], this.values[worst], right)) worst = right;
      if (worst === i) break;
      this.swap(i, worst);
      i = worst;
    }
  }
}
