// Small pure rules of the Prime fold (projection.ts): which entity an event must be filed on to
// count, what counts as a name, how counters move, how a stored vector is decoded, and where a
// vector space's derived files live.

import { createHash } from 'node:crypto';
import type { JsonValue, StoredEvent } from '../core/types.js';
import { decodeVector } from '../embed/codec.js';
import { edgeEntity, nodeEntity, vectorEntity } from './events.js';

export function onOwnEntity(e: StoredEvent): boolean {
  const p = e.payload;
  if (e.event_type.startsWith('prime.node.')) return typeof p.node_id === 'string' && e.entity_id === nodeEntity(p.node_id);
  if (e.event_type.startsWith('prime.edge.')) return typeof p.edge_id === 'string' && e.entity_id === edgeEntity(p.edge_id);
  if (e.event_type.startsWith('prime.vector.')) return typeof p.vector_id === 'string' && e.entity_id === vectorEntity(p.vector_id);
  return false;
}

export function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function bump(counts: Map<string, number>, key: string, by: number): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

export function safeDecode(data: string, dims: number): Float32Array | undefined {
  try {
    return decodeVector(data, dims, 'data');
  } catch {
    return undefined;
  }
}

/** A file-system-safe directory name for a vector space. */
export function spaceDirName(space: string): string {
  const readable = space.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 48);
  return `${readable}-${createHash('sha256').update(space).digest('hex').slice(0, 8)}`;
}
