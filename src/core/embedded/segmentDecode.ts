// Decoding segment files (see segments.ts for the schema and the writer). parquet-wasm decodes into Arrow arrays in WebAssembly memory. Rather than serializing them to
// Arrow IPC and parsing that with apache-arrow (two more full copies, most of the decode time),
// the decoder reads the arrays in place through the Arrow C Data Interface structs that
// `intoFFI()` exposes, and reads the file one row group at a time so the wasm heap, which never
// shrinks, only grows to about the file plus one decoded row group.

import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { readParquet, readSchema, Table as WasmTable, wasmMemory } from 'parquet-wasm/node';
import { deepFreeze } from '../fold.js';
import type { JsonObject, StoredEvent } from '../types.js';
import { HASH_BYTES, ROW_GROUP_ROWS, ROW_GROUPS_KEY, TWO_POW_32 } from './segmentFormat.js';

/** Field offsets of `struct ArrowArray` and `struct ArrowSchema` on wasm32 (int64 fields, 4-byte pointers). */
const ARRAY_LENGTH = 0;
const ARRAY_NULL_COUNT = 8;
const ARRAY_OFFSET = 16;
const ARRAY_N_BUFFERS = 24;
const ARRAY_BUFFERS = 40;
const ARRAY_CHILDREN = 44;
const SCHEMA_FORMAT = 0;
const SCHEMA_NAME = 4;
const SCHEMA_N_CHILDREN = 24;
const SCHEMA_CHILDREN = 32;

/** Arrow C format strings the decoder accepts, per column. */
const EXPECTED_FORMATS = {
  position: (f) => f === 'l',
  tenant_id: (f) => f === 'u',
  entity_id: (f) => f === 'u',
  event_type: (f) => f === 'u',
  id: (f) => f === 'u',
  version: (f) => f === 'l',
  timestamp: (f) => f.startsWith('tsm:'),
  occurred_at: (f) => f.startsWith('tsm:'),
  payload: (f) => f === 'u',
  metadata: (f) => f === 'u',
  hash: (f) => f === `w:${HASH_BYTES}`,
} satisfies Record<string, (format: string) => boolean>;
export type ColumnName = keyof typeof EXPECTED_FORMATS;

/** What the decoder reads from: a byte image where column buffers live at known addresses. */
export interface HeapView {
  readonly bytes: Buffer;
  int32s(address: number, count: number): Int32Array;
}

/** A packed batch's buffer (see packBatch): buffers at 8-byte aligned offsets. */
export class PackHeap implements HeapView {
  readonly bytes: Buffer;
  constructor(pack: ArrayBuffer) {
    this.bytes = Buffer.from(pack);
  }
  int32s(address: number, count: number): Int32Array {
    return new Int32Array(this.bytes.buffer, this.bytes.byteOffset + address, count);
  }
}

/** A read-only window on the wasm heap; valid only until the next call into wasm that allocates. */
class WasmHeap implements HeapView {
  readonly bytes: Buffer;
  private readonly view: DataView;

  constructor(memory: ArrayBuffer) {
    this.bytes = Buffer.from(memory);
    this.view = new DataView(memory);
  }

  u32(address: number): number {
    return this.view.getUint32(address, true);
  }

  /** An int64 field known to be small (lengths, counts, offsets). */
  i64(address: number): number {
    return this.view.getInt32(address + 4, true) * TWO_POW_32 + this.view.getUint32(address, true);
  }

  cString(address: number): string {
    const end = this.bytes.indexOf(0, address);
    return this.bytes.toString('utf8', address, end);
  }

  int32s(address: number, count: number): Int32Array {
    // Arrow buffers are 8-byte aligned or better; copy defensively if one is not.
    if ((address & 3) === 0) return new Int32Array(this.bytes.buffer, address, count);
    return new Int32Array(new Uint8Array(this.bytes.subarray(address, address + count * 4)).buffer);
  }
}

