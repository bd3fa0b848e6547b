// One tenant's Prime projections folded from its `prime.*` events: the graph (graph.ts), the
// vector spaces, the lexical (BM25) index over node text, and exact counters. `apply` is the
// evolve step: it takes events in log order, does no I/O and reads no clock, and tolerates any
// event a user could have written by hand (a malformed one is counted and otherwise ignored).
// The live view and every as-of view are built by this same fold, so they cannot disagree; a
// projection restored from a snapshot (exportState / fromState, see snapshot.ts) is the state
// such a fold had reached, and folds the rest of the log the same way.

import { join } from 'node:path';
import { mergePatch, isPlainObject } from '../core/fold.js';
import type { JsonObject, JsonValue, StoredEvent } from '../core/types.js';
import type { Embedder } from '../embed/types.js';
import { nodeText, PRIME_EVENTS } from './events.js';
import { bump, onOwnEntity, safeDecode, spaceDirName, str } from './foldRules.js';
import { PrimeGraph, type NodeRecord } from './graph.js';
import { LexicalIndex, type QueryExpansion } from './lexical.js';
import type { FoldAnchor, ProjectionState } from './projectionState.js';
import { nodeTexts, SubstringIndex } from './substring.js';
import type { PrimeCounters, PrimeEdge, PrimeNode, PrimeView } from './types.js';
import { VectorIndex, type VectorHit, type VectorStoreState } from './vectorIndex.js';

export type { FoldAnchor, ProjectionState } from './projectionState.js';

/**
 * A vector stored by a `prime.vector.stored` event (its numbers live in its space's VectorIndex).
 * Vectors derived from node text have no entry: they sit in the embedder's space under their
 * node's id, describe that node, and carry no metadata.
 */
interface VectorEntry {
  space: string;
  /** The node it describes, if any. */
  nodeId: string | null;
  metadata: JsonObject;
}

export interface ProjectionOptions {
  tenant: string;
  /** The instant the fold is cut at (null: the live projection). */
  asOf: string | null;
  embedder: Embedder;
  /** Build HNSW indexes for large vector spaces (the live projection); as-of views scan exactly. */
  hnsw: boolean;
  hnswThreshold?: number;
  /** Where this tenant's derived vector indexes are persisted (local mode). */
  persistDir?: string;
  log?: (line: string) => void;
}

/** The vector space of caller-supplied vectors of one length. */
export const customSpace = (dims: number): string => `custom-${dims}`;

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

export class PrimeProjection implements PrimeView {
  readonly tenant: string;
  readonly asOf: string | null;
  /** Highest log position folded (prime or not: catch-up continues from here). */
  position = 0;
  /** Prime events folded, well-formed or not. */
  eventCount = 0;
  /** Prime events that could not be applied (malformed, or naming a missing node). */
  ignoredEvents = 0;
  /**
   * Prime events folded, in log order (references to the store's frozen events): all of them for
   * a fold from the start, those after `logStart` for a projection restored from a snapshot.
   */
  readonly log: StoredEvent[] = [];
  /** The position the log starts after (0: it is complete); history reads the rest from the store. */
  logStart = 0;
  /** The last prime event folded (null: none since the restore, or none at all). */
  private lastPrime: StoredEvent | null = null;
  /** The anchor a restored projection started from. */
  private restoredAnchor: FoldAnchor | null = null;

  private readonly graph = new PrimeGraph();
  private lexicalIndex = new LexicalIndex();
  /** Trigrams of node text for substring search; built on first use (see substringCandidates). */
  private substringIndex: SubstringIndex | null = null;
  private readonly spaces = new Map<string, VectorIndex>();
  private readonly storedVectors = new Map<string, VectorEntry>();
  /** Of the vectors stored by events, those that describe a node, by node. */
  private readonly vectorsByNode = new Map<string, Set<string>>();
  private derivedVectors = 0;
  private readonly names = new Map<string, string[]>();
  private readonly forgotten = new Set<string>();
  private readonly typeCounts = new Map<string, number>();
  private readonly relationCounts = new Map<string, number>();
  private seq = 0;
  private textChars = 0;
  /** Where derived vectors are embedded before the vector store copies them (see indexText). */
  private embedScratch: Float32Array | undefined;

