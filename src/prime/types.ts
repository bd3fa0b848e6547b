// Prime's wire shapes: nodes, edges, vectors and recall hits as tools return them, and the
// read-only view of one tenant's projections (now or as of an instant) that tools read through.
// Prime owns no storage; these are folds of `prime.*` events in the tenant's log.

import type { EmbedderInfo } from '../embed/types.js';
import type { JsonObject, NewEvent, StoredEvent } from '../core/types.js';

export interface PrimeNode {
  id: string;
  type: string;
  properties: JsonObject;
  /** Recorded time of the node's first event. */
  created_at: string;
  /** Recorded time of the node's latest event. */
  updated_at: string;
  /** How many events have shaped the node (1 after creation). */
  version: number;
}

export interface PrimeEdge {
  id: string;
  source: string;
  target: string;
  relation: string;
  properties: JsonObject;
  weight: number;
  created_at: string;
}

/**
 * How a recall result was found. The vector path is `semantic` only when a language model made the
 * vectors; the offline embedder's vectors see spelling, not meaning, and are labelled `vector`.
 */
export type Retrieval = 'semantic' | 'vector' | 'lexical' | 'graph' | 'recency';

/** The contributions that add up to a recall score (each 0 when that path did not find it). */
export interface ScoreParts {
  semantic: number;
  lexical: number;
  graph: number;
  recency: number;
  importance: number;
}

export interface RecallHit {
  node: PrimeNode;
  score: number;
  score_parts: ScoreParts;
  /** Every path that found it, strongest first. */
  retrieval: Retrieval[];
  /** For nodes found only through the graph: the node it was reached from and over which relation. */
  via?: { node_id: string; relation: string };
}

export interface VectorIndexStatus {
  /** `exact`: brute-force scan; `hnsw`: approximate index in use; `building`: exact while HNSW builds. */
  mode: 'exact' | 'hnsw' | 'building';
  /** False when hnswlib-node is not installed (no C++ toolchain at install): always exact. */
  hnsw_available: boolean;
  vectors: number;
  dims: number;
  /** Why the mode is what it is, in a sentence (e.g. "exact: 812 vectors, below the 5000 HNSW threshold"). */
  note: string;
}

export interface PrimeCounters {
  nodes: number;
  edges: number;
  /** Prime events folded (every `prime.*` event in the tenant's log, up to the cut). */
  events: number;
  vectors: number;
  node_types: Record<string, number>;
  relations: Record<string, number>;
}

/**
 * One tenant's projections, read-only, as of a cut (null = now). Everything a read tool needs;
 * writes go through PrimeService. Iteration orders are stable (creation order).
 */
export interface PrimeView {
  readonly tenant: string;
  /** The instant this view is cut at, or null for the live view. */
  readonly asOf: string | null;
  node(id: string): PrimeNode | undefined;
  /** Live nodes in creation order. */
  nodes(): Iterable<PrimeNode>;
  /** The first live node (creation order) whose `properties.name` equals `name`. */
  nodeByName(name: string): PrimeNode | undefined;
  edge(id: string): PrimeEdge | undefined;
  /** Live edges in creation order. */
  edges(): Iterable<PrimeEdge>;
  /** Edges leaving (`out`), entering (`in`) or touching (`both`) a node. */
  edgesOf(nodeId: string, direction: 'out' | 'in' | 'both'): PrimeEdge[];
  counters(): PrimeCounters;
  /** BM25 over node text: best first. */
  lexical(text: string, limit: number, accept?: (nodeId: string) => boolean): Array<{ id: string; score: number }>;
  /**
   * Live nodes (creation order) whose type or a string property (or a string in an array
   * property) may contain `query`, case-insensitively: a superset to check with `includes`.
   * Null when the query is too short (under three characters) to narrow anything.
   */
  substringCandidates(query: string): string[] | null;
}

export interface NodeHistory {
  node_id: string;
  events: StoredEvent[];
}

export type { EmbedderInfo };

// ── The service: what tools call ─────────────────────────────────────────────────────────────

export type Direction = 'out' | 'in' | 'both';

export interface AsOfArg {
  /** Read the projections folded from the log prefix recorded at or before this ISO-8601 instant. */
  as_of?: string;
}

export interface NeighborHit {
  node: PrimeNode;
  /** The edge that reached it (from the previous hop). */
  edge: PrimeEdge;
  /** Hops from the start node (1 = adjacent). */
  depth: number;
  /** `out` when the edge leaves the previous hop, `in` when it enters it. */
  direction: 'out' | 'in';
}

export interface SimilarHit {
  id: string;
  score: number;
  /** The node the vector belongs to, when it belongs to a live node. */
  node?: PrimeNode;
  metadata: JsonObject;
}