/** Maps column names to their child index in the top-level struct, checking each column's type. */
function resolveColumns(heap: WasmHeap, schemaAddress: number): Record<ColumnName, number> {
  const topFormat = heap.cString(heap.u32(schemaAddress + SCHEMA_FORMAT));
  if (topFormat !== '+s') throw new Error(`segment decoding: unexpected top-level format ${topFormat}`);
  const count = heap.i64(schemaAddress + SCHEMA_N_CHILDREN);
  const children = heap.u32(schemaAddress + SCHEMA_CHILDREN);
  const found = new Map<string, { index: number; format: string }>();
  for (let i = 0; i < count; i++) {
    const child = heap.u32(children + 4 * i);
    found.set(heap.cString(heap.u32(child + SCHEMA_NAME)), { index: i, format: heap.cString(heap.u32(child + SCHEMA_FORMAT)) });
  }
  const indexes = {} as Record<ColumnName, number>;
  for (const name of Object.keys(EXPECTED_FORMATS) as ColumnName[]) {
    const column = found.get(name);
    if (!column) throw new Error(`segment decoding: column ${name} is missing`);
    if (!EXPECTED_FORMATS[name](column.format)) throw new Error(`segment decoding: column ${name} has unexpected Arrow format ${column.format}`);
    indexes[name] = column.index;
  }
  return indexes;
}

/** One column of one record batch, located in the wasm heap. */
export interface ColumnArray {
  length: number;
  nullCount: number;
  /** Element offset of the array into its buffers (non-zero for sliced arrays). */
  offset: number;
  /** Buffer addresses in C Data Interface order (validity first; 0 = absent). */
  buffers: number[];
}

function columnArray(heap: WasmHeap, batchAddress: number, child: number): ColumnArray {
  const childAddress = heap.u32(heap.u32(batchAddress + ARRAY_CHILDREN) + 4 * child);
  const bufferCount = heap.i64(childAddress + ARRAY_N_BUFFERS);
  const bufferList = heap.u32(childAddress + ARRAY_BUFFERS);
  const buffers: number[] = [];
  for (let i = 0; i < bufferCount; i++) buffers.push(heap.u32(bufferList + 4 * i));
  return {
    length: heap.i64(childAddress + ARRAY_LENGTH),
    nullCount: heap.i64(childAddress + ARRAY_NULL_COUNT),
    offset: heap.i64(childAddress + ARRAY_OFFSET),
    buffers,
  };
}

/**
 * Reads an int64 (or timestamp) column without a BigInt per value: as an Int32Array when every
 * value fits (versions and positions almost always do, and int32 values become V8 small integers
 * stored inline in the event, where doubles would be boxed), else as exact doubles below 2^53.
 */
export function int64Values(heap: HeapView, array: ColumnArray, name: string): Int32Array | Float64Array {
  const words = heap.int32s(array.buffers[1] + array.offset * 8, array.length * 2);
  let fitsInt32 = true;
  for (let i = 0; i < array.length; i++) {
    const high = words[2 * i + 1];
    if (high !== words[2 * i] >> 31) fitsInt32 = false;
    if (high > 0x1fffff || high < -0x200000) throw new Error(`segment decoding: ${name} value at row ${i} is beyond 2^53`);
  }
  if (fitsInt32) {
    const out = new Int32Array(array.length);
    for (let i = 0; i < array.length; i++) out[i] = words[2 * i];
    return out;
  }
  const out = new Float64Array(array.length);
  for (let i = 0; i < array.length; i++) out[i] = words[2 * i + 1] * TWO_POW_32 + (words[2 * i] >>> 0);
  return out;
}

/** Reads utf8 values straight from the Arrow offsets and bytes. */
export class Utf8Column {
  /** Byte offsets of each value in `bytes` (value i is bytes[offsets[i], offsets[i + 1])). */
  readonly offsets: Int32Array;
  readonly bytes: Buffer;
  private readonly validity: Uint8Array | null;
  private readonly bitOffset: number;
  /** Whether every value is ASCII (then latin1 decoding is exact and cheaper than UTF-8). */
  private readonly ascii: boolean;
  /** The column as one JS string (ASCII columns read with `get`), so a value is a cheap substring. */
  private readonly text: string | null;
  /** Subtracted from byte offsets to index `text`. */
  private readonly base: number;

  /** `sliced`: values are read with `get` (unique or short-lived); otherwise only through `copy`. */
  constructor(heap: HeapView, array: ColumnArray, sliced: boolean) {
    this.offsets = heap.int32s(array.buffers[1] + array.offset * 4, array.length + 1);
    this.base = this.offsets[0];
    const dataEnd = array.buffers[2] + this.offsets[array.length];
    this.bytes = heap.bytes.subarray(array.buffers[2], dataEnd);
    this.ascii = isAscii(this.bytes.subarray(this.base));
    // latin1 decoding is a plain widening copy, exact for ASCII, and keeps byte offsets = char offsets.
    this.text = sliced && this.ascii ? this.bytes.toString('latin1', this.base) : null;
    this.validity = array.nullCount > 0 && array.buffers[0] !== 0 ? heap.bytes.subarray(array.buffers[0]) : null;
    this.bitOffset = array.offset;
  }