  constructor(private readonly options: ProjectionOptions) {
    this.tenant = options.tenant;
    this.asOf = options.asOf;
  }

  get embedder(): Embedder {
    return this.options.embedder;
  }

  // ── evolve ──────────────────────────────────────────────────────────────────────────────────

  /** Folds one event (call in log order; events at or below `position` are skipped, so replays are harmless). */
  apply(event: StoredEvent): void {
    if (event.position <= this.position) return;
    this.position = event.position;
    if (!event.event_type.startsWith('prime.')) return;
    this.eventCount++;
    this.log.push(event);
    // The anchor object is made only when asked for (a fold of the whole log would make one per event).
    this.lastPrime = event;
    if (!this.applyPrime(event)) this.ignoredEvents++;
  }

  /** The last prime event folded, or null before the first. */
  get anchor(): FoldAnchor | null {
    const last = this.lastPrime;
    return last === null ? this.restoredAnchor : { id: last.id, position: last.position, hash: last.hash };
  }

  /** Moves the cut forward over events that were not prime (so catch-up need not revisit them). */
  advanceTo(position: number): void {
    if (position > this.position) this.position = position;
  }

  private applyPrime(e: StoredEvent): boolean {
    const p = e.payload;
    // A change to a node, edge or vector counts only on that thing's own entity, so its history is
    // exactly its entity's events (and an event filed elsewhere cannot rewrite it).
    if (!onOwnEntity(e)) return false;
    switch (e.event_type) {
      case PRIME_EVENTS.nodeCreated:
        return this.createNode(e, p);
      case PRIME_EVENTS.nodeUpdated:
        return this.updateNode(e, p);
      case PRIME_EVENTS.nodeDeleted:
        return this.deleteNode(str(p.node_id));
      case PRIME_EVENTS.edgeCreated:
        return this.createEdge(e, p);
      case PRIME_EVENTS.edgeDeleted: {
        const id = str(p.edge_id);
        const edge = id === undefined ? undefined : this.graph.edge(id);
        if (edge === undefined) return false;
        this.graph.dropEdge(edge.id);
        bump(this.relationCounts, edge.relation, -1);
        return true;
      }
      case PRIME_EVENTS.vectorStored:
        return this.storeVector(p);
      case PRIME_EVENTS.vectorDeleted: {
        const id = str(p.vector_id);
        return id !== undefined && this.removeVector(id);
      }
      default:
        return false;
    }
  }

  private createNode(e: StoredEvent, p: JsonObject): boolean {
    const id = str(p.node_id);
    const type = str(p.type);
    if (id === undefined || type === undefined || this.graph.hasNode(id) || this.forgotten.has(id)) return false;
    const properties = isPlainObject(p.properties) ? p.properties : EMPTY;
    const ms = Date.parse(e.timestamp);
    const node: PrimeNode = Object.freeze({ id, type, properties, created_at: e.timestamp, updated_at: e.timestamp, version: e.version });
    const record = this.graph.addNode(node, this.seq++, ms, ms, 0);
    bump(this.typeCounts, type, 1);
    this.indexName(id, undefined, properties);
    this.indexText(id, properties, p.embedding, record);
    this.substringIndex?.set(id, nodeTexts(type, properties));
    return true;
  }

  private updateNode(e: StoredEvent, p: JsonObject): boolean {
    const id = str(p.node_id);
    const attrs = id === undefined ? undefined : this.graph.record(id);
    if (id === undefined || attrs === undefined || !isPlainObject(p.properties)) return false;
    const before = attrs.node;
    const properties = mergePatch(before.properties, p.properties);
    attrs.node = Object.freeze({ ...before, properties, updated_at: e.timestamp, version: e.version });
    attrs.updatedMs = Date.parse(e.timestamp);
    this.indexName(id, before.properties, properties);
    this.indexText(id, properties, p.embedding, attrs);
    this.substringIndex?.set(id, nodeTexts(before.type, properties));
    return true;
  }

