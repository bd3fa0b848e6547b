// Prime over an EventStore: writes append ordinary `prime.*` events; reads fold them into a
// per-tenant projection kept in a warm LRU cache. A cold tenant hydrates from the store on its
// next read. A write applies to a projection only if the tenant is already warm, and it does so
// by catching up from the log (positions make the fold idempotent), never hydrate-then-apply, so
// counters stay exact in the process that wrote and in any other. Tombstones in the log (rare)
// make a warm projection rebuild from the store on its next read. With a data directory (hosted: the
// Core's artifacts), a cold tenant starts from its projection snapshot when one checks out and folds
// only the events after it. Cache, hydration, catch-up: tenants.ts; argument checks: serviceArgs.ts.

import { InvalidError, NotFoundError } from '../core/errors.js';
import { isPlainObject } from '../core/fold.js';
import { UuidV7Generator } from '../core/ids.js';
import { parseInstant, formatInstant } from '../core/time.js';
import { LIMITS, type EventStore, type JsonObject, type NewEvent, type StoredEvent } from '../core/types.js';
import { checkTenant } from '../core/validate.js';
import { encodeVector } from '../embed/codec.js';
import { createHashEmbedder } from '../embed/hashEmbedder.js';
import type { Embedder, EmbedderInfo } from '../embed/types.js';
import { buildContextPack } from './contextPack.js';
import { edgeCreated, edgeDeleted, edgeEntity, nodeCreated, nodeDeleted, nodeEntity, nodeText, nodeUpdated, PRIME_EVENT_PREFIX, PRIME_EVENTS, vectorStored, type EncodedVector } from './events.js';
import { customSpace, PrimeProjection } from './projection.js';
import { hnswAvailability } from './vectorIndex.js';
import { rankRecall, tuningForEmbedder, type RecallTuning } from './recall.js';
import { callerVector, checkInt, checkVectorDims, checkName, checkPrimeId, checkProperties, checkText, linkedTo, mergeProperties, namedNodes, nodeHits, PRIME_LIMITS, propertiesMatch, sequenceSuccessors, touches } from './serviceArgs.js';
import type { SnapshotPolicy, SnapshotStore } from './snapshots.js';
import { HYDRATE_PAGE, PrimeTenants } from './tenants.js';
import { neighbors, shortestPath, subgraph } from './traverse.js';
import type { AsOfArg, Direction, NodeHistory, PrimeCapabilities, PrimeEdge, PrimeNode, PrimeService, PrimeStats, PrimeView, RecallHit, Retrieval, SimilarHit, VectorIndexStatus } from './types.js';

export interface PrimeServiceOptions {
  store: EventStore;
  /** Default: the offline deterministic embedder. */
  embedder?: Embedder;
  now?: () => number;
  /** Local data directory: derived vector indexes and projection snapshots are kept under `<dataDir>/prime`. */
  dataDir?: string;
  /**
   * Projection snapshots under `<dataDir>/prime` (default: on when there is a data directory):
   * false turns them off, an object tunes when they are written.
   */
  snapshots?: boolean | Partial<SnapshotPolicy>;
  /** Where snapshots are kept instead of `<dataDir>/prime` (hosted: on the Core, createCoreSnapshotStore). */
  snapshotStore?: SnapshotStore;
  log?: (line: string) => void;
  /** Vectors in a space before an HNSW index is built for it (default 5000). */
  hnswThreshold?: number;
  /**
   * `auto` (default): exact scans while a space is small, HNSW once it is large. `exact`: never
   * build HNSW, for one-shot processes (a CLI call) that would exit before a build pays off.
   */
  vectorSearch?: 'auto' | 'exact';
  /** Overrides of recall's fusion knobs (experiments; the defaults are what ships). */
  recallTuning?: Partial<RecallTuning>;
  /** Most tenants kept warm (default 64). */
  maxWarmTenants?: number;
  /** Rough memory bound of all warm projections, in bytes (default 2 GiB). */
  maxWarmBytes?: number;
}

export { PRIME_LIMITS } from './serviceArgs.js';

