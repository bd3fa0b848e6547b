// One term's postings in Prime's BM25 index (lexical.ts), and the slab new terms start in. Most
// terms of a large index occur in one document (ids, numbers, names), so a term's first posting
// goes into a cell of a shared slab instead of arrays of its own: a fold of 100k memories then
// makes two typed arrays per slab chunk rather than two per distinct term, and the collector
// has that much less to move. A second posting moves the list into arrays of its own.

/** Cells per slab chunk (a full chunk is left to the lists in it; a new one is made). */
const SLAB_CHUNK = 16_384;

/**
 * One term's postings as parallel typed arrays (slot, term frequency), unordered: scoring walks
 * them without allocating, and a removal swaps the last entry into the hole. They occupy
 * [start, start + length) of their arrays, and may grow in place up to start + room: all of
 * their own arrays; one slab cell; or, after a restore, their range of arrays shared by every
 * term (never past it). Growing past the room moves them into arrays of their own.
 */
export class Postings {
  /** The term's index in the last export (set by mergeTerms). */
  exportIndex = -1;
  /** Slot → position (relative to start), or null; kept up to date by push and delete while present. */
  positions: Int32Array | null = null;
  /** Set when the index lets go of the list (its last document left): a cache of lists must not use it again. */
  dropped = false;
  /** Cells from start this list may write in its current arrays. */
  private room: number;

  constructor(
    readonly term: string,
    public slots: Int32Array = new Int32Array(4),
    public tfs: Float32Array = new Float32Array(4),
    public start = 0,
    public length = 0,
    room = slots.length - start,
  ) {
    this.room = room;
  }

  push(slot: number, tf: number): void {
    if (this.length >= this.room) {
      const capacity = Math.max(4, this.length * 2);
      const slots = new Int32Array(capacity);
      slots.set(this.slots.subarray(this.start, this.start + this.length));
      this.slots = slots;
      const tfs = new Float32Array(capacity);
      tfs.set(this.tfs.subarray(this.start, this.start + this.length));
      this.tfs = tfs;
      this.start = 0;
      this.room = capacity;
    }
    this.slots[this.start + this.length] = slot;
    this.tfs[this.start + this.length] = tf;
    if (this.positions !== null) {
      if (slot >= this.positions.length) {
        const grown = new Int32Array(Math.max(slot + 1, 2 * this.positions.length)).fill(-1);
        grown.set(this.positions);
        this.positions = grown;
      }
      this.positions[slot] = this.length;
    }
    this.length++;
  }

  delete(slot: number): void {
    const end = this.start + this.length;
    let i: number;
    if (this.positions !== null) {
      const at = slot < this.positions.length ? this.positions[slot] : -1;
      if (at < 0) return;
      i = this.start + at;
    } else {
      i = this.start;
      while (i < end && this.slots[i] !== slot) i++;
      if (i === end) return;
    }
    this.length--;
    const moved = this.slots[end - 1];
    this.slots[i] = moved;
    this.tfs[i] = this.tfs[end - 1];
    if (this.positions !== null) {
      this.positions[moved] = i - this.start;
      this.positions[slot] = -1;
    }
  }
}

/** Hands out one-cell rooms for new terms, a chunk at a time. */
export class PostingSlab {
  private slots = new Int32Array(0);
  private tfs = new Float32Array(0);
  private used = 0;

  /** An empty list for a new term, with room for one posting in the slab. */
  start(term: string): Postings {
    if (this.used === this.slots.length) {
      this.slots = new Int32Array(SLAB_CHUNK);
      this.tfs = new Float32Array(SLAB_CHUNK);
      this.used = 0;
    }
    return new Postings(term, this.slots, this.tfs, this.used++, 0, 1);
  }
}