  private deleteNode(id: string | undefined): boolean {
    const attrs = id === undefined ? undefined : this.graph.record(id);
    if (id === undefined || attrs === undefined) return false;
    for (const edge of this.graph.dropNode(id)) bump(this.relationCounts, edge.relation, -1);
    this.forgotten.add(id);
    bump(this.typeCounts, attrs.node.type, -1);
    this.indexName(id, attrs.node.properties, undefined);
    this.lexicalIndex.remove(id);
    this.substringIndex?.remove(id);
    this.textChars -= attrs.textLength;
    if (!this.storedVectors.has(id)) this.removeVector(id);
    for (const vectorId of [...(this.vectorsByNode.get(id) ?? [])]) this.removeVector(vectorId);
    return true;
  }

  private createEdge(e: StoredEvent, p: JsonObject): boolean {
    const id = str(p.edge_id);
    const source = str(p.source);
    const target = str(p.target);
    const relation = str(p.relation);
    if (id === undefined || source === undefined || target === undefined || relation === undefined) return false;
    if (this.graph.hasEdge(id)) return false;
    const from = this.graph.record(source);
    const to = from === undefined ? undefined : this.graph.record(target);
    if (from === undefined || to === undefined) return false;
    const weight = typeof p.weight === 'number' && Number.isFinite(p.weight) ? p.weight : 1;
    const properties = isPlainObject(p.properties) ? p.properties : EMPTY;
    const edge: PrimeEdge = Object.freeze({ id, source, target, relation, properties, weight, created_at: e.timestamp });
    this.graph.addEdgeBetween(edge, from, to);
    bump(this.relationCounts, relation, 1);
    return true;
  }

  /** Keeps `names` (name → node ids in creation order) in step with a node's `name` property. */
  private indexName(id: string, before: JsonObject | undefined, after: JsonObject | undefined): void {
    const oldName = before === undefined ? undefined : str(before.name);
    const newName = after === undefined ? undefined : str(after.name);
    if (oldName === newName) return;
    if (oldName !== undefined) {
      const ids = this.names.get(oldName)?.filter((x) => x !== id) ?? [];
      if (ids.length === 0) this.names.delete(oldName);
      else this.names.set(oldName, ids);
    }
    if (newName !== undefined) {
      const ids = this.names.get(newName) ?? [];
      const seq = this.seqOf(id);
      let at = ids.length;
      while (at > 0 && this.seqOf(ids[at - 1]) > seq) at--;
      ids.splice(at, 0, id);
      this.names.set(newName, ids);
    }
  }

  /** Re-indexes a node's text: lexical always; its derived vector from the embedder or the event's stored embedding. */
  private indexText(id: string, properties: JsonObject, embedding: JsonValue | undefined, attrs: NodeRecord): void {
    const text = nodeText(properties);
    this.textChars += text.length - attrs.textLength;
    attrs.textLength = text.length;
    if (text.length === 0) this.lexicalIndex.remove(id);
    else this.lexicalIndex.add(id, text);
    if (this.storedVectors.has(id)) return;
    const embedder = this.options.embedder;
    let vector: Float32Array | undefined;
    if (text.length > 0 && embedder.deterministic && embedder.embedSyncInto) {
      // One buffer for every text: the vector store keeps a copy, so a fold allocates no vector per node.
      if (this.embedScratch?.length !== embedder.dims) this.embedScratch = new Float32Array(embedder.dims);
      vector = this.embedScratch;
      embedder.embedSyncInto(text, vector);
    } else if (text.length > 0 && embedder.deterministic && embedder.embedSync) vector = embedder.embedSync(text);
    else if (isPlainObject(embedding) && embedding.embedder === embedder.name && typeof embedding.data === 'string' && typeof embedding.dims === 'number') {
      vector = safeDecode(embedding.data, embedding.dims);
    }
    if (vector === undefined) this.removeVector(id);
    else this.putVector(id, embedder.name, vector, null);
  }

