// Derived artifacts a Core keeps for its tenants beside the log: opaque bytes under a short name
// (e.g. `prime-snapshot`, a Prime projection snapshot a fresh serve instance starts from), with the
// few facts a loader checks before trusting them (the log position they cover, their format
// version, the embedder that made them) and a sha256 of the bytes. They are not events: never in
// the log, never in its hash chain, not exported or migrated; any of them can be deleted at any
// time and is rebuilt from the log by whoever needs it. The file store here is the one the
// EmbeddedCore-backed Core uses (`<dataDir>/artifacts/<tenant dir>/<name>.art`, written to a
// temporary file, fsynced, renamed, the directory fsynced); a Core without one (PostgreSQL) answers
// that it keeps none.

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { AllSourceError, InvalidError } from './errors.js';

/** Names: a lowercase letter, then up to 62 lowercase letters, digits or dashes. */
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
/**
 * Largest artifact by default: 256 MiB. A Prime snapshot measured 11.9 MiB for 10,000 short
 * memories with the offline 256-d embedder (bench/serve.ts), about 1.2 KiB each, so this holds
 * ~200,000 of them; wider vectors (1536-d, 6 KiB a memory as f32) hold fewer. Past the cap a
 * tenant folds from the log as it would without one. An upload is held whole in memory (the Core's
 * until it is on disk, serve's while it is built), so the cap is also what one upload may cost.
 */
export const DEFAULT_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
/** Distinct artifact names a tenant may hold: with the size cap, a bound on what one tenant stores. */
export const MAX_ARTIFACTS_PER_TENANT = 8;
const MAGIC = Buffer.from('ASART001', 'latin1');
const MAX_EMBEDDER_LENGTH = 256;

/** What a loader checks before using an artifact, as the writer declared it. */
export interface ArtifactFacts {
  /** The log position the artifact covers (everything up to it was folded). */
  position: number;
  /** The artifact's own format version. */
  format: number;
  /** The embedder whose vectors it holds (its name). */
  embedder: string;
}

/** An artifact as the Core describes it (the wire form: snake_case). */
export interface ArtifactMeta extends ArtifactFacts {
  name: string;
  /** Its length in bytes. */
  bytes: number;
  /** sha256 hex of its bytes: a loader compares it with what arrived. */
  sha256: string;
  /** When the Core stored it (ISO-8601). */
  written_at: string;
}

/** Where a Core keeps artifacts. Every call names the tenant; nothing reads across tenants. */
export interface ArtifactStore {
  /** The artifact's meta, its length as stored, and its bytes as a stream; null when there is none. */
  read(tenant: string, name: string): Promise<{ meta: ArtifactMeta; bytes: number; stream: Readable } | null>;
  list(tenant: string): Promise<ArtifactMeta[]>;
  put(tenant: string, name: string, facts: ArtifactFacts, bytes: Buffer): Promise<ArtifactMeta>;
  /** Whether there was one to delete. */
  delete(tenant: string, name: string): Promise<boolean>;
}

/** What a client of a Core (HttpCore) offers for artifacts: absent when the Core keeps none. */
export interface ArtifactClient {
  getArtifact(tenant: string, name: string): Promise<{ meta: ArtifactMeta; bytes: Buffer } | null>;
  putArtifact(tenant: string, name: string, facts: ArtifactFacts, bytes: Uint8Array): Promise<ArtifactMeta>;
}

export function checkArtifactName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidError('name', `must be 1-63 characters: a lowercase letter, then lowercase letters, digits or dashes (e.g. prime-snapshot); got ${JSON.stringify(name)?.slice(0, 80)}`);
  }
  return name;
}

/** The facts of a PUT, from its query string (already parsed to numbers where they are numbers). */
export function checkArtifactFacts(query: Record<string, unknown>): ArtifactFacts {
  for (const key of Object.keys(query)) if (key !== 'position' && key !== 'format' && key !== 'embedder') throw new InvalidError(key, 'is not a known query parameter (position, format, embedder)');
  const integer = (field: 'position' | 'format'): number => {
    const raw = query[field];
    const value = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : raw;
    if (raw === undefined) throw new InvalidError(field, 'is required');
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidError(field, `must be an integer >= 0, got ${JSON.stringify(raw)}`);
    return value;
  };
  const position = integer('position');
  const format = integer('format');
  const embedder = query.embedder;
  if (embedder === undefined) throw new InvalidError('embedder', 'is required');
  if (typeof embedder !== 'string' || embedder === '' || embedder.length > MAX_EMBEDDER_LENGTH) throw new InvalidError('embedder', `must be a non-empty string of at most ${MAX_EMBEDDER_LENGTH} characters`);
  return { position, format, embedder };
}

export function artifactDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The on-disk header: the wire meta plus the tenant, checked on every read. */
interface StoredMeta extends ArtifactMeta {
  tenant: string;
}

