// Reading Prime projection snapshots (the format and the writer are in snapshot.ts): from the file
// under the data directory, or from bytes fetched from the Core (hosted mode). Either way the same
// checks run: magic at both ends, the header's checksum, format, fold fingerprint, tenant and
// embedder, every block's bounds and CRC-32, and the lexical index's offsets; anything that does
// not check out is a reason, never an exception, and the caller folds the log instead.

import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { JsonObject } from '../core/types.js';
import type { LexicalState } from './lexical.js';
import type { ProjectionState } from './projection.js';
import { decodeIds, EMPTY, foldFingerprint, iso, MAGIC, SNAPSHOT_FILE, SNAPSHOT_FORMAT, type BlockEntry, type BlockType, type SnapshotExpectation, type SnapshotHeader, type SnapshotRead } from './snapshot.js';
import { VectorStore, type VectorStoreState } from './vectorStore.js';

/**
 * Where a snapshot's bytes are read from: a file (read block by block, as needed) or a buffer that
 * arrived whole (from the Core). `read` fills `into[offset, offset + length)` from `position` on
 * and resolves with how many bytes it read (0 past the end).
 */
interface SnapshotSource {
  size: number;
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

/**
 * Reads `dir`/projection.snap: null when there is none; otherwise the state, or why it cannot be
 * used. Only the file itself is checked here; the caller checks it against the log.
 */
export async function readSnapshot(dir: string, expected: SnapshotExpectation): Promise<SnapshotRead | null> {
  let file: FileHandle;
  try {
    file = await open(join(dir, SNAPSHOT_FILE), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { ok: false, reason: `cannot open it (${describe(error)})` };
  }
  try {
    const { size } = await file.stat();
    return await decodeFrom({ size, read: async (into, offset, length, position) => (await file.read(into, offset, length, position)).bytesRead }, expected);
  } catch (error) {
    return { ok: false, reason: `it cannot be read (${describe(error)})` };
  } finally {
    await file.close().catch(() => undefined);
  }
}

/** A snapshot that arrived as bytes (encodeSnapshot's), checked exactly as a file is. */
export async function decodeSnapshot(bytes: Uint8Array, expected: SnapshotExpectation): Promise<SnapshotRead> {
  const source: SnapshotSource = {
    size: bytes.length,
    read: async (into, offset, length, position) => {
      const end = Math.min(bytes.length, position + length);
      if (position >= end) return 0;
      into.set(bytes.subarray(position, end), offset);
      return end - position;
    },
  };
  return decodeFrom(source, expected);
}

async function decodeFrom(source: SnapshotSource, expected: SnapshotExpectation): Promise<SnapshotRead> {
  try {
    if (endianness() !== 'LE') return { ok: false, reason: 'this host is big-endian' };
    const { size } = source;
    if (size < MAGIC.length * 2 + 8) return { ok: false, reason: `it is truncated (${size} bytes)` };
    const tail = await readAt(source, size - 16, 16);
    if (!tail.subarray(8).equals(MAGIC) || !(await readAt(source, 0, 8)).equals(MAGIC)) return { ok: false, reason: 'it is not a projection snapshot, or it is truncated' };
    const headerLength = tail.readUInt32LE(0);
    const headerStart = size - 16 - headerLength;
    if (headerStart < MAGIC.length) return { ok: false, reason: 'its header length is impossible' };
    const headerBytes = await readAt(source, headerStart, headerLength);
    if (crc32(headerBytes) !== tail.readUInt32LE(4)) return { ok: false, reason: 'its header does not match its checksum' };
    const header = parseHeader(headerBytes);
    if (typeof header === 'string') return { ok: false, reason: header };
    const mismatch = headerMismatch(header, expected);
    if (mismatch !== null) return { ok: false, reason: mismatch };
    const blocks = new Map<string, BlockEntry>();
    for (const block of header.blocks) {
      if (block.offset < MAGIC.length || block.offset + block.bytes > headerStart || block.offset % 8 !== 0) return { ok: false, reason: `block ${block.name} lies outside the file` };
      blocks.set(block.name, block);
    }
    const state = await readState(source, header, blocks);
    return typeof state === 'string' ? { ok: false, reason: state } : { ok: true, state, controlPosition: header.control_position, bytes: size };
  } catch (error) {
    return { ok: false, reason: `it cannot be read (${describe(error)})` };
  }
}

function parseHeader(bytes: Buffer): SnapshotHeader | string {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'its header is not JSON';
  }
  const h = value as Partial<SnapshotHeader> | null;
  if (h === null || typeof h !== 'object') return 'its header is not an object';
  if (h.format !== SNAPSHOT_FORMAT) return `it has format ${String(h.format)}, this build reads ${SNAPSHOT_FORMAT}`;
  const anchor = h.anchor;
  if (anchor === undefined || typeof anchor.id !== 'string' || !Number.isSafeInteger(anchor.position) || anchor.position <= 0 || typeof anchor.hash !== 'string') return 'its anchor is malformed';
  if (!Number.isSafeInteger(h.control_position) || !Array.isArray(h.blocks) || !Array.isArray(h.spaces) || h.counters === undefined || h.lexical === undefined) return 'its header lacks fields';
  return h as SnapshotHeader;
}

function headerMismatch(header: SnapshotHeader, expected: SnapshotExpectation): string | null {
  if (header.endian !== 'LE') return `it is ${String(header.endian)}`;
  if (header.tenant !== expected.tenant) return 'it belongs to another tenant';
  const { embedder } = expected;
  if (header.embedder?.name !== embedder.name) return `it was made with the embedder ${String(header.embedder?.name)}, this process uses ${embedder.name}`;
  // A remote embedder may not know its length before its first answer (dims 0): then any is taken.
  if (embedder.dims !== 0 && header.embedder.dims !== 0 && header.embedder.dims !== embedder.dims) return `it holds ${header.embedder.dims}-d embeddings, the embedder gives ${embedder.dims}`;
  if (header.fold !== foldFingerprint(embedder)) return 'it was made by another version of the fold (tokenizer, embedder or fold rules)';
  return null;
}

async function readState(file: SnapshotSource, header: SnapshotHeader, blocks: Map<string, BlockEntry>): Promise<ProjectionState | string> {
  const json = async <T>(name: string): Promise<T> => {
    const bytes = await readBlock(file, blocks, name, 'json');
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;
  };
  const typed = async <T extends ArrayBufferView>(name: string, type: Exclude<BlockType, 'json'>, make: (buffer: ArrayBuffer, offset: number, length: number) => T): Promise<T> => {
    const bytes = await readBlock(file, blocks, name, type);
    return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / ELEMENT_BYTES[type]);
  };
  const f64 = (name: string): Promise<Float64Array> => typed(name, 'f64', (b, o, n) => new Float64Array(b, o, n));
  const u32 = (name: string): Promise<Uint32Array> => typed(name, 'u32', (b, o, n) => new Uint32Array(b, o, n));
  const i32 = (name: string): Promise<Int32Array> => typed(name, 'i32', (b, o, n) => new Int32Array(b, o, n));