  private storeVector(p: JsonObject): boolean {
    const id = str(p.vector_id);
    const space = str(p.embedder);
    if (id === undefined || space === undefined || typeof p.data !== 'string' || typeof p.dims !== 'number') return false;
    const vector = safeDecode(p.data, p.dims);
    if (vector === undefined) return false;
    const nodeId = str(p.node_id) ?? null;
    this.putVector(id, space, vector, { space, nodeId, metadata: isPlainObject(p.metadata) ? p.metadata : EMPTY });
    return true;
  }

  /** The bookkeeping of vector `id`: its stored entry, or the derived one of the node it is named after. */
  private entryOf(id: string): VectorEntry | undefined {
    const stored = this.storedVectors.get(id);
    if (stored !== undefined) return stored;
    const space = this.options.embedder.name;
    return this.spaces.get(space)?.has(id) ? { space, nodeId: id, metadata: EMPTY } : undefined;
  }

  /** Stores a vector: `entry` for one stored by an event, null for one derived from node `id`'s text. */
  private putVector(id: string, space: string, vector: Float32Array, entry: VectorEntry | null): void {
    // A derived vector replaces at most the derived one of its node, in the same space, while no vector is stored by an event.
    const previous = entry === null && this.storedVectors.size === 0 ? undefined : this.entryOf(id);
    if (previous !== undefined && previous.space !== space) this.removeVector(id);
    let index = this.spaces.get(space);
    if (index !== undefined && index.dims !== vector.length) {
      // A space is one embedder at one length; a vector of another length cannot be compared with the rest.
      return;
    }
    if (index === undefined) {
      index = this.newSpace(space, vector.length);
      this.spaces.set(space, index);
    }
    const existed = index.has(id);
    index.upsert(id, vector);
    if (entry === null) {
      if (!existed) this.derivedVectors++;
      return;
    }
    if (previous !== undefined && this.storedVectors.get(id) === undefined && existed) this.derivedVectors--;
    if (previous?.nodeId && previous.nodeId !== entry.nodeId) this.vectorsByNode.get(previous.nodeId)?.delete(id);
    this.storedVectors.set(id, entry);
    if (entry.nodeId !== null) {
      let set = this.vectorsByNode.get(entry.nodeId);
      if (set === undefined) this.vectorsByNode.set(entry.nodeId, (set = new Set()));
      set.add(id);
    }
  }

  private newSpace(space: string, dims: number, restore?: VectorStoreState): VectorIndex {
    return new VectorIndex({
      dims,
      hnsw: this.options.hnsw,
      hnswThreshold: this.options.hnswThreshold,
      persistDir: this.options.persistDir === undefined ? undefined : join(this.options.persistDir, spaceDirName(space)),
      log: this.options.log,
      restore,
    });
  }

  private removeVector(id: string): boolean {
    const entry = this.entryOf(id);
    if (entry === undefined) return false;
    this.spaces.get(entry.space)?.remove(id);
    const stored = this.storedVectors.get(id);
    if (stored === undefined) {
      this.derivedVectors--;
      return true;
    }
    this.storedVectors.delete(id);
    if (stored.nodeId !== null) this.vectorsByNode.get(stored.nodeId)?.delete(id);
    return true;
  }

  private seqOf(id: string): number {
    return (this.graph.record(id) as { seq: number }).seq;
  }

  // ── PrimeView ───────────────────────────────────────────────────────────────────────────────

  node(id: string): PrimeNode | undefined {
    return this.graph.record(id)?.node;
  }

  *nodes(): Iterable<PrimeNode> {
    for (const record of this.graph.records()) yield record.node;
  }

  nodeIds(): Iterable<string> {
    return this.graph.nodeIds();
  }

  nodeByName(name: string): PrimeNode | undefined {
    const ids = this.names.get(name);
    return ids === undefined ? undefined : this.node(ids[0]);
  }