  isNull(row: number): boolean {
    if (this.validity === null) return false;
    const bit = this.bitOffset + row;
    return (this.validity[bit >> 3] & (1 << (bit & 7))) === 0;
  }

  /** The value at `row`; may be a slice of the column string, so use it for unique or short-lived values. */
  get(row: number): string {
    const start = this.offsets[row];
    const end = this.offsets[row + 1];
    return this.text !== null ? this.text.substring(start - this.base, end - this.base) : this.bytes.toString('utf8', start, end);
  }

  /** The value at `row` as a standalone string (one that does not keep a whole column alive). */
  copy(row: number): string {
    return this.bytes.toString(this.ascii ? 'latin1' : 'utf8', this.offsets[row], this.offsets[row + 1]);
  }
}

/**
 * Returns one shared string per distinct value of a low-cardinality column (tenant, entity, type),
 * so a million events hold a few thousand strings. It is keyed by the UTF-8 bytes themselves, so
 * a repeated value costs a hash and a compare and allocates nothing; only a new value is decoded.
 */
export class Interner {
  /** Open-addressing table of entry indexes (-1 = empty), sized to a power of two. */
  private slots = new Int32Array(1024).fill(-1);
  private readonly values: string[] = [];
  private readonly hashes: number[] = [];
  /** The UTF-8 bytes of every entry, back to back; entry k is keys[keyStarts[k], keyStarts[k + 1]). */
  private keys = new Uint8Array(16 * 1024);
  private readonly keyStarts: number[] = [0];
  /** The previous row's entry: runs of one tenant (or entity) skip even the hash. */
  private last = -1;

  get(column: Utf8Column, row: number): string {
    const bytes = column.bytes;
    const start = column.offsets[row];
    const end = column.offsets[row + 1];
    if (this.last >= 0 && this.matches(this.last, bytes, start, end)) return this.values[this.last];
    let hash = 0x811c9dc5; // FNV-1a
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (let entry = this.slots[slot]; entry >= 0; entry = this.slots[slot]) {
      if (this.hashes[entry] === hash && this.matches(entry, bytes, start, end)) {
        this.last = entry;
        return this.values[entry];
      }
      slot = (slot + 1) & mask;
    }
    return this.add(column.copy(row), hash, slot, bytes, start, end);
  }

  private matches(entry: number, bytes: Uint8Array, start: number, end: number): boolean {
    const keyStart = this.keyStarts[entry];
    if (this.keyStarts[entry + 1] - keyStart !== end - start) return false;
    const keys = this.keys;
    for (let i = start, k = keyStart; i < end; i++, k++) if (keys[k] !== bytes[i]) return false;
    return true;
  }

  private add(value: string, hash: number, slot: number, bytes: Uint8Array, start: number, end: number): string {
    const entry = this.values.length;
    const keyStart = this.keyStarts[entry];
    const keyEnd = keyStart + (end - start);
    if (keyEnd > this.keys.length) {
      const grown = new Uint8Array(Math.max(keyEnd, this.keys.length * 2));
      grown.set(this.keys.subarray(0, keyStart));
      this.keys = grown;
    }
    this.keys.set(bytes.subarray(start, end), keyStart);
    this.keyStarts.push(keyEnd);
    this.values.push(value);
    this.hashes.push(hash);
    this.slots[slot] = entry;
    this.last = entry;
    // Keep the table at most half full so probe runs stay short.
    if (this.values.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return value;
  }

  private rehash(size: number): void {
    const slots = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let entry = 0; entry < this.values.length; entry++) {
      let slot = this.hashes[entry] & mask;
      while (slots[slot] >= 0) slot = (slot + 1) & mask;
      slots[slot] = entry;
    }
    this.slots = slots;
  }
}

/** The row-group count a segment records in its metadata, or null for a file written elsewhere. */
function recordedRowGroups(bytes: Uint8Array): number | null {
  const schema = readSchema(bytes);
  try {
    const value = schema.metadata().get(ROW_GROUPS_KEY);
    const count = value === undefined ? NaN : Number(value);
    return Number.isSafeInteger(count) && count >= 0 ? count : null;
  } finally {
    schema.free();
  }
}

/** A fresh decoding state; reuse one across the batches (and files) of a load to share strings. */
export function createDecodeContext(): DecodeContext {
  return { events: [], tenants: new Interner(), entities: new Interner(), types: new Interner(), lastMs: NaN, lastIso: '' };
}

/** Decoding state carried across record batches. */
export interface DecodeContext {
  events: StoredEvent[];
  tenants: Interner;
  entities: Interner;
  types: Interner;
  lastMs: number;
  lastIso: string;
}