  // ISO strings of the timestamps, each distinct one made once (a batch of events shares one).
  const times = new Map<number, string>();
  const timeOf = (ms: number): string => {
    let text = times.get(ms);
    if (text === undefined) times.set(ms, (text = iso(ms)));
    return text;
  };

  const nodeIds = await json<string[]>('node-ids');
  const count = nodeIds.length;
  const typeNames = await json<string[]>('node-type-names');
  const typeCodes = await u32('node-types');
  const properties = await json<JsonObject[]>('node-properties');
  const version = await f64('node-version');
  const seq = await f64('node-seq');
  const createdMs = await f64('node-created-ms');
  const updatedMs = await f64('node-updated-ms');
  const textLength = await f64('node-text-length');
  for (const column of [typeCodes, properties, version, seq, createdMs, updatedMs, textLength]) if (column.length !== count) return 'its node columns differ in length';
  const types: string[] = [];
  const createdAt: string[] = [];
  const updatedAt: string[] = [];
  for (let i = 0; i < count; i++) {
    const type = typeNames[typeCodes[i]];
    if (type === undefined) return 'a node type is out of range';
    types[i] = type;
    createdAt[i] = timeOf(createdMs[i]);
    updatedAt[i] = timeOf(updatedMs[i]);
  }
  for (const [i, created, updated] of await json<Array<[number, string, string]>>('node-odd-times')) {
    createdAt[i] = created;
    updatedAt[i] = updated;
  }

