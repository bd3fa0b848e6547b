// Prime's keyword index: BM25 over node text, kept exact and up to date one node at a time
// (add, replace, remove) as the projection folds events. Terms come from the shared tokenizer
// (stopwords out, Porter stems), so "painted" finds "painting".

import { terms } from './text.js';

/**
 * BM25 parameters. The defaults are the short-passage setting popularised by Anserini's MS MARCO
 * baselines (k1 0.9, b 0.4) rather than the classic 1.2 / 0.75: memories are a sentence or two,
 * and a longer memory that mentions more things is not less about each of them.
 */
export interface Bm25Parameters {
  /** Term-frequency saturation (default 0.9). */
  k1: number;
  /** Length normalisation, 0 = none, 1 = full (default 0.4). */
  b: number;
}

export const DEFAULT_BM25: Readonly<Bm25Parameters> = Object.freeze({ k1: 0.9, b: 0.4 });

export interface LexicalHit {
  id: string;
  score: number;
}

/**
 * An index as a snapshot carries it: the vocabulary, every term's postings back to back (slot and
 * term frequency), and per slot its id and length. Slots and free slots are kept as they are, so a
 * restored index breaks ties (by slot) exactly as the one it was taken from.
 */
export interface LexicalState {
  parameters: Bm25Parameters;
  terms: string[];
  /** Postings per term, in `terms` order. */
  postingCounts: Uint32Array;
  postingSlots: Int32Array;
  postingTfs: Float32Array;
  /** Per slot, its document id or null (a free slot). */
  ids: Array<string | null>;
  /** Per slot, its length in terms. */
  lengths: Float64Array;
  freeSlots: number[];
  totalLength: number;
}

/**
 * Documents live in numbered slots so scoring accumulates into a typed array instead of a map;
 * a removed document's slot is reused by the next add.
 */
export class LexicalIndex {
  private readonly parameters: Bm25Parameters;
  private readonly postings = new Map<string, Postings>();
  private readonly slotOf = new Map<string, number>();
  private ids: Array<string | undefined> = [];
  /**
   * Each slot's distinct terms, so a removal touches only its own postings. Null in an index
   * restored from a snapshot until its first removal: it is derived from the postings then.
   */
  private slotTerms: Array<string[] | undefined> | null = [];
  private lengths = new Float64Array(64);
  private scores = new Float64Array(64);
  private touched = new Int32Array(64);
  private readonly freeSlots: number[] = [];
  private totalLength = 0;

  constructor(parameters: Partial<Bm25Parameters> = {}) {
    this.parameters = { ...DEFAULT_BM25, ...parameters };
  }

