// Prime projection snapshots kept on the Core (hosted mode): `allsource serve --core` has no disk
// of its own, so a tenant's snapshot is stored as the Core's derived artifact `prime-snapshot` (the
// same bytes as the local file, snapshot.ts) and a fresh serve instance starts from it instead of
// folding the tenant's whole log. Nothing about it is trusted: the facts the Core holds (format,
// embedder, position) are checked before the bytes are decoded, the bytes are checked as a file is
// (snapshotRead.ts: magic, checksums, fold fingerprint, tenant, embedder), and the keeper then
// checks its anchor against the log (snapshots.ts). A Core that cannot be reached, keeps no
// artifacts, or sends one that does not check out only costs the fold it would have saved; a Core
// that keeps none is asked no more after its first answer.

import type { ArtifactClient } from '../core/artifacts.js';
import { isErrorCode, type AllSourceError } from '../core/errors.js';
import { encodeSnapshot, SNAPSHOT_FORMAT, type SnapshotRead } from './snapshot.js';
import { decodeSnapshot } from './snapshotRead.js';
import { describeError } from './serviceArgs.js';
import type { SnapshotStore } from './snapshots.js';

/** The artifact name of a tenant's Prime snapshot. */
export const PRIME_SNAPSHOT_ARTIFACT = 'prime-snapshot';

/** A SnapshotStore over a Core's artifacts (HttpCore). */
export function createCoreSnapshotStore(client: ArtifactClient): SnapshotStore {
  // A Core that keeps no artifacts (PostgreSQL) says so on the first upload; then none is tried again.
  let unsupported = false;
  return {
    disabled: () => unsupported,
    where: (tenant) => `${PRIME_SNAPSHOT_ARTIFACT} (the Core's artifact for tenant ${JSON.stringify(tenant)})`,
    read: async (tenant, expected): Promise<SnapshotRead | null> => {
      if (unsupported) return null;
      let found;
      try {
        found = await client.getArtifact(tenant, PRIME_SNAPSHOT_ARTIFACT);
      } catch (error) {
        return { ok: false, reason: `it cannot be fetched (${describeError(error)})` };
      }
      if (found === null) return null;
      const { meta, bytes } = found;
      // The declared facts first: a stale or foreign artifact is refused without decoding it.
      if (meta.format !== SNAPSHOT_FORMAT) return { ok: false, reason: `the Core holds it as format ${String(meta.format)}, this build reads ${SNAPSHOT_FORMAT}` };
      if (meta.embedder !== expected.embedder.name) return { ok: false, reason: `it was made with the embedder ${String(meta.embedder)}, this process uses ${expected.embedder.name}` };
      if (!(meta.position <= expected.lastPosition)) return { ok: false, reason: `it covers the log up to position ${String(meta.position)}, beyond the log's last position ${expected.lastPosition}` };
      if (bytes.length !== meta.bytes) return { ok: false, reason: `${bytes.length} bytes arrived of the ${String(meta.bytes)} the Core recorded` };
      // Every block and the header carry their own CRC-32 (checked while decoding): a damaged
      // artifact is caught there, without hashing all of it once more here.
      const read = await decodeSnapshot(bytes, expected);
      if (read.ok && read.state.anchor.position !== meta.position) return { ok: false, reason: `it says position ${read.state.anchor.position} inside, the Core recorded ${meta.position}` };
      return read;
    },
    write: async (tenant, state, meta) => {
      const bytes = await encodeSnapshot(state, meta);
      try {
        await client.putArtifact(tenant, PRIME_SNAPSHOT_ARTIFACT, { position: state.anchor.position, format: SNAPSHOT_FORMAT, embedder: meta.embedder.name }, bytes);
      } catch (error) {
        if (isErrorCode(error, 'not_found') && (error as AllSourceError).details?.artifacts === 'unsupported') unsupported = true;
        throw error;
      }
      return bytes.length;
    },
  };
}