  const edgeIds = await json<string[]>('edge-ids');
  const edgeCount = edgeIds.length;
  const ends = await i32('edge-ends');
  const relationNames = await json<string[]>('edge-relation-names');
  const relationCodes = await u32('edge-relations');
  const edgeProperties = await json<Array<JsonObject | null>>('edge-properties');
  const weights = await f64('edge-weights');
  const edgeMs = await f64('edge-created-ms');
  if (ends.length !== 2 * edgeCount || relationCodes.length !== edgeCount || edgeProperties.length !== edgeCount || weights.length !== edgeCount || edgeMs.length !== edgeCount) {
    return 'its edge columns differ in length';
  }
  const relations: string[] = [];
  const edgeCreatedAt: string[] = [];
  const edgeProps: JsonObject[] = [];
  for (let i = 0; i < edgeCount; i++) {
    const relation = relationNames[relationCodes[i]];
    if (!(ends[2 * i] >= 0 && ends[2 * i] < count && ends[2 * i + 1] >= 0 && ends[2 * i + 1] < count) || relation === undefined) return 'an edge names a node or relation out of range';
    relations[i] = relation;
    edgeCreatedAt[i] = timeOf(edgeMs[i]);
    edgeProps[i] = edgeProperties[i] ?? EMPTY;
  }
  for (const [i, created] of await json<Array<[number, string]>>('edge-odd-times')) edgeCreatedAt[i] = created;

  const spaces: ProjectionState['spaces'] = [];
  for (const [i, space] of header.spaces.entries()) {
    const slotIds = decodeIds(await i32(`space${i}-ids`), await json<string[]>(`space${i}-extra-ids`), nodeIds);
    const slots = slotIds.length;
    // Read straight into arrays with room to grow, as the store would allocate them.
    const capacity = VectorStore.capacityFor(slots);
    const data = new Float32Array(capacity * space.dims);
    await readBlock(file, blocks, `space${i}-data`, 'f32', data, slots * space.dims);
    const digests = new Uint32Array(capacity * 2);
    await readBlock(file, blocks, `space${i}-digests`, 'u32', digests, slots * 2);
    const vectors: VectorStoreState = { dims: space.dims, slotIds, freeSlots: space.free_slots, data, digests };
    if (space.int8_stride !== null) {
      const rows = new Int8Array(slots * space.int8_stride);
      await readBlock(file, blocks, `space${i}-int8`, 'i8', rows, rows.length);
      const figures = async (name: string): Promise<Float64Array> => {
        const out = new Float64Array(slots);
        await readBlock(file, blocks, `space${i}-${name}`, 'f64', out, slots);
        return out;
      };
      vectors.int8 = { stride: space.int8_stride, rows, scale: await figures('scale'), error: await figures('error'), length: await figures('length') };
    }
    spaces.push({ name: space.name, vectors });
  }

