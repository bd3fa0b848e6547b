// PostgreSQL's binary array format, for the columns of a batch sent as unnest() parameters. The
// pg driver sends a Buffer parameter in binary, so the server reads each element with its type's
// receive function instead of parsing array and tsvector literals, and the client copies bytes
// instead of quoting and escaping every element (which cost more than the rest of an append's JS).

/** Element type OIDs (pg_type): array_recv refuses an array whose header names another type. */
const OID = { bool: 16, int8: 20, int4: 23, text: 25, tsvector: 3614 } as const;

const TWO_32 = 4294967296;

/**
 * Writes one one-dimensional array: header, then each element as a length-prefixed value. The
 * buffer grows by doubling; callers reserve an element's worst case before writing it.
 */
class ArrayWriter {
  private buf: Buffer;
  private at = 0;
  private hasNull = false;

  constructor(elementOid: number, count: number, bytesHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, 20 + bytesHint));
    // ndim (0 for an empty array, which then has no dimension entries), has-null flag, element type.
    this.int32(count === 0 ? 0 : 1);
    this.int32(0);
    this.int32(elementOid);
    if (count > 0) {
      this.int32(count);
      this.int32(1); // lower bound
    }
  }

  reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  int32(value: number): void {
    this.reserve(4);
    this.buf.writeInt32BE(value, this.at);
    this.at += 4;
  }

  uint16(value: number): void {
    this.reserve(2);
    this.buf.writeUInt16BE(value, this.at);
    this.at += 2;
  }

  /** A safe integer as a big-endian int64 (two's complement, so negative instants work too). */
  int64(value: number): void {
    this.reserve(8);
    const high = Math.floor(value / TWO_32);
    this.buf.writeInt32BE(high, this.at);
    this.buf.writeUInt32BE(value - high * TWO_32, this.at + 4);
    this.at += 8;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buf[this.at++] = value;
  }

  /** UTF-8 bytes of a string, no prefix; returns how many were written. */
  utf8(text: string): number {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    this.reserve(text.length * 3);
    const n = this.buf.write(text, this.at, 'utf8');
    this.at += n;
    return n;
  }

  null(): void {
    this.hasNull = true;
    this.int32(-1);
  }

  /** Starts an element of unknown length: returns where its length goes, for end(). */
  begin(): number {
    this.int32(0);
    return this.at;
  }

  end(start: number): void {
    this.buf.writeInt32BE(this.at - start, start - 4);
  }

  done(): Buffer {
    if (this.hasNull) this.buf.writeInt32BE(1, 4);
    return this.buf.subarray(0, this.at);
  }
}

/** An int[] parameter (null elements allowed). */
export function int4Array(values: readonly (number | null)[]): Buffer {
  const w = new ArrayWriter(OID.int4, values.length, 8 * values.length);
  for (const v of values) {
    if (v === null) w.null();
    else {
      w.int32(4);
      w.int32(v);
    }
  }
  return w.done();
}

/** A bigint[] parameter (null elements allowed). */
export function int8Array(values: readonly (number | null)[]): Buffer {
  const w = new ArrayWriter(OID.int8, values.length, 12 * values.length);
  for (const v of values) {
    if (v === null) w.null();
    else {
      w.int32(8);
      w.int64(v);
    }
  }
  return w.done();
}

/** A boolean[] parameter. */
export function boolArray(values: readonly boolean[]): Buffer {
  const w = new ArrayWriter(OID.bool, values.length, 5 * values.length);
  for (const v of values) {
    w.int32(1);
    w.byte(v ? 1 : 0);
  }
  return w.done();
}

/** A text[] parameter (null elements allowed). */
export function textArray(values: readonly (string | null)[]): Buffer {
  let hint = 0;
  for (const v of values) hint += 4 + (v === null ? 0 : v.length);
  const w = new ArrayWriter(OID.text, values.length, hint);
  for (const v of values) {
    if (v === null) w.null();
    else {
      const start = w.begin();
      w.utf8(v);
      w.end(start);
    }
  }
  return w.done();
}

/**
 * One tsvector: its lexemes, each with positions 1..count (an empty list for none). The server
 * sorts the lexemes itself (tsvectorrecv), so they go in the order given; they must be distinct.
 */
export interface TsvectorEntry {
  words: readonly string[];
  /** Positions per word: 0 sends none. At most 256, PostgreSQL's cap. */
  counts: readonly number[];
}

/** A tsvector[] parameter (null elements allowed), in tsvectorsend's format. */
export function tsvectorArray(values: readonly (TsvectorEntry | null)[]): Buffer {
  const w = new ArrayWriter(OID.tsvector, values.length, 96 * values.length);
  for (const v of values) {
    if (v === null) {
      w.null();
      continue;
    }
    const start = w.begin();
    w.int32(v.words.length);
    for (let i = 0; i < v.words.length; i++) {
      w.utf8(v.words[i]);
      w.byte(0);
      const count = v.counts[i];
      w.uint16(count);
      // Weight bits (the top two) zero: weight D, as in a literal without weights.
      for (let p = 1; p <= count; p++) w.uint16(p);
    }
    w.end(start);
  }
  return w.done();
}
