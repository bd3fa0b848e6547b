// Prime projection snapshots: one tenant's live projection (projection.ts ProjectionState) written
// to `<dataDir>/prime/<tenant dir>/projection.snap`, so the next process restores it in a fraction
// of a second and folds only the events after it instead of the whole log. A snapshot is derived,
// rebuildable data: anything about it that does not check out (magic, format, checksums, the fold's
// fingerprint, tenant, embedder) makes the reader ignore it, and the caller then checks it against
// the log (the anchor event must still be there, at its position, with its hash; no control event
// may follow it) before trusting it.
//
// The file, all integers little-endian (a big-endian host neither writes nor reads snapshots):
//
//   "APSNAP01"                         8 bytes of magic
//   block 0, block 1, …                each at an 8-byte-aligned offset, zero-padded
//   header                             UTF-8 JSON (SnapshotHeader): what the snapshot covers, the
//                                      small fields of the state, and per block its name, type,
//                                      offset, length and CRC-32
//   u32 header length, u32 header CRC-32
//   "APSNAP01"                         the same magic again (a torn tail is caught right away)
//
// A block is JSON (UTF-8: ids, properties, the vocabulary) or a raw typed array (f32, f64, u32,
// i32, i8: vector rows, digests, postings, numbers per node or edge). State is stored column by
// column, and whatever names a node (an edge's ends, a lexical or vector slot) by the node's index,
// so reading allocates little beyond the nodes and edges themselves: that is most of the cost of a
// restore. Timestamps are stored as ms and rebuilt as ISO strings (any that would not round-trip
// are listed as they are). The header comes last so blocks can be streamed out, large JSON ones in
// slices that let the event loop run in between; the file is written under a temporary name and
// renamed into place, so a reader sees the old snapshot or the new one.

import { randomUUID } from 'node:crypto';
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { JsonObject } from '../core/types.js';
import type { Embedder } from '../embed/types.js';
import { nodeText } from './events.js';
import type { LexicalState } from './lexical.js';
import type { FoldAnchor, ProjectionState } from './projection.js';
import { terms } from './text.js';
import { VectorStore, type VectorStoreState } from './vectorStore.js';

export const SNAPSHOT_FILE = 'projection.snap';
const MAGIC = Buffer.from('APSNAP01', 'latin1');
export const SNAPSHOT_FORMAT = 1;
/**
 * Bump whenever the fold itself changes (what an event does to the projection, how node text or
 * counters are derived): a snapshot made by another fold is then ignored. Changes to the tokenizer,
 * stemmer or offline embedder are caught without it, by the fingerprint (foldFingerprint).
 */
export const FOLD_VERSION = 1;
/** Items per slice of a large JSON block (each slice is one write, so the event loop runs between). */
const JSON_SLICE = 5000;

type BlockType = 'json' | 'f32' | 'f64' | 'u32' | 'i32' | 'i8';

interface BlockEntry {
  name: string;
  type: BlockType;
  offset: number;
  bytes: number;
  crc32: number;
}

/** What the snapshot covers, and the parts of the state too small to deserve a block. */
interface SnapshotHeader {
  format: number;
  fold: string;
  endian: 'LE';
  tenant: string;
  embedder: { name: string; dims: number };
  anchor: FoldAnchor;
  /** Control events (tombstones, restores) at or below this position were reflected. */
  control_position: number;
  written_at: string;
  counters: { event_count: number; ignored_events: number; seq: number; text_chars: number; derived_vectors: number };
  lexical: { parameters: LexicalState['parameters']; free_slots: number[]; total_length: number };
  spaces: Array<{ name: string; dims: number; free_slots: number[]; int8_stride: number | null }>;
  blocks: BlockEntry[];
}

/** What a snapshot must match to be used. */
export interface SnapshotExpectation {
  tenant: string;
  embedder: Embedder;
}

export type SnapshotRead =
  | { ok: true; state: ProjectionState; controlPosition: number; bytes: number }
  | { ok: false; reason: string };

/**
 * A short digest of what the fold computes from text: the tokenizer's terms and a node's text for
 * a fixed sample, and (for a deterministic embedder) its vector of that text. A snapshot written
 * by a build whose tokenizer, stemmer or embedder differs does not match, so it is not used.
 */
export function foldFingerprint(embedder: Embedder): string {
  const sample = { name: 'Ada Lovelace', text: "Painted the garden's fences; wrote programs — naïve Café 42 在北京写程序", tags: ['Running', 'runs'] };
  const text = nodeText(sample);
  const parts = [`fold ${FOLD_VERSION}`, embedder.name, String(embedder.dims), text, terms(text).join(' ')];
  if (embedder.deterministic && embedder.embedSync !== undefined) {
    const vector = embedder.embedSync(text);
    parts.push(String(crc32(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength))));
  }
  return crc32(parts.join('\n')).toString(16).padStart(8, '0');
}