/** Folding one node's own events needs no vectors: an embedder that is never asked. */
const NO_EMBEDDER: Embedder = {
  name: 'none',
  kind: 'lexical',
  dims: 0,
  deterministic: false,
  embed: () => Promise.reject(new Error('not used')),
  describe: () => ({ name: 'none', kind: 'lexical', dims: 0, source: 'offline' }),
};

export function createPrimeService(options: PrimeServiceOptions): PrimeService & PrimeServiceExtras {
  return new Prime(options);
}

/** Beyond the tool surface: what benchmarks and tests use. */
export interface PrimeServiceExtras {
  /** Resolves when every warm tenant's background index builds are done. */
  whenIdle(): Promise<void>;
  /** Whether a tenant is warm (in the cache). */
  isWarm(tenant: string): boolean;
  /** The warm cache, for metrics: tenants warm now, and hydrations (cold tenants built from the log) so far. */
  cacheInfo(): { warm_tenants: number; hydrations: number };
  /** Projection snapshots loaded, rejected (and why is logged), written, failed to write; null without a snapshot store (no data directory, not hosted). */
  snapshotInfo(): { loaded: number; rejected: number; written: number; write_failures: number } | null;
  /** Writes a snapshot of every warm tenant that folded anything since its last one (tests, benchmarks). */
  writeSnapshots(): Promise<void>;
}

class Prime implements PrimeService, PrimeServiceExtras {
  private readonly store: EventStore;
  private readonly embedder: Embedder;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly ids = new UuidV7Generator();
  /** Fusion weights suited to the embedder: a lexical one gets less say than a semantic model. */
  private readonly tuning: Partial<RecallTuning>;
  /** The warm cache of live projections, their snapshots, and the as-of views. */
  private readonly tenants: PrimeTenants;
  private closed = false;

  constructor(options: PrimeServiceOptions) {
    this.store = options.store;
    this.embedder = options.embedder ?? createHashEmbedder();
    this.tuning = { ...tuningForEmbedder(this.embedder.kind), ...options.recallTuning };
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.tenants = new PrimeTenants({ ...options, embedder: this.embedder, log: this.log });
  }

  /** Asked each time: a remote embedder learns its vector length from its first answer. */
  get embedderInfo(): EmbedderInfo {
    return this.embedder.describe();
  }

  newId(): string {
    return this.ids.next(this.now());
  }

  capabilities(): PrimeCapabilities {
    const hnsw = hnswAvailability();
    return {
      embedder: this.embedderInfo,
      hnsw_available: hnsw.available,
      vector_search: hnsw.note,
      tenants_warm: this.warmCount(),
    };
  }

  private warmCount(): number {
    return this.tenants.warmCount();
  }

  isWarm(tenant: string): boolean {
    return this.tenants.isWarm(tenant);
  }

  cacheInfo(): { warm_tenants: number; hydrations: number } {
    return this.tenants.cacheInfo();
  }

  snapshotInfo(): { loaded: number; rejected: number; written: number; write_failures: number } | null {
    return this.tenants.snapshotInfo();
  }

  writeSnapshots(): Promise<void> {
    return this.tenants.writeSnapshots();
  }

  // ── projections ──────────────────────────────────────────────────────────────────────────────

  /** The tenant's live projection, hydrated or caught up with the log. */
  private async live(tenant: string): Promise<{ projection: PrimeProjection; wasWarm: boolean }> {
    checkTenant(tenant);
    this.ensureOpen();
    return this.tenants.live(tenant);
  }

  /** The live projection, or one folded from the log prefix recorded at or before `as_of`. */
  private async projectionFor(tenant: string, asOf: string | undefined): Promise<PrimeProjection> {
    if (asOf === undefined) return (await this.live(tenant)).projection;
    checkTenant(tenant);
    this.ensureOpen();
    return this.tenants.pastView(tenant, formatInstant(parseInstant(asOf, 'as_of')));
  }

  async view(tenant: string, args: AsOfArg = {}): Promise<PrimeView> {
    return this.projectionFor(tenant, args.as_of);
  }

