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
// renamed into place, so a reader sees the old snapshot or the new one. In hosted mode the same
// bytes are built in memory (encodeSnapshot) and kept by the Core as a derived artifact. Reading,
// from a file or from bytes, is in snapshotRead.ts.

import { randomUUID } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { JsonObject } from '../core/types.js';
import type { Embedder } from '../embed/types.js';
import { nodeText } from './events.js';
import type { LexicalState } from './lexical.js';
import type { FoldAnchor, ProjectionState } from './projection.js';
import { terms } from './text.js';

export const SNAPSHOT_FILE = 'projection.snap';
export const MAGIC = Buffer.from('APSNAP01', 'latin1');
export const SNAPSHOT_FORMAT = 1;
/**
 * Bump whenever the fold itself changes (what an event does to the projection, how node text or
 * counters are derived): a snapshot made by another fold is then ignored. Changes to the tokenizer,
 * stemmer or offline embedder are caught without it, by the fingerprint (foldFingerprint).
 */
export const FOLD_VERSION = 1;
/** Items per slice of a large JSON block (each slice is one write, so the event loop runs between). */
const JSON_SLICE = 5000;

export type BlockType = 'json' | 'f32' | 'f64' | 'u32' | 'i32' | 'i8';

export interface BlockEntry {
  name: string;
  type: BlockType;
  offset: number;
  bytes: number;
  crc32: number;
}

/** What the snapshot covers, and the parts of the state too small to deserve a block. */
export interface SnapshotHeader {
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
export const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

/** Where the bytes of a snapshot go, in order (a file, or memory for an upload). */
interface SnapshotSink {
  put(bytes: Uint8Array): Promise<void>;
}

/**
 * Writes `state` as `dir`/projection.snap (atomically: a temporary file, then a rename). Resolves
 * with the file's size. Nothing of `state` may change meanwhile (its parts are immutable or views
 * their owner copies on write).
 */
export async function writeSnapshot(dir: string, state: ProjectionState, meta: SnapshotMeta): Promise<number> {
  if (endianness() !== 'LE') throw new Error('projection snapshots are written on little-endian hosts only');
  const finalPath = join(dir, SNAPSHOT_FILE);
  const tmpPath = join(dir, `${SNAPSHOT_FILE}.${process.pid}.${randomUUID()}.tmp`);
  const file = await open(tmpPath, 'w');
  try {
    let offset = 0;
    const size = await encodeSnapshotTo(
      {
        put: async (bytes) => {
          await file.write(bytes, 0, bytes.length, offset);
          offset += bytes.length;
        },
      },
      state,
      meta,
    );
    await file.close();
    await rename(tmpPath, finalPath);
    return size;
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(tmpPath, { force: true });
    throw error;
  }
}

/** The same bytes writeSnapshot puts in the file, in memory (a snapshot sent to the Core). */
export async function encodeSnapshot(state: ProjectionState, meta: SnapshotMeta): Promise<Buffer> {
  if (endianness() !== 'LE') throw new Error('projection snapshots are written on little-endian hosts only');
  const chunks: Uint8Array[] = [];
  // Typed-array chunks are views of the state, which stays unchanged until the caller releases it:
  // the one copy is the concatenation.
  const size = await encodeSnapshotTo({ put: async (bytes) => void chunks.push(bytes) }, state, meta);
  return Buffer.concat(chunks, size);
}

/** What a snapshot records besides the state: the control position it reflects, and the embedder. */
export interface SnapshotMeta {
  controlPosition: number;
  embedder: Embedder;
}

/** Puts the whole snapshot of `state` into `sink`; resolves with its size in bytes. */
async function encodeSnapshotTo(sink: SnapshotSink, state: ProjectionState, meta: SnapshotMeta): Promise<number> {
  const sources = await encodeBlocks(state);
  let offset = 0;
  const put = async (bytes: Uint8Array): Promise<void> => {
    await sink.put(bytes);
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
  return offset;
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

export function decodeIds(codes: Int32Array, extra: readonly string[], nodeIds: readonly string[]): Array<string | null> {
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

export function iso(ms: number): string {
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