  const ids = decodeIds(await i32('lexical-ids'), await json<string[]>('lexical-extra-ids'), nodeIds);
  const lexical: LexicalState = {
    parameters: header.lexical.parameters,
    termText: await json<string>('lexical-terms'),
    termStarts: await u32('lexical-term-starts'),
    postingStarts: await u32('lexical-posting-starts'),
    postingSlots: await i32('lexical-slots'),
    postingTfs: await typed('lexical-tfs', 'f32', (b, o, n) => new Float32Array(b, o, n)),
    slotTermStarts: await u32('lexical-slot-term-starts'),
    slotTermIds: await u32('lexical-slot-terms'),
    ids,
    lengths: await f64('lexical-lengths'),
    freeSlots: header.lexical.free_slots,
    totalLength: header.lexical.total_length,
  };
  const wrong = lexicalMismatch(lexical);
  if (wrong !== null) return `its lexical index does not add up (${wrong})`;
  const c = header.counters;
  return {
    tenant: header.tenant,
    anchor: header.anchor,
    eventCount: c.event_count,
    ignoredEvents: c.ignored_events,
    seq: c.seq,
    textChars: c.text_chars,
    nodes: { ids: nodeIds, types, properties, createdAt, updatedAt, version, seq, createdMs, updatedMs, textLength },
    edges: { ids: edgeIds, ends, relations, properties: edgeProps, weights, createdAt: edgeCreatedAt },
    forgotten: await json<string[]>('forgotten'),
    typeCounts: await json<Array<[string, number]>>('type-counts'),
    relationCounts: await json<Array<[string, number]>>('relation-counts'),
    storedVectors: await json<Array<[string, string, string | null, JsonObject]>>('stored-vectors'),
    derivedVectors: c.derived_vectors,
    spaces,
    lexical,
  };
}

/** Why a read lexical state is inconsistent (offsets out of order or out of range), or null. */
function lexicalMismatch(l: LexicalState): string | null {
  const terms = l.termStarts.length - 1;
  if (typeof l.termText !== 'string' || terms < 0 || l.postingStarts.length !== terms + 1) return 'term tables';
  if (l.termStarts[terms] !== l.termText.length || l.postingStarts[terms] !== l.postingSlots.length || l.postingSlots.length !== l.postingTfs.length) return 'table ends';
  for (let t = 0; t < terms; t++) if (l.termStarts[t] > l.termStarts[t + 1] || l.postingStarts[t] > l.postingStarts[t + 1]) return 'offsets';
  const slots = l.ids.length;
  if (l.lengths.length !== slots || l.slotTermStarts.length !== slots + 1 || l.slotTermStarts[slots] !== l.slotTermIds.length) return 'slot tables';
  for (let i = 0; i < l.postingSlots.length; i++) if (l.postingSlots[i] < 0 || l.postingSlots[i] >= slots) return 'posting slots';
  for (let i = 0; i < l.slotTermIds.length; i++) if (l.slotTermIds[i] >= terms) return 'slot terms';
  return null;
}

const ELEMENT_BYTES: Record<BlockType, number> = { json: 1, f32: 4, f64: 8, u32: 4, i32: 4, i8: 1 };

/**
 * Reads block `name` (which must have type `type`) and checks its CRC. Into `target` when given
 * (which must take exactly `elements` elements of the block), else into a fresh, aligned buffer.
 */
async function readBlock(file: SnapshotSource, blocks: Map<string, BlockEntry>, name: string, type: BlockType, target?: ArrayBufferView, elements?: number): Promise<Uint8Array> {
  const block = blocks.get(name);
  if (block === undefined) throw new Error(`block ${name} is missing`);
  if (block.type !== type) throw new Error(`block ${name} is ${block.type}, expected ${type}`);
  if (block.bytes % ELEMENT_BYTES[type] !== 0) throw new Error(`block ${name} has a partial element`);
  if (elements !== undefined && block.bytes !== elements * ELEMENT_BYTES[type]) throw new Error(`block ${name} has ${block.bytes} bytes, expected ${elements * ELEMENT_BYTES[type]}`);
  // A fresh ArrayBuffer is aligned for any element type; Buffer.alloc may hand out a slab slice.
  const bytes = target === undefined ? new Uint8Array(new ArrayBuffer(block.bytes)) : new Uint8Array(target.buffer, target.byteOffset, block.bytes);
  let done = 0;
  while (done < block.bytes) {
    const bytesRead = await file.read(bytes, done, block.bytes - done, block.offset + done);
    if (bytesRead === 0) throw new Error(`block ${name} is truncated`);
    done += bytesRead;
  }
  if (crc32(bytes) !== block.crc32) throw new Error(`block ${name} does not match its checksum`);
  return bytes;
}

async function readAt(file: SnapshotSource, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const bytesRead = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error('unexpected end of file');
    done += bytesRead;
  }
  return buffer;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