  async appendEvents(tenant: string, events: NewEvent[], options: { guards?: NewEvent[] } = {}): Promise<void> {
    checkTenant(tenant);
    this.ensureOpen();
    for (const [i, event] of events.entries()) {
      if (typeof event?.event_type !== 'string' || !event.event_type.startsWith(PRIME_EVENT_PREFIX)) throw new InvalidError(`events[${i}].event_type`, `must start with '${PRIME_EVENT_PREFIX}'`);
    }
    const guards = options.guards ?? [];
    for (const [i, event] of guards.entries()) {
      if (typeof event?.event_type !== 'string' || event.event_type.startsWith(PRIME_EVENT_PREFIX)) throw new InvalidError(`guards[${i}].event_type`, `must not start with '${PRIME_EVENT_PREFIX}' (guards are not folded)`);
    }
    const prepared = this.embedder.deterministic ? events : await this.withEmbeddings(tenant, events);
    await this.store.append(tenant, guards.length === 0 ? prepared : [...guards, ...prepared]);
    await this.afterWrite(tenant);
  }

  /** Write once, apply once: only a warm tenant is brought up to date (from the log, which has the write). */
  private afterWrite(tenant: string): Promise<void> {
    return this.tenants.afterWrite(tenant);
  }

  // ── writes ───────────────────────────────────────────────────────────────────────────────────

  async addNode(tenant: string, args: { type: string; properties?: JsonObject; id?: string }): Promise<PrimeNode> {
    const type = checkName(args.type, 'type', PRIME_LIMITS.maxTypeLength);
    const properties = checkProperties(args.properties, 'properties');
    const id = args.id === undefined ? this.newId() : checkPrimeId(args.id, 'id');
    checkTenant(tenant);
    const embedding = await this.embeddingFor(properties);
    const appended = await this.appendOne(tenant, nodeCreated(id, type, properties, embedding), 'id');
    return { id, type, properties, created_at: appended.timestamp, updated_at: appended.timestamp, version: appended.version };
  }

  async updateNode(tenant: string, args: { node_id: string; properties: JsonObject }): Promise<PrimeNode> {
    const id = checkPrimeId(args.node_id, 'node_id');
    const patch = checkProperties(args.properties, 'properties');
    const { projection } = await this.live(tenant);
    const before = this.requireNode(projection, id, 'node_id');
    const merged = mergeProperties(before.properties, patch);
    const embedding = await this.embeddingFor(merged);
    const appended = await this.appendOne(tenant, nodeUpdated(id, patch, embedding), 'node_id');
    return { ...before, properties: merged, updated_at: appended.timestamp, version: appended.version };
  }

  async forget(tenant: string, args: { node_id: string; reason?: string }): Promise<{ node_id: string; edges_removed: number; vectors_removed: number; already_forgotten: boolean }> {
    const id = checkPrimeId(args.node_id, 'node_id');
    const { projection } = await this.live(tenant);
    // A retry of a forget must be safe (the tool says idempotent): a node the log knows but the
    // graph no longer holds was forgotten before, so nothing changes and nothing is written.
    if (projection.node(id) === undefined && (await this.inLog(tenant, nodeEntity(id)))) return { node_id: id, edges_removed: 0, vectors_removed: 0, already_forgotten: true };
    this.requireNode(projection, id, 'node_id');
    const edges = projection.edgesOf(id, 'both').length;
    const vectors = projection.vectorOf(id) === undefined ? 0 : 1;
    await this.appendOne(tenant, nodeDeleted(id, args.reason), 'node_id');
    return { node_id: id, edges_removed: edges, vectors_removed: vectors, already_forgotten: false };
  }

  async addEdge(tenant: string, args: { source: string; target: string; relation: string; properties?: JsonObject; weight?: number }): Promise<PrimeEdge> {
    const source = checkPrimeId(args.source, 'source');
    const target = checkPrimeId(args.target, 'target');
    const relation = checkName(args.relation, 'relation', PRIME_LIMITS.maxRelationLength);
    const properties = checkProperties(args.properties, 'properties');
    const weight = args.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new InvalidError('weight', 'must be a finite number ≥ 0');
    const { projection } = await this.live(tenant);
    this.requireNode(projection, source, 'source');
    this.requireNode(projection, target, 'target');
    const edge = { id: this.newId(), source, target, relation, properties, weight };
    const appended = await this.appendOne(tenant, edgeCreated(edge), 'source');
    return { ...edge, created_at: appended.timestamp };
  }