  get size(): number {
    return this.slotOf.size;
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  /** Indexes `text` under `id`, replacing whatever `id` held before. */
  add(id: string, text: string): void {
    this.remove(id);
    const tokens = terms(text);
    const counts = new Map<string, number>();
    for (const term of tokens) counts.set(term, (counts.get(term) ?? 0) + 1);
    const slot = this.freeSlots.pop() ?? this.ids.length;
    if (slot >= this.lengths.length) this.grow(slot + 1);
    this.ids[slot] = id;
    this.slotOf.set(id, slot);
    if (this.slotTerms !== null) this.slotTerms[slot] = [...counts.keys()];
    this.lengths[slot] = tokens.length;
    this.totalLength += tokens.length;
    for (const [term, count] of counts) {
      let list = this.postings.get(term);
      if (list === undefined) this.postings.set(term, (list = new Postings()));
      list.push(slot, count);
    }
  }

  /** Drops `id`; false when it was not indexed. */
  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    const slotTerms = this.termsBySlot();
    for (const term of slotTerms[slot] ?? []) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      list.delete(slot);
      if (list.length === 0) this.postings.delete(term);
    }
    this.totalLength -= this.lengths[slot];
    this.lengths[slot] = 0;
    this.ids[slot] = undefined;
    slotTerms[slot] = undefined;
    this.slotOf.delete(id);
    this.freeSlots.push(slot);
    return true;
  }

  /**
   * The `limit` best documents for `text` by BM25, best first (ties in slot order, so repeatable).
   * A query word repeated counts once per repetition; `accept` filters before ranking, so a
   * filtered search still returns `limit` hits when that many match.
   *
   * Terms are scored rarest first (term at a time), and a term can add at most its weight
   * (idf × (k1 + 1) × its count in the query) to a document. Once `limit` accepted documents
   * already score more than everything the remaining terms could add, a document none of the
   * terms so far matched cannot reach the top any more: the remaining terms (the common words,
   * with the longest postings) then only add to documents already in the running. The answer is
   * the same as scoring everything.
   */
  search(text: string, limit: number, accept?: (id: string) => boolean): LexicalHit[] {
    const documents = this.slotOf.size;
    if (documents === 0 || limit <= 0) return [];
    const queryCounts = new Map<string, number>();
    for (const term of terms(text)) queryCounts.set(term, (queryCounts.get(term) ?? 0) + 1);
    const { k1, b } = this.parameters;
    const averageLength = Math.max(this.totalLength / documents, 1);
    const flat = k1 * (1 - b);
    const perLength = (k1 * b) / averageLength;
    const plan: Array<{ list: Postings; weight: number }> = [];
    for (const [term, queryCount] of queryCounts) {
      const list = this.postings.get(term);
      if (list === undefined) continue;
      const idf = Math.log(1 + (documents - list.length + 0.5) / (list.length + 0.5));
      plan.push({ list, weight: idf * queryCount * (k1 + 1) });
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
      const { list, weight } = plan[t];
      const { slots, tfs, length } = list;
      if (admitting) {
        for (let i = 0; i < length; i++) {
          const slot = slots[i];
          const tf = tfs[i];
          if (scores[slot] === 0) touched[touchedCount++] = slot;
          scores[slot] += (weight * tf) / (tf + flat + perLength * lengths[slot]);
        }
      } else {
        for (let i = 0; i < length; i++) {
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
      const id = this.ids[slot] as string;
      if (accept !== undefined && !accept(id)) continue;
      best.offer(slot, score);
    }
    return best.sorted().map(({ slot, score }) => ({ id: this.ids[slot] as string, score }));
  }

  /** The `limit`-th best partial score among the first `count` touched slots that `accept` takes (0 if fewer). */
  private kthScore(count: number, limit: number, accept?: (id: string) => boolean): number {
    const heap = new TopK(limit);
    for (let i = 0; i < count; i++) {
      const slot = this.touched[i];
      if (accept !== undefined && !accept(this.ids[slot] as string)) continue;
      heap.offer(slot, this.scores[slot]);
    }
    return heap.size < limit ? 0 : heap.minimum;
  }

  /** The state of the index, for a snapshot (copies: the index keeps changing). */
  exportState(): LexicalState {
    const terms: string[] = [];
    const postingCounts = new Uint32Array(this.postings.size);
    let total = 0;
    for (const list of this.postings.values()) total += list.length;
    const postingSlots = new Int32Array(total);
    const postingTfs = new Float32Array(total);
    let at = 0;
    for (const [term, list] of this.postings) {
      postingCounts[terms.length] = list.length;
      terms.push(term);
      postingSlots.set(list.slots.subarray(0, list.length), at);
      postingTfs.set(list.tfs.subarray(0, list.length), at);
      at += list.length;
    }
    const slots = this.ids.length;
    return {
      parameters: { ...this.parameters },
      terms,
      postingCounts,
      postingSlots,
      postingTfs,
      ids: this.ids.map((id) => id ?? null),
      lengths: this.lengths.slice(0, slots),
      freeSlots: this.freeSlots.slice(),
      totalLength: this.totalLength,
    };
  }

  /**
   * The index of `state` (whose arrays it adopts: the caller must not change them). Each term's
   * postings are views into the state's arrays until they outgrow them, so restoring copies no
   * posting; the per-slot term lists are derived on the first removal instead of now.
   */
  static fromState(state: LexicalState): LexicalIndex {
    const index = new LexicalIndex(state.parameters);
    let at = 0;
    for (let t = 0; t < state.terms.length; t++) {
      const count = state.postingCounts[t];
      index.postings.set(state.terms[t], Postings.over(state.postingSlots.subarray(at, at + count), state.postingTfs.subarray(at, at + count)));
      at += count;
    }
    const slots = state.ids.length;
    index.ids = state.ids.map((id) => id ?? undefined);
    for (let slot = 0; slot < slots; slot++) {
      const id = state.ids[slot];
      if (id !== null) index.slotOf.set(id, slot);
    }
    index.grow(Math.max(slots, 64));
    index.lengths.set(state.lengths.subarray(0, slots));
    index.freeSlots.push(...state.freeSlots);
    index.totalLength = state.totalLength;
    index.slotTerms = null;
    return index;
  }

  /** Each slot's terms, derived from the postings when the index was restored from a snapshot. */
  private termsBySlot(): Array<string[] | undefined> {
    if (this.slotTerms !== null) return this.slotTerms;
    const slotTerms: Array<string[] | undefined> = new Array<string[] | undefined>(this.ids.length);
    for (const [term, list] of this.postings) {
      for (let i = 0; i < list.length; i++) {
        const slot = list.slots[i];
        (slotTerms[slot] ??= []).push(term);
      }
    }
    this.slotTerms = slotTerms;
    return slotTerms;
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

/**
 * One term's postings as parallel typed arrays (slot, term frequency), unordered: scoring walks
 * them without allocating, and a removal swaps the last entry into the hole.
 */
class Postings {
  slots: Int32Array = new Int32Array(4);
  tfs: Float32Array = new Float32Array(4);
  length = 0;

  /** Postings held in these (full) arrays; the next push moves them to arrays of their own. */
  static over(slots: Int32Array, tfs: Float32Array): Postings {
    const list = new Postings();
    list.slots = slots;
    list.tfs = tfs;
    list.length = slots.length;
    return list;
  }

  push(slot: number, tf: number): void {
    if (this.length === this.slots.length) {
      const slots = new Int32Array(this.length * 2);
      slots.set(this.slots);
      this.slots = slots;
      const tfs = new Float32Array(this.length * 2);
      tfs.set(this.tfs);
      this.tfs = tfs;
    }
    this.slots[this.length] = slot;
    this.tfs[this.length] = tf;
    this.length++;
  }

  delete(slot: number): void {
    const i = this.slots.subarray(0, this.length).indexOf(slot);
    if (i < 0) return;
    this.length--;
    this.slots[i] = this.slots[this.length];
    this.tfs[i] = this.tfs[this.length];
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