  edge(id: string): PrimeEdge | undefined {
    return this.graph.edge(id);
  }

  edges(): Iterable<PrimeEdge> {
    return this.graph.edges();
  }

  edgesOf(nodeId: string, direction: 'out' | 'in' | 'both'): PrimeEdge[] {
    return this.graph.edgesOf(nodeId, direction);
  }

  counters(): PrimeCounters {
    return {
      nodes: this.graph.order,
      edges: this.graph.size,
      events: this.eventCount,
      vectors: this.storedVectors.size + this.derivedVectors,
      node_types: Object.fromEntries([...this.typeCounts].filter(([, n]) => n > 0)),
      relations: Object.fromEntries([...this.relationCounts].filter(([, n]) => n > 0)),
    };
  }

  lexical(text: string, limit: number, accept?: (nodeId: string) => boolean, expansion?: QueryExpansion): Array<{ id: string; score: number }> {
    return this.lexicalIndex.search(text, limit, accept, expansion);
  }

  /** Terms of the nodes `ids` worth adding to the query `text` (see LexicalIndex.feedbackTerms). */
  hasAnyTerm(id: string, wanted: ReadonlySet<string>): boolean {
    return this.lexicalIndex.hasAnyTerm(id, wanted);
  }

  feedbackTerms(ids: readonly string[], text: string, count: number): string[] {
    return this.lexicalIndex.feedbackTerms(ids, text, count);
  }

  substringCandidates(query: string): string[] | null {
    // Built on the first substring search and kept up to date from then on: a tenant that never
    // searches by substring (recall only) pays nothing for it.
    if (this.substringIndex === null) {
      const index = new SubstringIndex();
      for (const { node } of this.graph.records()) index.set(node.id, nodeTexts(node.type, node.properties));
      this.substringIndex = index;
    }
    const candidates = this.substringIndex.candidates(query.toLowerCase());
    if (candidates === null) return null;
    return [...candidates].filter((id) => this.graph.hasNode(id)).sort((a, b) => this.seqOf(a) - this.seqOf(b));
  }

  // ── What the service needs beyond the view ─────────────────────────────────────────────────

  /** Facts recall weighs: type, times, importance (`properties.importance` in [0, 1]). */
  nodeInfo(id: string): { type: string; createdMs: number; updatedMs: number; importance?: number } | undefined {
    const a = this.graph.record(id);
    if (a === undefined) return undefined;
    const importance = a.node.properties.importance;
    return {
      type: a.node.type,
      createdMs: a.createdMs,
      updatedMs: a.updatedMs,
      importance: typeof importance === 'number' && Number.isFinite(importance) ? Math.min(1, Math.max(0, importance)) : undefined,
    };
  }

  /** Neighbors for recall's graph expansion (both directions). */
  neighborLinks(id: string): Array<{ id: string; relation: string; weight: number }> {
    const record = this.graph.record(id);
    if (record === undefined) return [];
    return record.edges.map((edge) => ({ id: edge.source === id ? edge.target : edge.source, relation: edge.relation, weight: edge.weight }));
  }

  /** Edges touching a node (0 when it is not live). */
  degree(id: string): number {
    return this.graph.degree(id);
  }

  /** The stored vector of `id` and its space, if any. */
  vectorOf(id: string): { space: string; vector: Float32Array; nodeId: string | null; metadata: JsonObject } | undefined {
    const entry = this.entryOf(id);
    const vector = entry === undefined ? undefined : this.spaces.get(entry.space)?.get(id);
    return entry === undefined || vector === undefined ? undefined : { space: entry.space, vector, nodeId: entry.nodeId, metadata: entry.metadata };
  }

  vectorMeta(id: string): { nodeId: string | null; metadata: JsonObject } | undefined {
    const entry = this.entryOf(id);
    return entry === undefined ? undefined : { nodeId: entry.nodeId, metadata: entry.metadata };
  }

  space(name: string): VectorIndex | undefined {
    return this.spaces.get(name);
  }