  async removeEdge(tenant: string, args: { edge_id?: string; source?: string; target?: string; relation?: string }): Promise<{ removed: PrimeEdge[] }> {
    const { projection } = await this.live(tenant);
    let removed: PrimeEdge[];
    // Nothing live matching is a success with nothing removed when the ids are in the log (a retry
    // of a removal); not_found is kept for ids this tenant never had.
    if (args.edge_id !== undefined) {
      if (args.source !== undefined || args.target !== undefined || args.relation !== undefined) throw new InvalidError('edge_id', 'give edge_id, or source and target (and optionally relation), not both');
      const edgeId = checkPrimeId(args.edge_id, 'edge_id');
      const edge = projection.edge(edgeId);
      if (edge === undefined && !(await this.inLog(tenant, edgeEntity(edgeId)))) throw new NotFoundError(`edge_id: no edge '${edgeId}' in this tenant's log`, { field: 'edge_id' });
      removed = edge === undefined ? [] : [edge];
    } else {
      if (args.source === undefined) throw new InvalidError('source', 'is required when edge_id is not given');
      if (args.target === undefined) throw new InvalidError('target', 'is required when edge_id is not given');
      const source = checkPrimeId(args.source, 'source');
      const target = checkPrimeId(args.target, 'target');
      removed = projection.edgesOf(source, 'out').filter((e) => e.target === target && (args.relation === undefined || e.relation === args.relation));
      if (removed.length === 0) {
        for (const [field, id] of [['source', source], ['target', target]] as const) {
          if (projection.node(id) === undefined && !(await this.inLog(tenant, nodeEntity(id)))) throw new NotFoundError(`${field}: no node '${id}' in this tenant's log`, { field });
        }
      }
    }
    if (removed.length === 0) return { removed };
    await this.store.append(tenant, removed.map((e) => edgeDeleted(e.id)));
    await this.afterWrite(tenant);
    return { removed };
  }

  /** Whether the tenant's log holds any event of this entity (one that existed, live or not). */
  private async inLog(tenant: string, entityId: string): Promise<boolean> {
    return (await this.store.query(tenant, { entity_id: entityId, limit: 1 })).events.length > 0;
  }

  async embed(tenant: string, args: { id: string; text?: string; vector?: number[]; metadata?: JsonObject; new_space?: boolean }): Promise<{ id: string; dims: number; embedder: string; node_id: string | null }> {
    const id = checkPrimeId(args.id, 'id');
    const metadata = checkProperties(args.metadata, 'metadata');
    if ((args.text === undefined) === (args.vector === undefined)) throw new InvalidError('text', 'give exactly one of text or vector');
    let space: string;
    let vector: Float32Array;
    if (args.text !== undefined) {
      const text = checkText(args.text, 'text');
      vector = (await this.embedTexts([text]))[0];
      space = this.embedder.name;
    } else {
      vector = callerVector(args.vector);
      space = customSpace(vector.length);
    }
    const { projection } = await this.live(tenant);
    if (args.vector !== undefined && args.new_space !== true) checkVectorDims(projection, vector, this.embedder, 'store');
    const nodeId = projection.node(id) !== undefined ? id : null;
    const text = args.text === undefined ? undefined : args.text.slice(0, PRIME_LIMITS.maxStoredVectorText);
    const encoded: EncodedVector = { embedder: space, dims: vector.length, data: encodeVector(vector) };
    await this.appendOne(tenant, vectorStored(id, encoded, { nodeId: nodeId ?? undefined, text, metadata }), 'id');
    return { id, dims: vector.length, embedder: space, node_id: nodeId };
  }