export interface PrimeStats extends PrimeCounters {
  tenant: string;
  as_of: string | null;
  embedder: EmbedderInfo;
  vector_index: VectorIndexStatus;
  /** Whether this read was served from the warm cache or hydrated from the store. */
  cache: { warm: boolean; tenants_warm: number };
}

/** What a Prime service can do in this process (for get_cluster_status). */
export interface PrimeCapabilities {
  embedder: EmbedderInfo;
  /** False when hnswlib-node is missing or switched off: vector search is then always exact. */
  hnsw_available: boolean;
  /** One sentence on how vectors are searched here. */
  vector_search: string;
  tenants_warm: number;
}

/**
 * Prime for a store: every method takes the tenant first, validates its arguments (InvalidError
 * naming the argument), and either appends `prime.*` events (writes) or reads a projection.
 */
export interface PrimeService {
  readonly embedderInfo: EmbedderInfo;
  capabilities(): PrimeCapabilities;
  addNode(tenant: string, args: { type: string; properties?: JsonObject; id?: string }): Promise<PrimeNode>;
  updateNode(tenant: string, args: { node_id: string; properties: JsonObject }): Promise<PrimeNode>;
  getNode(tenant: string, args: { node_id: string } & AsOfArg): Promise<PrimeNode>;
  /** Soft delete: the node, its edges and its vectors leave every projection; history stays. A node forgotten before: nothing written, `already_forgotten`. */
  forget(tenant: string, args: { node_id: string; reason?: string }): Promise<{ node_id: string; edges_removed: number; vectors_removed: number; already_forgotten: boolean }>;
  addEdge(tenant: string, args: { source: string; target: string; relation: string; properties?: JsonObject; weight?: number }): Promise<PrimeEdge>;
  /** By id, or every live edge matching source + target + relation; none live (a repeat): nothing written, `removed` empty. */
  removeEdge(tenant: string, args: { edge_id?: string; source?: string; target?: string; relation?: string }): Promise<{ removed: PrimeEdge[] }>;
  neighbors(tenant: string, args: { node_id: string; relation?: string; direction?: Direction; depth?: number; limit?: number } & AsOfArg): Promise<{ node_id: string; neighbors: NeighborHit[]; truncated: boolean }>;
  search(tenant: string, args: { type?: string; text?: string; properties?: JsonObject; limit?: number } & AsOfArg): Promise<{ nodes: Array<PrimeNode & { score: number | null }> }>;
  shortestPath(tenant: string, args: { from: string; to: string; relation?: string } & AsOfArg): Promise<{ found: boolean; length: number | null; nodes: PrimeNode[]; edges: PrimeEdge[] }>;
  subgraph(tenant: string, args: { node_id: string; depth?: number; limit?: number } & AsOfArg): Promise<{ nodes: PrimeNode[]; edges: PrimeEdge[]; truncated: boolean }>;
  /** Every event that touched the node: its own, its edges', its vectors'. */
  history(tenant: string, args: { node_id: string } & AsOfArg): Promise<NodeHistory>;
  /** A vector of a length nothing here has (not the embedder's, no stored vector's) needs `new_space`. */
  embed(tenant: string, args: { id: string; text?: string; vector?: number[]; metadata?: JsonObject; new_space?: boolean }): Promise<{ id: string; dims: number; embedder: string; node_id: string | null }>;
  similar(tenant: string, args: { id?: string; text?: string; vector?: number[]; top_k?: number } & AsOfArg): Promise<{ results: SimilarHit[]; embedder: EmbedderInfo; vector_index: VectorIndexStatus }>;
  recall(
    tenant: string,
    args: { text?: string; vector?: number[]; node_type?: string; depth?: number; top_k?: number; since?: string; until?: string } & AsOfArg,
  ): Promise<{ results: RecallHit[]; embedder: EmbedderInfo; vector_index: VectorIndexStatus }>;
  context(tenant: string, args: { query: string; top_k?: number; max_tokens?: number } & AsOfArg): Promise<{ context: string; tokens: number; memories: number; truncated: boolean }>;
  stats(tenant: string, args?: AsOfArg): Promise<PrimeStats>;
  /** A read-only view of the tenant's projections (now, or as of an instant). */
  view(tenant: string, args?: AsOfArg): Promise<PrimeView>;
  /**
   * Appends prebuilt `prime.*` events atomically (one batch) and brings a warm projection up to
   * date. For multi-node operations such as the memory-compatible tools. `guards` are non-Prime
   * events written first in the same atomic batch (Prime does not fold them): conditions such as
   * a name claim with an `expected_version`, which make the whole write fail with `conflict` when
   * another writer, in any process, got there first.
   */
  appendEvents(tenant: string, events: NewEvent[], options?: { guards?: NewEvent[] }): Promise<void>;
  /** Generates a fresh node or edge id. */
  newId(): string;
  close(): Promise<void>;
}
