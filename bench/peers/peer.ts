// The small interface every benchmarked store sits behind, so each scenario runs the same code
// path (async calls, same arguments, same result shapes) against allsource and against SQLite.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppendResult, NewEvent, StoredEvent } from '../../src/index.js';

export type PeerName = 'allsource' | 'sqlite';

export interface PeerState {
  state: Record<string, unknown> | null;
  version: number;
  event_count: number;
}

export interface BenchPeer {
  readonly name: PeerName;
  /** The directory holding all of this peer's files (measured recursively for bytes on disk). */
  readonly dir: string;
  /** Durable append of a batch (one transaction / one group commit). */
  append(tenant: string, events: NewEvent[]): Promise<AppendResult>;
  /** One entity's events in version order, payloads parsed. */
  query(tenant: string, entityId: string, limit: number): Promise<StoredEvent[]>;
  /** Merge-patch fold of the entity's events recorded at or before `asOf` (all when omitted). */
  state(tenant: string, entityId: string, asOf?: string): Promise<PeerState>;
  /** Waits until background work the store started on its own (segment rolls) is done. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Total apparent size of every file under `dir`, recursively. */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await dirBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}