/** The columns of one record batch in the wasm heap, checked to be a plain (unsliced) batch. */
function batchColumns(heap: WasmHeap, batchAddress: number, col: Record<ColumnName, number>): { count: number; arrays: Record<ColumnName, ColumnArray> } {
  // parquet-wasm never returns a sliced top-level batch; refuse one rather than misread it.
  if (heap.i64(batchAddress + ARRAY_OFFSET) !== 0) throw new Error('segment decoding: unexpected sliced record batch');
  const arrays = {} as Record<ColumnName, ColumnArray>;
  for (const name of Object.keys(EXPECTED_FORMATS) as ColumnName[]) arrays[name] = columnArray(heap, batchAddress, col[name]);
  return { count: heap.i64(batchAddress + ARRAY_LENGTH), arrays };
}

/** Byte length of each buffer of a column, by its Arrow layout (validity, then values or offsets + data). */
function bufferLengths(heap: HeapView, name: ColumnName, array: ColumnArray): number[] {
  const rows = array.offset + array.length;
  const validity = array.buffers[0] === 0 ? 0 : Math.ceil(rows / 8);
  switch (name) {
    case 'hash':
      return [validity, rows * HASH_BYTES];
    case 'position':
    case 'version':
    case 'timestamp':
    case 'occurred_at':
      return [validity, rows * 8];
    default: {
      const offsets = heap.int32s(array.buffers[1], rows + 1);
      return [validity, (rows + 1) * 4, offsets[rows]];
    }
  }
}

/** Some columns of a record batch copied out of the wasm heap into one transferable buffer. */
export interface PackedColumns {
  pack: ArrayBuffer;
  /** Per column: the ColumnArray with buffer addresses rewritten as offsets into `pack`. */
  arrays: Record<string, ColumnArray>;
}

/**
 * A record batch for another thread, in two buffers: `scan` holds what the loader reads once
 * (position, tenant, entity, type, time) and is dropped after; `rows` holds what a read needs
 * later (id, version, occurred_at, payload, metadata, hash) and is kept as the rows' storage.
 */
export interface PackedBatch {
  count: number;
  scan: PackedColumns;
  rows: PackedColumns;
}

const SCAN_COLUMNS: readonly ColumnName[] = ['position', 'tenant_id', 'entity_id', 'event_type', 'timestamp'];
const ROW_COLUMNS: readonly ColumnName[] = ['id', 'version', 'occurred_at', 'payload', 'metadata', 'hash'];

/** Copies every buffer the named columns use into a single ArrayBuffer (8-byte aligned regions). */
function packColumns(heap: WasmHeap, arrays: Record<ColumnName, ColumnArray>, names: readonly ColumnName[]): PackedColumns {
  const layout: Array<{ name: ColumnName; lengths: number[] }> = [];
  let total = 8; // offset 0 stays unused, because address 0 means "absent buffer"
  for (const name of names) {
    const lengths = bufferLengths(heap, name, arrays[name]);
    layout.push({ name, lengths });
    for (const length of lengths) total += (length + 7) & ~7;
  }
  const pack = new Uint8Array(total);
  const packed: Record<string, ColumnArray> = {};
  let at = 8;
  for (const { name, lengths } of layout) {
    const source = arrays[name];
    const buffers = source.buffers.map((address, i) => {
      if (address === 0 || lengths[i] === 0) return 0;
      pack.set(heap.bytes.subarray(address, address + lengths[i]), at);
      const moved = at;
      at += (lengths[i] + 7) & ~7;
      return moved;
    });
    packed[name] = { ...source, buffers };
  }
  return { pack: pack.buffer, arrays: packed };
}

function packBatch(heap: WasmHeap, batchAddress: number, col: Record<ColumnName, number>): PackedBatch {
  const { count, arrays } = batchColumns(heap, batchAddress, col);
  return { count, scan: packColumns(heap, arrays, SCAN_COLUMNS), rows: packColumns(heap, arrays, ROW_COLUMNS) };
}

/**
 * Yields a segment's record batches, packed for another thread; a row group is decoded only when
 * the previous one's batches have been taken, so the caller controls how far ahead it reads.
 */