  /** The vector spaces that hold vectors now, by name. */
  spaceNames(): string[] {
    return [...this.spaces].filter(([, index]) => index.size > 0).map(([name]) => name);
  }

  /** Nearest vectors of one space, best first. */
  searchSpace(space: string, query: Float32Array, k: number, accept?: (id: string) => boolean): VectorHit[] {
    return this.spaces.get(space)?.search(query, k, accept) ?? [];
  }

  /** The node a vector hit stands for (its own node, or the node of that id), if live. */
  nodeOfVector(vectorId: string): string | undefined {
    const nodeId = this.storedVectors.get(vectorId)?.nodeId ?? vectorId;
    return this.graph.hasNode(nodeId) ? nodeId : undefined;
  }

  // ── Snapshots ───────────────────────────────────────────────────────────────────────────────

  /**
   * The whole state as plain data, for a snapshot: synchronous, so it is one consistent cut.
   * Nodes and edges are immutable objects, shared, not copied; vector rows are views the stores
   * copy on their next write. Undefined before the first prime event (nothing worth keeping).
   */
  exportState(): ProjectionState | undefined {
    const anchor = this.anchor;
    if (anchor === null) return undefined;
    const count = this.graph.order;
    const nodes: ProjectionState['nodes'] = {
      ids: [],
      types: [],
      properties: [],
      createdAt: [],
      updatedAt: [],
      version: new Float64Array(count),
      seq: new Float64Array(count),
      createdMs: new Float64Array(count),
      updatedMs: new Float64Array(count),
      textLength: new Float64Array(count),
    };
    let i = 0;
    const indexOf = new Map<string, number>();
    for (const r of this.graph.records()) {
      const n = r.node;
      indexOf.set(n.id, i);
      nodes.ids[i] = n.id;
      nodes.types[i] = n.type;
      nodes.properties[i] = n.properties;
      nodes.createdAt[i] = n.created_at;
      nodes.updatedAt[i] = n.updated_at;
      nodes.version[i] = n.version;
      nodes.seq[i] = r.seq;
      nodes.createdMs[i] = r.createdMs;
      nodes.updatedMs[i] = r.updatedMs;
      nodes.textLength[i++] = r.textLength;
    }
    const size = this.graph.size;
    const edges: ProjectionState['edges'] = {
      ids: [],
      ends: new Int32Array(2 * size),
      relations: [],
      properties: [],
      weights: new Float64Array(size),
      createdAt: [],
    };
    i = 0;
    for (const e of this.graph.edges()) {
      edges.ids[i] = e.id;
      edges.ends[2 * i] = indexOf.get(e.source) as number;
      edges.ends[2 * i + 1] = indexOf.get(e.target) as number;
      edges.relations[i] = e.relation;
      edges.properties[i] = e.properties;
      edges.weights[i] = e.weight;
      edges.createdAt[i++] = e.created_at;
    }
    return {
      tenant: this.tenant,
      anchor,
      eventCount: this.eventCount,
      ignoredEvents: this.ignoredEvents,
      seq: this.seq,
      textChars: this.textChars,
      nodes,
      edges,
      forgotten: [...this.forgotten],
      typeCounts: [...this.typeCounts],
      relationCounts: [...this.relationCounts],
      storedVectors: [...this.storedVectors].map(([id, e]) => [id, e.space, e.nodeId, e.metadata]),
      derivedVectors: this.derivedVectors,
      spaces: [...this.spaces].map(([name, index]) => ({ name, vectors: index.exportState() })),
      lexical: this.lexicalIndex.exportState(),
    };
  }

  /** Ends an export: its snapshot is written, so the vector stores need not copy on write for it. */
  releaseState(state: ProjectionState): void {
    for (const { name, vectors } of state.spaces) this.spaces.get(name)?.releaseState(vectors);
  }