// ── Writing ─────────────────────────────────────────────────────────────────────────────────────

/** A block to write: a typed array, or a JSON array written slice by slice. */
type BlockSource =
  | { name: string; type: Exclude<BlockType, 'json'>; data: ArrayBufferView }
  | { name: string; type: 'json'; items: readonly unknown[] }
  | { name: string; type: 'json'; value: string };

/** Frozen and shared by every restored edge without properties (as the fold's own empty object is). */
const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

/**
 * Writes `state` as `dir`/projection.snap (atomically: a temporary file, then a rename). Resolves
 * with the file's size. Nothing of `state` may change meanwhile (its parts are immutable or views
 * their owner copies on write).
 */
export async function writeSnapshot(dir: string, state: ProjectionState, meta: { controlPosition: number; embedder: Embedder }): Promise<number> {
  if (endianness() !== 'LE') throw new Error('projection snapshots are written on little-endian hosts only');
  const sources = await encodeBlocks(state);
  const finalPath = join(dir, SNAPSHOT_FILE);
  const tmpPath = join(dir, `${SNAPSHOT_FILE}.${process.pid}.${randomUUID()}.tmp`);
  const file = await open(tmpPath, 'w');
  try {
    let offset = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      await file.write(bytes, 0, bytes.length, offset);
      offset += bytes.length;
    };
    await put(MAGIC);
    const blocks: BlockEntry[] = [];
    for (const source of sources) {
      const padding = (8 - (offset % 8)) % 8;
      if (padding > 0) await put(new Uint8Array(padding));
      const start = offset;
      let crc = 0;
      if ('value' in source) {
        const bytes = Buffer.from(JSON.stringify(source.value), 'utf8');
        crc = crc32(bytes);
        await put(bytes);
      } else if (source.type === 'json') {
        for (const slice of jsonSlices(source.items)) {
          crc = crc32(slice, crc);
          await put(slice);
        }
      } else {
        const bytes = new Uint8Array(source.data.buffer, source.data.byteOffset, source.data.byteLength);
        crc = crc32(bytes);
        await put(bytes);
      }
      blocks.push({ name: source.name, type: source.type, offset: start, bytes: offset - start, crc32: crc });
    }
    const header: SnapshotHeader = {
      format: SNAPSHOT_FORMAT,
      fold: foldFingerprint(meta.embedder),
      endian: 'LE',
      tenant: state.tenant,
      embedder: { name: meta.embedder.name, dims: meta.embedder.dims },
      anchor: state.anchor,
      control_position: meta.controlPosition,
      written_at: new Date().toISOString(),
      counters: { event_count: state.eventCount, ignored_events: state.ignoredEvents, seq: state.seq, text_chars: state.textChars, derived_vectors: state.derivedVectors },
      lexical: { parameters: state.lexical.parameters, free_slots: state.lexical.freeSlots, total_length: state.lexical.totalLength },
      spaces: state.spaces.map(({ name, vectors }) => ({ name, dims: vectors.dims, free_slots: vectors.freeSlots, int8_stride: vectors.int8?.stride ?? null })),
      blocks,
    };
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(headerBytes.length, 0);
    trailer.writeUInt32LE(crc32(headerBytes), 4);
    await put(headerBytes);
    await put(trailer);
    await put(MAGIC);
    await file.close();
    await rename(tmpPath, finalPath);
    return offset;
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(tmpPath, { force: true });
    throw error;
  }
}

/**
 * The blocks of a state. Yields to the event loop between the larger steps (the state does not
 * change meanwhile: see writeSnapshot).
 */