  private async appendOne(tenant: string, event: NewEvent, idField: string): Promise<{ timestamp: string; version: number }> {
    try {
      const result = await this.store.append(tenant, [event]);
      await this.afterWrite(tenant);
      return result.events[0];
    } catch (err) {
      // A created node or edge names a fresh entity (expected_version 0): a clash means the id is taken.
      if ((err as { code?: string }).code === 'conflict') throw new InvalidError(idField, `'${event.entity_id.split(':').slice(2).join(':')}' is already used`);
      throw err;
    }
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────────

  async getNode(tenant: string, args: { node_id: string } & AsOfArg): Promise<PrimeNode> {
    const id = checkPrimeId(args.node_id, 'node_id');
    if (args.as_of === undefined) return this.requireNode((await this.live(tenant)).projection, id, 'node_id');
    // One node in the past needs only its own events, not the whole tenant folded to that instant.
    checkTenant(tenant);
    this.ensureOpen();
    const cut = formatInstant(parseInstant(args.as_of, 'as_of'));
    const own = await this.store.query(tenant, { entity_id: nodeEntity(id), as_of: cut, limit: LIMITS.maxPageSize });
    const projection = new PrimeProjection({ tenant, asOf: cut, embedder: NO_EMBEDDER, hnsw: false });
    for (const event of own.events) projection.apply(event);
    if (own.has_more) return this.requireNode(await this.projectionFor(tenant, cut), id, 'node_id');
    return this.requireNode(projection, id, 'node_id');
  }

  async neighbors(tenant: string, args: { node_id: string; relation?: string; direction?: Direction; depth?: number; limit?: number } & AsOfArg) {
    const id = checkPrimeId(args.node_id, 'node_id');
    const depth = checkInt(args.depth, 'depth', 1, 1, PRIME_LIMITS.maxDepth);
    const limit = checkInt(args.limit, 'limit', PRIME_LIMITS.defaultNeighborLimit, 1, LIMITS.maxPageSize);
    const direction = args.direction ?? 'both';
    if (direction !== 'out' && direction !== 'in' && direction !== 'both') throw new InvalidError('direction', "must be 'out', 'in' or 'both'");
    const projection = await this.projectionFor(tenant, args.as_of);
    this.requireNode(projection, id, 'node_id');
    return { node_id: id, ...neighbors(projection, id, { relation: args.relation, direction, depth, limit }) };
  }

  async search(tenant: string, args: { type?: string; text?: string; properties?: JsonObject; limit?: number } & AsOfArg): Promise<{ nodes: Array<PrimeNode & { score: number | null }> }> {
    const limit = checkInt(args.limit, 'limit', PRIME_LIMITS.defaultSearchLimit, 1, LIMITS.maxPageSize);
    const wanted = args.properties === undefined ? undefined : checkProperties(args.properties, 'properties');
    const projection = await this.projectionFor(tenant, args.as_of);
    const matches = (node: PrimeNode): boolean => (args.type === undefined || node.type === args.type) && (wanted === undefined || propertiesMatch(node.properties, wanted));
    if (args.text !== undefined && args.text.trim().length > 0) {
      const hits = projection.lexical(args.text, limit, (id) => {
        const node = projection.node(id);
        return node !== undefined && matches(node);
      });
      return { nodes: hits.map((hit) => ({ ...(projection.node(hit.id) as PrimeNode), score: hit.score })) };
    }
    const nodes: Array<PrimeNode & { score: number | null }> = [];
    for (const node of projection.nodes()) {
      if (!matches(node)) continue;
      nodes.push({ ...node, score: null });
      if (nodes.length === limit) break;
    }
    return { nodes };
  }

  async shortestPath(tenant: string, args: { from: string; to: string; relation?: string } & AsOfArg) {
    const from = checkPrimeId(args.from, 'from');
    const to = checkPrimeId(args.to, 'to');
    const projection = await this.projectionFor(tenant, args.as_of);
    this.requireNode(projection, from, 'from');
    this.requireNode(projection, to, 'to');
    const path = shortestPath(projection, from, to, args.relation);
    return { ...path, length: path.found ? path.edges.length : null };
  }

  async subgraph(tenant: string, args: { node_id: string; depth?: number; limit?: number } & AsOfArg) {
    const id = checkPrimeId(args.node_id, 'node_id');
    const depth = checkInt(args.depth, 'depth', 1, 0, PRIME_LIMITS.maxDepth);
    const limit = checkInt(args.limit, 'limit', PRIME_LIMITS.defaultSubgraphLimit, 1, LIMITS.maxPageSize);
    const projection = await this.projectionFor(tenant, args.as_of);
    this.requireNode(projection, id, 'node_id');
    return subgraph(projection, id, { depth, limit });
  }

  async history(tenant: string, args: { node_id: string } & AsOfArg): Promise<NodeHistory> {
    const id = checkPrimeId(args.node_id, 'node_id');
    const cutMs = args.as_of === undefined ? undefined : parseInstant(args.as_of, 'as_of');
    const { projection } = await this.live(tenant);
    const edgeIds = new Set<string>();
    const vectorIds = new Set<string>([id]);
    const events: StoredEvent[] = [];
    for (const event of await this.primeLog(tenant, projection)) {
      if (cutMs !== undefined && Date.parse(event.timestamp) > cutMs) break;
      if (touches(event, id, edgeIds, vectorIds)) events.push(event);
    }
    if (events.length === 0) throw new NotFoundError(`node_id: no node '${id}' in this tenant's log${args.as_of === undefined ? '' : ` as of ${args.as_of}`}`, { field: 'node_id' });
    return { node_id: id, events };
  }

  /**
   * Every prime event the projection folded, in log order. One restored from a snapshot holds only
   * those after it: the rest is read from the store (which has them, as the snapshot was checked).
   */
  private async primeLog(tenant: string, projection: PrimeProjection): Promise<readonly StoredEvent[]> {
    if (projection.logStart === 0) return projection.log;
    const prefix: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.query(tenant, { event_type_prefix: PRIME_EVENT_PREFIX, limit: HYDRATE_PAGE, cursor });
      for (const event of page.events) {
        if (event.position > projection.logStart) return prefix.concat(projection.log);
        prefix.push(event);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return prefix.concat(projection.log);
  }

  async similar(tenant: string, args: { id?: string; text?: string; vector?: number[]; top_k?: number } & AsOfArg): Promise<{ results: SimilarHit[]; embedder: EmbedderInfo; vector_index: VectorIndexStatus }> {
    const given = [args.id, args.text, args.vector].filter((x) => x !== undefined).length;
    if (given !== 1) throw new InvalidError('id', 'give exactly one of id, text or vector');
    const topK = checkInt(args.top_k, 'top_k', PRIME_LIMITS.defaultTopK, 1, PRIME_LIMITS.maxTopK);
    const textVector = args.text === undefined ? undefined : (await this.embedTexts([checkText(args.text, 'text')]))[0];
    const projection = await this.projectionFor(tenant, args.as_of);
    let space: string;
    let query: Float32Array;
    let exclude: string | undefined;
    if (args.id !== undefined) {
      const id = checkPrimeId(args.id, 'id');
      const stored = projection.vectorOf(id);
      if (stored === undefined) throw new NotFoundError(`id: '${id}' has no vector${projection.asOf ? ` as of ${projection.asOf}` : ''}`, { field: 'id' });
      ({ space, vector: query } = stored);
      exclude = id;
    } else if (textVector !== undefined) {
      space = this.embedder.name;
      query = textVector;
    } else {
      query = callerVector(args.vector);
      checkVectorDims(projection, query, this.embedder, 'search');
      space = this.spaceForVector(projection, query);
    }
    const hits = projection.searchSpace(space, query, topK, exclude === undefined ? undefined : (id) => id !== exclude);
    const results = hits.map((hit): SimilarHit => {
      const meta = projection.vectorMeta(hit.id);
      const nodeId = projection.nodeOfVector(hit.id);
      const node = nodeId === undefined ? undefined : projection.node(nodeId);
      return { id: hit.id, score: hit.score, ...(node === undefined ? {} : { node }), metadata: meta?.metadata ?? {} };
    });
    return { results, embedder: this.embedderInfo, vector_index: this.indexStatus(projection, space) };
  }

  async recall(
    tenant: string,
    args: { text?: string; vector?: number[]; node_type?: string; depth?: number; top_k?: number; since?: string; until?: string } & AsOfArg,
  ): Promise<{ results: RecallHit[]; embedder: EmbedderInfo; vector_index: VectorIndexStatus }> {
    const topK = checkInt(args.top_k, 'top_k', PRIME_LIMITS.defaultTopK, 1, PRIME_LIMITS.maxTopK);
    const depth = checkInt(args.depth, 'depth', 1, 0, PRIME_LIMITS.maxRecallDepth);
    const sinceMs = args.since === undefined ? undefined : parseInstant(args.since, 'since');
    const untilMs = args.until === undefined ? undefined : parseInstant(args.until, 'until');
    const text = args.text === undefined || args.text.trim().length === 0 ? undefined : checkText(args.text, 'text');
    let vector: Float32Array | undefined;
    if (args.vector !== undefined) vector = callerVector(args.vector);
    else if (text !== undefined) vector = (await this.embedTexts([text]))[0];
    const projection = await this.projectionFor(tenant, args.as_of);
    if (args.vector !== undefined && vector !== undefined) checkVectorDims(projection, vector, this.embedder, 'search');
    return this.recallOn(projection, { text, vector, ownVector: args.vector !== undefined, topK, depth, nodeType: args.node_type, sinceMs, untilMs });
  }

  /** Recall on a projection already in hand, with checked arguments (prime_context reuses its view). */
  private recallOn(
    projection: PrimeProjection,
    q: { text?: string; vector?: Float32Array; ownVector: boolean; topK: number; depth: number; nodeType?: string; sinceMs?: number; untilMs?: number },
  ): { results: RecallHit[]; embedder: EmbedderInfo; vector_index: VectorIndexStatus } {
    const space = q.ownVector && q.vector !== undefined ? this.spaceForVector(projection, q.vector) : this.embedder.name;
    const nowMs = projection.asOf === null ? this.now() : Date.parse(projection.asOf);
    const ranked = rankRecall(
      { text: q.text, vector: q.vector, topK: q.topK, depth: q.depth, nodeType: q.nodeType, sinceMs: q.sinceMs, untilMs: q.untilMs, nowMs },
      {
        lexical: (text, limit, expansion) => projection.lexical(text, limit, undefined, expansion),
        feedbackTerms: (ids, text, count) => projection.feedbackTerms(ids, text, count),
        hasAnyTerm: (id, wanted) => projection.hasAnyTerm(id, wanted),
        semantic: (v, limit) => nodeHits(projection, projection.searchSpace(space, v, limit)),
        neighbors: (id) => projection.neighborLinks(id),
        successors: (id) => sequenceSuccessors(projection, id),
        named: (text) => namedNodes(projection, text),
        linkedTo: (other) => linkedTo(projection, other),
        degree: (id) => projection.degree(id),
        info: (id) => projection.nodeInfo(id),
        ids: () => projection.nodeIds(),
      },
      this.tuning,
    );
    // Vectors speak for meaning only when a language model made them (and the caller's own vector is the caller's claim).
    const vectorLabel: Retrieval = this.embedderInfo.kind === 'semantic' && !q.ownVector ? 'semantic' : 'vector';
    const results: RecallHit[] = [];
    for (const r of ranked) {
      const node = projection.node(r.id);
      if (node === undefined) continue;
      const retrieval = r.retrieval.map((path) => (path === 'semantic' ? vectorLabel : path));
      results.push({ node, score: r.score, score_parts: r.parts, retrieval, ...(r.via === undefined ? {} : { via: r.via }) });
    }
    return { results, embedder: this.embedderInfo, vector_index: this.indexStatus(projection, space) };
  }

  async context(tenant: string, args: { query: string; top_k?: number; max_tokens?: number } & AsOfArg) {
    const query = checkText(args.query, 'query');
    const maxTokens = checkInt(args.max_tokens, 'max_tokens', PRIME_LIMITS.defaultContextTokens, PRIME_LIMITS.minContextTokens, PRIME_LIMITS.maxContextTokens);
    const topK = checkInt(args.top_k, 'top_k', PRIME_LIMITS.defaultTopK, 1, PRIME_LIMITS.maxTopK);
    const [vector] = await this.embedTexts([query]);
    // One view for both the ranking and the facts around it (an as-of view is a whole fold).
    const projection = await this.projectionFor(tenant, args.as_of);
    const { results } = this.recallOn(projection, { text: query, vector, ownVector: false, topK, depth: 1 });
    return buildContextPack(query, results, projection, maxTokens);
  }

  async stats(tenant: string, args: AsOfArg = {}): Promise<PrimeStats> {
    let projection: PrimeProjection;
    let warm = false;
    if (args.as_of === undefined) ({ projection, wasWarm: warm } = await this.live(tenant));
    else projection = await this.projectionFor(tenant, args.as_of);
    return {
      tenant,
      as_of: projection.asOf,
      ...projection.counters(),
      embedder: this.embedderInfo,
      vector_index: this.indexStatus(projection, this.embedder.name),
      cache: { warm, tenants_warm: this.warmCount() },
    };
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────────────

  private requireNode(projection: PrimeProjection, id: string, field: string): PrimeNode {
    const node = projection.node(id);
    if (node === undefined) throw new NotFoundError(`${field}: no live node '${id}'${projection.asOf ? ` as of ${projection.asOf}` : ''}`, { field });
    return node;
  }

  private indexStatus(projection: PrimeProjection, space: string): VectorIndexStatus {
    const index = projection.space(space);
    if (index !== undefined) return index.status();
    const dims = space === this.embedder.name ? this.embedder.dims : 0;
    const availability = hnswAvailability();
    return { mode: 'exact', hnsw_available: availability.available, vectors: 0, dims, note: availability.available ? 'exact: no vectors stored yet' : availability.note };
  }

  /** Caller vectors are searched among caller vectors of their length, else the embedder's when lengths match. */
  private spaceForVector(projection: PrimeProjection, vector: Float32Array): string {
    const custom = customSpace(vector.length);
    if (projection.space(custom) !== undefined) return custom;
    if (this.embedder.dims === vector.length) return this.embedder.name;
    return custom;
  }

  private async embedTexts(texts: string[]): Promise<Float32Array[]> {
    if (this.embedder.embedSync) return texts.map((text) => (this.embedder.embedSync as (t: string) => Float32Array)(text));
    return this.embedder.embed(texts);
  }

  /** A non-deterministic embedder's vector for a node's text, stored in the node's event (deterministic ones are recomputed on fold). */
  private async embeddingFor(properties: JsonObject): Promise<EncodedVector | undefined> {
    if (this.embedder.deterministic) return undefined;
    const text = nodeText(properties);
    if (text.length === 0) return undefined;
    const [vector] = await this.embedder.embed([text]);
    return { embedder: this.embedder.name, dims: vector.length, data: encodeVector(vector) };
  }

  /** Adds stored embeddings to prebuilt node events (for appendEvents with a remote embedder). */
  private async withEmbeddings(tenant: string, events: NewEvent[]): Promise<NewEvent[]> {
    const needs = events.some((e) => e.event_type === PRIME_EVENTS.nodeCreated || e.event_type === PRIME_EVENTS.nodeUpdated);
    if (!needs) return events;
    const { projection } = await this.live(tenant);
    const current = new Map<string, JsonObject>();
    const out: NewEvent[] = [];
    for (const event of events) {
      const p = event.payload;
      const id = typeof p.node_id === 'string' ? p.node_id : undefined;
      if (id === undefined || !isPlainObject(p.properties) || p.embedding !== undefined) {
        out.push(event);
        continue;
      }
      let properties: JsonObject;
      if (event.event_type === PRIME_EVENTS.nodeCreated) properties = p.properties;
      else if (event.event_type === PRIME_EVENTS.nodeUpdated) properties = mergeProperties(current.get(id) ?? projection.node(id)?.properties ?? {}, p.properties);
      else {
        out.push(event);
        continue;
      }
      current.set(id, properties);
      const embedding = await this.embeddingFor(properties);
      out.push(embedding === undefined ? event : { ...event, payload: { ...p, embedding: embedding as unknown as JsonObject } });
    }
    return out;
  }

  whenIdle(): Promise<void> {
    return this.tenants.whenIdle();
  }

  private ensureOpen(): void {
    if (this.closed) throw new InvalidError('prime', 'the Prime service is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tenants.close();
  }
}
