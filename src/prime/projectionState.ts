// A Prime projection as plain data: what projection.ts exports for a snapshot and restores from
// one (snapshot.ts turns it into bytes). Columns of typed arrays and arrays, not a row object per
// node or edge: a restore of 100k nodes then allocates little beyond the nodes themselves.

import type { JsonObject } from '../core/types.js';
import type { LexicalState } from './lexical.js';
import type { VectorStoreState } from './vectorStore.js';

/** The last prime event folded: what a snapshot checks the log still has, at the same place. */
export interface FoldAnchor {
  id: string;
  position: number;
  hash: string;
}

/**
 * Everything a projection holds, as plain data (see snapshot.ts for its bytes), column by column
 * (a row per node or edge would be an object per row to build and collect). Nodes and edges are in
 * creation order; counters keep their first-seen order, which prime_stats shows.
 */
export interface ProjectionState {
  tenant: string;
  anchor: FoldAnchor;
  eventCount: number;
  ignoredEvents: number;
  seq: number;
  textChars: number;
  nodes: {
    ids: string[];
    types: string[];
    properties: JsonObject[];
    createdAt: string[];
    updatedAt: string[];
    version: Float64Array;
    seq: Float64Array;
    createdMs: Float64Array;
    updatedMs: Float64Array;
    textLength: Float64Array;
  };
  /** `ends` holds each edge's source and target as indices into `nodes`. */
  edges: { ids: string[]; ends: Int32Array; relations: string[]; properties: JsonObject[]; weights: Float64Array; createdAt: string[] };
  forgotten: string[];
  typeCounts: Array<[string, number]>;
  relationCounts: Array<[string, number]>;
  /** Vectors stored by events: [id, space, node id, metadata]. */
  storedVectors: Array<[string, string, string | null, JsonObject]>;
  /** Vectors derived from node text (in the embedder's space under the node's id). */
  derivedVectors: number;
  spaces: Array<{ name: string; vectors: VectorStoreState }>;
  lexical: LexicalState;
}