/** The directory of a tenant: a digest of its id (ids may hold characters no file name may). */
function tenantDir(root: string, tenant: string): string {
  return join(root, createHash('sha256').update(tenant).digest('hex').slice(0, 32));
}

/** An ArtifactStore in files under `root` (the Core's `<dataDir>/artifacts`). */
export function createFileArtifactStore(root: string): ArtifactStore {
  const pathOf = (tenant: string, name: string): string => join(tenantDir(root, tenant), `${name}.art`);

  /**
   * The stored header of `name`, and the open file positioned after it; null when the file is
   * missing, not an artifact file, or another tenant's. The caller closes the handle.
   */
  const openStored = async (tenant: string, name: string): Promise<{ meta: ArtifactMeta; start: number; size: number; handle: FileHandle } | null> => {
    let handle: FileHandle;
    try {
      handle = await open(pathOf(tenant, name), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      const prefix = Buffer.alloc(MAGIC.length + 4);
      const { bytesRead } = await handle.read(prefix, 0, prefix.length, 0);
      if (bytesRead < prefix.length || !prefix.subarray(0, MAGIC.length).equals(MAGIC)) return close(handle);
      const length = prefix.readUInt32LE(MAGIC.length);
      const start = prefix.length + length;
      if (start > size || length > 1024 * 1024) return close(handle);
      const header = Buffer.alloc(length);
      if ((await handle.read(header, 0, length, prefix.length)).bytesRead < length) return close(handle);
      let stored: StoredMeta;
      try {
        stored = JSON.parse(header.toString('utf8')) as StoredMeta;
      } catch {
        return close(handle);
      }
      if (stored.tenant !== tenant) return close(handle);
      const { tenant: _tenant, ...meta } = stored;
      return { meta, start, size, handle };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  };

  const names = async (tenant: string): Promise<string[]> => {
    try {
      return (await readdir(tenantDir(root, tenant))).filter((f) => f.endsWith('.art')).map((f) => f.slice(0, -4));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };

  return {
    read: async (tenant, name) => {
      const found = await openStored(tenant, name);
      if (found === null) return null;
      // Streamed from the file as it is: the Core never holds a whole artifact, and the loader
      // checks what arrives (a damaged file is then ignored by the loader, which rebuilds).
      const stream = found.handle.createReadStream({ start: found.start, autoClose: true });
      return { meta: found.meta, bytes: found.size - found.start, stream };
    },
    list: async (tenant) => {
      const metas: ArtifactMeta[] = [];
      for (const name of (await names(tenant)).sort()) {
        const found = await openStored(tenant, name);
        if (found === null) continue;
        await found.handle.close();
        metas.push(found.meta);
      }
      return metas;
    },
    put: async (tenant, name, facts, bytes) => {
      const existing = await names(tenant);
      if (!existing.includes(name) && existing.length >= MAX_ARTIFACTS_PER_TENANT) {
        throw new AllSourceError('quota_exceeded', `name: the tenant already has ${existing.length} artifacts, the most a Core keeps per tenant; delete one first`, { field: 'name', details: { max_artifacts: MAX_ARTIFACTS_PER_TENANT } });
      }
      const meta: ArtifactMeta = { name, ...facts, bytes: bytes.length, sha256: artifactDigest(bytes), written_at: new Date().toISOString() };
      const header = Buffer.from(JSON.stringify({ tenant, ...meta } satisfies StoredMeta), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(header.length, 0);
      const dir = tenantDir(root, tenant);
      await mkdir(dir, { recursive: true });
      await removeStaleTemporaries(dir);
      const tmp = join(dir, `${name}.${randomUUID()}.tmp`);
      const file = await open(tmp, 'wx');
      try {
        const { bytesWritten } = await file.writev([MAGIC, length, header, bytes]);
        if (bytesWritten !== MAGIC.length + 4 + header.length + bytes.length) throw new Error(`short write (${bytesWritten} bytes)`);
        await file.sync();
        await file.close();
        await rename(tmp, pathOf(tenant, name));
      } catch (err) {
        await file.close().catch(() => undefined);
        await rm(tmp, { force: true });
        throw err;
      }
      await syncDir(dir);
      return meta;
    },
    delete: async (tenant, name) => {
      const path = pathOf(tenant, name);
      const there = await stat(path).then(
        () => true,
        () => false,
      );
      if (there) {
        await rm(path, { force: true });
        await syncDir(tenantDir(root, tenant));
      }
      return there;
    },
  };
}

/** Makes a rename in `dir` durable. */
async function close(handle: FileHandle): Promise<null> {
  await handle.close();
  return null;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temporary files of writes that never finished (a crash mid-upload), older than ten minutes. */
async function removeStaleTemporaries(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.tmp')) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > 10 * 60_000) await rm(join(dir, name), { force: true });
  }
}
