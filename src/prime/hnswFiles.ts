// The persisted HNSW index of one vector space: hnsw.bin (hnswlib's own format) and its sidecar
// hnsw.json, which says what each label stands for and carries a digest of every indexed vector,
// so a reopened space can tell which entries are still current and add only what changed since.
// Both are derived, rebuildable data: anything that does not check out is ignored.

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HnswIndex, Hnswlib } from './hnswWorker.js';

export const SIDECAR_FORMAT = 1;
export const BIN_FILE = 'hnsw.bin';
export const SIDECAR_FILE = 'hnsw.json';

/** The sidecar next to hnsw.bin: what the labels stand for and how to tell a stale one. */
export interface Sidecar {
  format: number;
  dims: number;
  space: 'ip';
  m: number;
  ef_construction: number;
  next_label: number;
  bin_bytes: number;
  bin_sha256: string;
  labels: number[];
  ids: string[];
  /** Per id, 16 hex digits: two FNV-1a lanes over the vector's float32 words. */
  digests: string[];
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function hex8(word: number): string {
  return word.toString(16).padStart(8, '0');
}

/** The sidecar, checked field by field; throws a reason when it is unusable for a `dims` index. */
export function parseSidecar(raw: string, dims: number): Sidecar {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${SIDECAR_FILE} is not JSON`);
  }
  const s = value as Partial<Sidecar> | null;
  if (s === null || typeof s !== 'object') throw new Error(`${SIDECAR_FILE} is not an object`);
  if (s.format !== SIDECAR_FORMAT) throw new Error(`${SIDECAR_FILE} has format ${String(s.format)}, expected ${SIDECAR_FORMAT}`);
  if (s.dims !== dims) throw new Error(`it holds ${String(s.dims)}-d vectors, this space has ${dims}`);
  if (s.space !== 'ip') throw new Error(`it uses the ${String(s.space)} space`);
  if (!Number.isInteger(s.next_label) || !Number.isInteger(s.bin_bytes) || typeof s.bin_sha256 !== 'string') {
    throw new Error(`${SIDECAR_FILE} lacks next_label, bin_bytes or bin_sha256`);
  }
  const { labels, ids, digests } = s;
  if (!Array.isArray(labels) || !Array.isArray(ids) || !Array.isArray(digests) || labels.length !== ids.length || ids.length !== digests.length) {
    throw new Error(`${SIDECAR_FILE} has no matching labels, ids and digests lists`);
  }
  const seen = new Set<number>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= (s.next_label as number) || seen.has(label)) throw new Error(`${SIDECAR_FILE} has a bad label at ${i}`);
    seen.add(label);
    if (typeof ids[i] !== 'string' || typeof digests[i] !== 'string' || !/^[0-9a-f]{16}$/.test(digests[i])) {
      throw new Error(`${SIDECAR_FILE} has a bad id or digest at ${i}`);
    }
  }
  return s as Sidecar;
}

/** The sidecar's digest strings as two words per entry, as the vector store keeps them. */
export function digestWords(hexDigests: readonly string[]): Uint32Array {
  const words = new Uint32Array(2 * hexDigests.length);
  hexDigests.forEach((hex, i) => {
    words[2 * i] = Number.parseInt(hex.slice(0, 8), 16);
    words[2 * i + 1] = Number.parseInt(hex.slice(8), 16);
  });
  return words;
}

/**
 * Writes hnsw.bin (by `writeBin`, which returns what the sidecar must say about it) and hnsw.json
 * into `dir`, each through a temporary file and a rename, so a crash leaves the old pair or a
 * pair the checksum rejects, never a half-written file that looks whole.
 */
export async function writeHnswFiles(dir: string, writeBin: (path: string) => Promise<Omit<Sidecar, 'format' | 'bin_bytes' | 'bin_sha256'>>): Promise<void> {
  const tmpBin = join(dir, `${BIN_FILE}.${process.pid}.${randomUUID()}.tmp`);
  const tmpSidecar = join(dir, `${SIDECAR_FILE}.${process.pid}.${randomUUID()}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    const described = await writeBin(tmpBin);
    const { size } = await stat(tmpBin);
    const sidecar: Sidecar = { format: SIDECAR_FORMAT, ...described, bin_bytes: size, bin_sha256: await sha256File(tmpBin) };
    await writeFile(tmpSidecar, JSON.stringify(sidecar));
    // Binary first: between the renames the old sidecar's checksum rejects the new binary.
    await rename(tmpBin, join(dir, BIN_FILE));
    await rename(tmpSidecar, join(dir, SIDECAR_FILE));
  } catch (error) {
    await rm(tmpBin, { force: true });
    await rm(tmpSidecar, { force: true });
    throw error;
  }
}

/**
 * Reads the pair from `dir` for a `dims` space: null when there is none (or it cannot be read,
 * which `note` is told); throws a reason when it is there but does not check out.
 */
export async function readHnswFiles(dir: string, dims: number, lib: Hnswlib, note: (line: string) => void): Promise<{ index: HnswIndex; sidecar: Sidecar } | null> {
  let raw: string;
  try {
    raw = await readFile(join(dir, SIDECAR_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') note(`cannot read ${join(dir, SIDECAR_FILE)} (${error instanceof Error ? error.message : String(error)})`);
    return null;
  }
  const sidecar = parseSidecar(raw, dims);
  const binPath = join(dir, BIN_FILE);
  const { size } = await stat(binPath);
  if (size !== sidecar.bin_bytes) throw new Error(`${BIN_FILE} has ${size} bytes, the sidecar says ${sidecar.bin_bytes}`);
  // A damaged graph can crash hnswlib rather than throw, so the bytes are checked first.
  if ((await sha256File(binPath)) !== sidecar.bin_sha256) throw new Error(`${BIN_FILE} does not match its checksum`);
  const index = new lib.HierarchicalNSW('ip', dims);
  await index.readIndex(binPath, true);
  if (index.getNumDimensions() !== dims) throw new Error(`${BIN_FILE} holds ${index.getNumDimensions()}-d vectors`);
  if (index.getCurrentCount() < sidecar.labels.length) throw new Error(`${BIN_FILE} holds fewer vectors than its sidecar lists`);
  return { index, sidecar };
}