async function encodeBlocks(state: ProjectionState): Promise<BlockSource[]> {
  const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const { nodes, edges } = state;
  const nodeIndex = new Map<string, number>();
  nodes.ids.forEach((id, i) => nodeIndex.set(id, i));
  const nodeTypes = dictionary(nodes.types);
  const nodeOddTimes: Array<[number, string, string]> = [];
  for (let i = 0; i < nodes.ids.length; i++) {
    if (nodes.createdAt[i] !== iso(nodes.createdMs[i]) || nodes.updatedAt[i] !== iso(nodes.updatedMs[i])) nodeOddTimes.push([i, nodes.createdAt[i], nodes.updatedAt[i]]);
  }
  await pause();
  const edgeMs = new Float64Array(edges.ids.length);
  const edgeOddTimes: Array<[number, string]> = [];
  for (let i = 0; i < edges.ids.length; i++) {
    edgeMs[i] = Date.parse(edges.createdAt[i]);
    if (edges.createdAt[i] !== iso(edgeMs[i])) edgeOddTimes.push([i, edges.createdAt[i]]);
  }
  const relations = dictionary(edges.relations);
  await pause();
  const lexicalIds = encodeIds(state.lexical.ids, nodeIndex);
  const sources: BlockSource[] = [
    { name: 'node-ids', type: 'json', items: nodes.ids },
    { name: 'node-type-names', type: 'json', items: nodeTypes.names },
    { name: 'node-types', type: 'u32', data: nodeTypes.codes },
    { name: 'node-properties', type: 'json', items: nodes.properties },
    { name: 'node-version', type: 'f64', data: nodes.version },
    { name: 'node-seq', type: 'f64', data: nodes.seq },
    { name: 'node-created-ms', type: 'f64', data: nodes.createdMs },
    { name: 'node-updated-ms', type: 'f64', data: nodes.updatedMs },
    { name: 'node-text-length', type: 'f64', data: nodes.textLength },
    { name: 'node-odd-times', type: 'json', items: nodeOddTimes },
    { name: 'edge-ids', type: 'json', items: edges.ids },
    { name: 'edge-ends', type: 'i32', data: edges.ends },
    { name: 'edge-relation-names', type: 'json', items: relations.names },
    { name: 'edge-relations', type: 'u32', data: relations.codes },
    // Most edges have no properties: null stands for the empty object.
    { name: 'edge-properties', type: 'json', items: edges.properties.map((p) => (isEmpty(p) ? null : p)) },
    { name: 'edge-weights', type: 'f64', data: edges.weights },
    { name: 'edge-created-ms', type: 'f64', data: edgeMs },
    { name: 'edge-odd-times', type: 'json', items: edgeOddTimes },
    { name: 'forgotten', type: 'json', items: state.forgotten },
    { name: 'type-counts', type: 'json', items: state.typeCounts },
    { name: 'relation-counts', type: 'json', items: state.relationCounts },
    { name: 'stored-vectors', type: 'json', items: state.storedVectors },
    { name: 'lexical-terms', type: 'json', value: state.lexical.termText },
    { name: 'lexical-term-starts', type: 'u32', data: state.lexical.termStarts },
    { name: 'lexical-ids', type: 'i32', data: lexicalIds.codes },
    { name: 'lexical-extra-ids', type: 'json', items: lexicalIds.extra },
    { name: 'lexical-posting-starts', type: 'u32', data: state.lexical.postingStarts },
    { name: 'lexical-slots', type: 'i32', data: state.lexical.postingSlots },
    { name: 'lexical-slot-term-starts', type: 'u32', data: state.lexical.slotTermStarts },
    { name: 'lexical-slot-terms', type: 'u32', data: state.lexical.slotTermIds },
    { name: 'lexical-tfs', type: 'f32', data: state.lexical.postingTfs },
    { name: 'lexical-lengths', type: 'f64', data: state.lexical.lengths },
  ];
  for (const [i, { vectors }] of state.spaces.entries()) {
    await pause();
    const ids = encodeIds(vectors.slotIds, nodeIndex);
    sources.push({ name: `space${i}-ids`, type: 'i32', data: ids.codes });
    sources.push({ name: `space${i}-extra-ids`, type: 'json', items: ids.extra });
    sources.push({ name: `space${i}-data`, type: 'f32', data: vectors.data });
    sources.push({ name: `space${i}-digests`, type: 'u32', data: vectors.digests });
    if (vectors.int8 !== undefined) {
      sources.push({ name: `space${i}-int8`, type: 'i8', data: vectors.int8.rows });
      sources.push({ name: `space${i}-scale`, type: 'f64', data: vectors.int8.scale });
      sources.push({ name: `space${i}-error`, type: 'f64', data: vectors.int8.error });
      sources.push({ name: `space${i}-length`, type: 'f64', data: vectors.int8.length });
    }
  }
  return sources;
}

/** Distinct values in first-seen order, and each value's index among them. */
function dictionary(values: readonly string[]): { names: string[]; codes: Uint32Array } {
  const index = new Map<string, number>();
  const codes = new Uint32Array(values.length);
  values.forEach((value, i) => {
    let code = index.get(value);
    if (code === undefined) index.set(value, (code = index.size));
    codes[i] = code;
  });
  return { names: [...index.keys()], codes };
}

/**
 * Ids as codes: a node's index (≥ 0), -1 for null (a free slot), or -2 - i for extra[i] (an id
 * that is no live node's, such as a vector stored under its own name).
 */