  /**
   * The projection a fold had reached when `state` was exported (its arrays are adopted). Its
   * position is the anchor's: catching up from there folds exactly the events it has not seen.
   */
  static fromState(state: ProjectionState, options: ProjectionOptions): PrimeProjection {
    const p = new PrimeProjection(options);
    p.position = state.anchor.position;
    p.logStart = state.anchor.position;
    p.restoredAnchor = { ...state.anchor };
    p.eventCount = state.eventCount;
    p.ignoredEvents = state.ignoredEvents;
    p.seq = state.seq;
    p.textChars = state.textChars;
    const n = state.nodes;
    // Filled in order from empty: a large array made with new Array(n) would start as a slow dictionary.
    const records: NodeRecord[] = [];
    for (let i = 0; i < n.ids.length; i++) {
      const id = n.ids[i];
      const properties = n.properties[i];
      const node: PrimeNode = Object.freeze({ id, type: n.types[i], properties, created_at: n.createdAt[i], updated_at: n.updatedAt[i], version: n.version[i] });
      records[i] = p.graph.addNode(node, n.seq[i], n.createdMs[i], n.updatedMs[i], n.textLength[i]);
      // Nodes come in creation order, so each name's list comes out in creation order too.
      const name = str(properties.name);
      if (name === undefined) continue;
      const ids = p.names.get(name);
      if (ids === undefined) p.names.set(name, [id]);
      else ids.push(id);
    }
    const e = state.edges;
    for (let i = 0; i < e.ids.length; i++) {
      const source = records[e.ends[2 * i]];
      const target = records[e.ends[2 * i + 1]];
      if (source === undefined || target === undefined) throw new Error(`edge ${e.ids[i]} names a node out of range`);
      const edge: PrimeEdge = Object.freeze({ id: e.ids[i], source: source.node.id, target: target.node.id, relation: e.relations[i], properties: e.properties[i], weight: e.weights[i], created_at: e.createdAt[i] });
      p.graph.addEdgeBetween(edge, source, target);
    }
    for (const id of state.forgotten) p.forgotten.add(id);
    for (const [key, count] of state.typeCounts) p.typeCounts.set(key, count);
    for (const [key, count] of state.relationCounts) p.relationCounts.set(key, count);
    for (const [id, space, nodeId, metadata] of state.storedVectors) {
      p.storedVectors.set(id, { space, nodeId, metadata });
      if (nodeId === null) continue;
      let set = p.vectorsByNode.get(nodeId);
      if (set === undefined) p.vectorsByNode.set(nodeId, (set = new Set()));
      set.add(id);
    }
    p.derivedVectors = state.derivedVectors;
    for (const { name, vectors } of state.spaces) p.spaces.set(name, p.newSpace(name, vectors.dims, vectors));
    p.lexicalIndex = LexicalIndex.fromState(state.lexical);
    return p;
  }

  /** Rough bytes held, for the warm cache's memory bound. */
  approxBytes(): number {
    let vectorBytes = 0;
    // Float32 rows, their int8 copy, and the bookkeeping of each.
    for (const index of this.spaces.values()) vectorBytes += index.size * (index.dims * 5 + 96);
    return 4096 + this.graph.order * 600 + this.graph.size * 300 + this.textChars * 3 + vectorBytes + this.log.length * 16;
  }

  async whenIdle(): Promise<void> {
    await Promise.all([...this.spaces.values()].map((index) => index.whenIdle()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.spaces.values()].map((index) => index.close()));
  }
}

/**
 * The fold as a function of a plain list of events, with no store: `initialPrimeState()` then
 * `evolvePrime` per event, in log order. The service builds its live and as-of views this way.
 */
export function initialPrimeState(options: Partial<ProjectionOptions> & { embedder: Embedder }): PrimeProjection {
  return new PrimeProjection({ tenant: '', asOf: null, hnsw: false, ...options });
}

export function evolvePrime(state: PrimeProjection, event: StoredEvent): PrimeProjection {
  state.apply(event);
  return state;
}

export function foldPrimeEvents(events: Iterable<StoredEvent>, options: Partial<ProjectionOptions> & { embedder: Embedder }): PrimeProjection {
  let state = initialPrimeState(options);
  for (const event of events) state = evolvePrime(state, event);
  return state;
}