export function* readParquetPacked(bytes: Uint8Array): Generator<PackedBatch> {
  const rowGroups = recordedRowGroups(bytes);
  const readTable = (table: WasmTable): PackedBatch[] => {
    const stream = table.intoFFI();
    try {
      const heap = new WasmHeap(wasmMemory().buffer);
      const columns = resolveColumns(heap, stream.schemaAddr());
      return Array.from(stream.arrayAddrs(), (address) => packBatch(heap, address, columns));
    } finally {
      stream.free();
    }
  };
  if (rowGroups === null) {
    yield* readTable(readParquet(bytes, { batchSize: ROW_GROUP_ROWS }));
  } else {
    for (let group = 0; group < rowGroups; group++) yield* readTable(readParquet(bytes, { batchSize: ROW_GROUP_ROWS, rowGroups: [group] }));
  }
}

/** Appends the events of one record batch to `context.events`. */
function decodeBatch(heap: HeapView, count: number, arrays: Record<ColumnName, ColumnArray>, context: DecodeContext): void {
  const array = (name: ColumnName): ColumnArray => arrays[name];
  const positions = int64Values(heap, array('position'), 'position');
  const versions = int64Values(heap, array('version'), 'version');
  const timestamps = int64Values(heap, array('timestamp'), 'timestamp');
  const occurred = int64Values(heap, array('occurred_at'), 'occurred_at');
  const tenants = new Utf8Column(heap, array('tenant_id'), false);
  const entities = new Utf8Column(heap, array('entity_id'), false);
  const types = new Utf8Column(heap, array('event_type'), false);
  const ids = new Utf8Column(heap, array('id'), true);
  const payloads = new Utf8Column(heap, array('payload'), true);
  const metadata = new Utf8Column(heap, array('metadata'), true);
  const hashArray = array('hash');
  const hashStart = hashArray.buffers[1] + hashArray.offset * HASH_BYTES;
  // One hex conversion per batch; each hash is then a substring of it.
  const hex = heap.bytes.toString('hex', hashStart, hashStart + count * HASH_BYTES);
  const { events, tenants: tenantNames, entities: entityNames, types: typeNames } = context;
  let { lastMs, lastIso } = context;
  for (let i = 0; i < count; i++) {
    const ms = timestamps[i];
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    const occurredMs = occurred[i];
    // Property order is fixed (and matches wal.ts decodeBatch) so every event has one hidden class.
    events.push(
      Object.freeze({
        id: ids.get(i),
        tenant_id: tenantNames.get(tenants, i),
        entity_id: entityNames.get(entities, i),
        event_type: typeNames.get(types, i),
        payload: deepFreeze(JSON.parse(payloads.get(i)) as JsonObject),
        metadata: metadata.isNull(i) ? null : deepFreeze(JSON.parse(metadata.get(i)) as JsonObject),
        timestamp: lastIso,
        occurred_at: occurredMs === ms ? lastIso : new Date(occurredMs).toISOString(),
        version: versions[i],
        position: positions[i],
        hash: hex.substring(i * 64, i * 64 + 64),
      }),
    );
  }
  context.lastMs = lastMs;
  context.lastIso = lastIso;
}

/** Decodes one readParquet result (a row group, or the whole file) into `context.events`. */
function decodeTable(table: WasmTable, context: DecodeContext): void {
  const stream = table.intoFFI();
  try {
    const batchAddresses = stream.arrayAddrs();
    const schemaAddress = stream.schemaAddr();
    // No wasm call from here until free(): one that grows the heap would detach this view.
    const heap = new WasmHeap(wasmMemory().buffer);
    const columns = resolveColumns(heap, schemaAddress);
    for (const address of batchAddresses) {
      const { count, arrays } = batchColumns(heap, address, columns);
      decodeBatch(heap, count, arrays, context);
    }
  } finally {
    stream.free();
  }
}

/**
 * Decodes Parquet segment bytes back into frozen events, deep-equal to the ones encoded. All
 * events share one hidden class; tenant, entity and type strings are shared between events; a
 * `deleted` flag is never present (tombstones are applied above this layer).
 */
export function decodeSegment(bytes: Uint8Array): StoredEvent[] {
  const context = createDecodeContext();
  const rowGroups = recordedRowGroups(bytes);
  if (rowGroups === null) {
    decodeTable(readParquet(bytes, { batchSize: ROW_GROUP_ROWS }), context);
  } else {
    for (let group = 0; group < rowGroups; group++) {
      decodeTable(readParquet(bytes, { batchSize: ROW_GROUP_ROWS, rowGroups: [group] }), context);
    }
  }
  return context.events;
}

/** Reads and decodes a whole segment file. */
export function readSegmentFile(path: string): StoredEvent[] {
  const bytes = readFileSync(path);
  try {
    return decodeSegment(bytes);
  } catch (error) {
    throw new Error(`segment ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