function encodeIds(ids: ReadonlyArray<string | null>, nodeIndex: Map<string, number>): { codes: Int32Array; extra: string[] } {
  const codes = new Int32Array(ids.length);
  const extra: string[] = [];
  ids.forEach((id, i) => {
    if (id === null) codes[i] = -1;
    else {
      const node = nodeIndex.get(id);
      if (node !== undefined) codes[i] = node;
      else codes[i] = -2 - (extra.push(id) - 1);
    }
  });
  return { codes, extra };
}

function decodeIds(codes: Int32Array, extra: readonly string[], nodeIds: readonly string[]): Array<string | null> {
  const ids: Array<string | null> = [];
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    ids[i] = code >= 0 ? nodeIds[code] : code === -1 ? null : extra[-2 - code];
  }
  return ids;
}

function isEmpty(value: JsonObject): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A JSON array, UTF-8, as slices of JSON_SLICE items (the brackets and commas included). */
function* jsonSlices(items: readonly unknown[]): Generator<Uint8Array> {
  if (items.length === 0) {
    yield Buffer.from('[]');
    return;
  }
  for (let at = 0; at < items.length; at += JSON_SLICE) {
    const slice = JSON.stringify(items.slice(at, at + JSON_SLICE));
    // Inner slices lose their brackets; the first keeps '[', the last ']', the others join by ','.
    const inner = slice.slice(1, -1);
    const first = at === 0;
    const last = at + JSON_SLICE >= items.length;
    yield Buffer.from(`${first ? '[' : ','}${inner}${last ? ']' : ''}`, 'utf8');
  }
}

/** Removes temporary files of writes that never finished (a crash mid-write), older than `ageMs`. */
export async function removeStaleTemporaries(dir: string, ageMs = 10 * 60_000): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(`${SNAPSHOT_FILE}.`) || !name.endsWith('.tmp')) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > ageMs) await rm(path, { force: true });
  }
}

// ── Reading ─────────────────────────────────────────────────────────────────────────────────────

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
    if (endianness() !== 'LE') return { ok: false, reason: 'this host is big-endian' };
    const { size } = await file.stat();
    if (size < MAGIC.length * 2 + 8) return { ok: false, reason: `it is truncated (${size} bytes)` };
    const tail = await readAt(file, size - 16, 16);
    if (!tail.subarray(8).equals(MAGIC) || !(await readAt(file, 0, 8)).equals(MAGIC)) return { ok: false, reason: 'it is not a projection snapshot, or it is truncated' };
    const headerLength = tail.readUInt32LE(0);
    const headerStart = size - 16 - headerLength;
    if (headerStart < MAGIC.length) return { ok: false, reason: 'its header length is impossible' };
    const headerBytes = await readAt(file, headerStart, headerLength);
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
    const state = await readState(file, header, blocks);
    return typeof state === 'string' ? { ok: false, reason: state } : { ok: true, state, controlPosition: header.control_position, bytes: size };
  } catch (error) {
    return { ok: false, reason: `it cannot be read (${describe(error)})` };
  } finally {
    await file.close().catch(() => undefined);
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

async function readState(file: FileHandle, header: SnapshotHeader, blocks: Map<string, BlockEntry>): Promise<ProjectionState | string> {
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
async function readBlock(file: FileHandle, blocks: Map<string, BlockEntry>, name: string, type: BlockType, target?: ArrayBufferView, elements?: number): Promise<Uint8Array> {
  const block = blocks.get(name);
  if (block === undefined) throw new Error(`block ${name} is missing`);
  if (block.type !== type) throw new Error(`block ${name} is ${block.type}, expected ${type}`);
  if (block.bytes % ELEMENT_BYTES[type] !== 0) throw new Error(`block ${name} has a partial element`);
  if (elements !== undefined && block.bytes !== elements * ELEMENT_BYTES[type]) throw new Error(`block ${name} has ${block.bytes} bytes, expected ${elements * ELEMENT_BYTES[type]}`);
  // A fresh ArrayBuffer is aligned for any element type; Buffer.alloc may hand out a slab slice.
  const bytes = target === undefined ? new Uint8Array(new ArrayBuffer(block.bytes)) : new Uint8Array(target.buffer, target.byteOffset, block.bytes);
  let done = 0;
  while (done < block.bytes) {
    const { bytesRead } = await file.read(bytes, done, block.bytes - done, block.offset + done);
    if (bytesRead === 0) throw new Error(`block ${name} is truncated`);
    done += bytesRead;
  }
  if (crc32(bytes) !== block.crc32) throw new Error(`block ${name} does not match its checksum`);
  return bytes;
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error('unexpected end of file');
    done += bytesRead;
  }
  return buffer;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
