// The Prime service's argument checks (the tools validate with zod too; library callers get the
// same typed errors) and the small pure helpers its reads use: merge patches, property filters,
// vector hits to node hits, recall's sequence and name look-ups, which events touched a node.

import { createHash } from 'node:crypto';
import { InvalidError } from '../core/errors.js';
import { isPlainObject } from '../core/fold.js';
import type { JsonObject, StoredEvent } from '../core/types.js';
import { checkId } from '../core/validate.js';
import { checkVector, normalize } from '../embed/codec.js';
import { MAX_PRIME_ID_LENGTH, PRIME_EVENTS } from './events.js';
import type { Embedder } from '../embed/types.js';
import { customSpace, type PrimeProjection } from './projection.js';
import { nameCandidates } from './anchors.js';
import { BACKWARD_SEQUENCE_RELATIONS, FORWARD_SEQUENCE_RELATIONS } from './sequence.js';

export const PRIME_LIMITS = {
  maxTypeLength: 200,
  maxRelationLength: 200,
  maxDepth: 5,
  maxRecallDepth: 3,
  maxTopK: 100,
  defaultTopK: 10,
  defaultNeighborLimit: 100,
  defaultSearchLimit: 20,
  defaultSubgraphLimit: 200,
  minContextTokens: 64,
  maxContextTokens: 100_000,
  defaultContextTokens: 2000,
  maxEmbedTextLength: 32_000,
  maxStoredVectorText: 2000,
} as const;

/** A caller's vector, unit length (search is cosine = dot product over unit vectors). */
export function callerVector(value: unknown): Float32Array {
  return normalize(checkVector(value, 'vector'));
}

/**
 * A caller's vector must have a length something here has: the embedder's, or that of caller
 * vectors the tenant already stores (its own embedding space). Any other length would search an
 * empty space and answer nothing, which looks like "no memories" instead of a wrong argument;
 * storing one starts a space nothing else searches, so that takes new_space (the caller's check).
 */
export function checkVectorDims(projection: PrimeProjection, vector: Float32Array, embedder: Pick<Embedder, 'name' | 'dims'>, use: 'store' | 'search'): void {
  const dims = vector.length;
  const own = projection.space(customSpace(dims));
  if (own !== undefined && own.size > 0) return;
  const embedderDims = embedder.dims || projection.space(embedder.name)?.dims || 0;
  // A remote embedder's length is learnt from its first answer: until then there is nothing to check against.
  if (embedderDims === 0 || dims === embedderDims) return;
  const stored = new Set<number>();
  for (const name of projection.spaceNames()) if (name !== embedder.name) stored.add(projection.space(name)!.dims);
  const theirs = [...stored].filter((d) => d !== embedderDims).sort((a, b) => a - b);
  const owned = theirs.length === 0 ? '' : `, and this tenant's own vectors have ${theirs.join(' or ')}`;
  const next = use === 'store' ? `; pass new_space: true to start your own space of ${dims}-dimension vectors (only vector queries of that length search it)` : '';
  throw new InvalidError('vector', `has ${dims} dimensions, but the embedder (${embedder.name}) makes ${embedderDims}${owned}${next}`, { dims, expected_dims: [embedderDims, ...theirs] });
}

/** The store's id rules (no control characters, well-formed Unicode), with room for the `prime:vector:` prefix. */
export function checkPrimeId(value: unknown, field: string): string {
  // `$` is reserved for store entities only; inside `prime:node:$x` it is harmless.
  const id = checkId(value, field, { allowReserved: true });
  if (id.length > MAX_PRIME_ID_LENGTH) throw new InvalidError(field, `must be at most ${MAX_PRIME_ID_LENGTH} characters, got ${id.length}`);
  return id;
}

export function checkName(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new InvalidError(field, 'must be a non-empty string');
  if (value.length > max) throw new InvalidError(field, `must be at most ${max} characters`);
  return value;
}

export function checkProperties(value: unknown, field: string): JsonObject {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new InvalidError(field, 'must be a JSON object');
  return value;
}

export function checkText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new InvalidError(field, 'must be non-empty text');
  if (value.length > PRIME_LIMITS.maxEmbedTextLength) throw new InvalidError(field, `must be at most ${PRIME_LIMITS.maxEmbedTextLength} characters`);
  return value;
}

export function checkInt(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InvalidError(field, `must be an integer from ${min} to ${max}`);
  return value;
}

export function mergeProperties(before: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...before };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeProperties(out[key], value) : value;
  }
  return out;
}

/** Property filter of prime_search: every given key equals (JSON-wise) the node's value. */
export function propertiesMatch(properties: JsonObject, wanted: JsonObject): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    if (JSON.stringify(properties[key]) !== JSON.stringify(value)) return false;
  }
  return true;
}

/**
 * Vector hits to node hits: the first (best) hit per live node. A vector pointing away from the
 * query (cosine ≤ 0) is not similar at all, so it is not reported as found semantically.
 */
export function nodeHits(projection: PrimeProjection, hits: Array<{ id: string; score: number }>): Array<{ id: string; score: number }> {
  const seen = new Set<string>();
  const out: Array<{ id: string; score: number }> = [];
  for (const hit of hits) {
    if (!(hit.score > 0)) break; // best first: the rest are no closer
    const nodeId = projection.nodeOfVector(hit.id);
    if (nodeId === undefined || seen.has(nodeId)) continue;
    seen.add(nodeId);
    out.push({ id: nodeId, score: hit.score });
  }
  return out;
}

/**
 * A node with more edges than this is a hub (a person, a session), not an item of a sequence:
 * recall asks for the successors of every keyword candidate, and listing a hub's edges would cost
 * a copy of all of them per query.
 */
const MAX_SEQUENCE_DEGREE = 64;

/** The nodes that come right after `id` in a sequence: targets of its forward edges, sources of backward ones pointing at it. */
export function sequenceSuccessors(projection: PrimeProjection, id: string): string[] {
  if (projection.degree(id) > MAX_SEQUENCE_DEGREE) return [];
  const out: string[] = [];
  for (const edge of projection.edgesOf(id, 'both')) {
    if (edge.source === id && FORWARD_SEQUENCE_RELATIONS.has(edge.relation)) out.push(edge.target);
    else if (edge.target === id && BACKWARD_SEQUENCE_RELATIONS.has(edge.relation)) out.push(edge.source);
  }
  return out;
}

/** Live nodes whose name the query text mentions (anchors.ts), each once, in the order named. */
export function namedNodes(projection: PrimeProjection, text: string): string[] {
  const out: string[] = [];
  for (const name of nameCandidates(text)) {
    const node = projection.nodeByName(name);
    if (node !== undefined && !out.includes(node.id)) out.push(node.id);
  }
  return out;
}

/** Up to this many edges, a named node's neighbours are gathered once per query; past it each candidate's own edges are read. */
const MAX_GATHERED_NEIGHBOURS = 4096;

/** A test of whether an edge joins a node to `other` (either way): a set of its neighbours, or, for a large hub, a look at the asked node's edges. */
export function linkedTo(projection: PrimeProjection, other: string): (id: string) => boolean {
  if (projection.degree(other) <= MAX_GATHERED_NEIGHBOURS) {
    const neighbours = new Set(projection.neighborLinks(other).map((link) => link.id));
    return (id) => neighbours.has(id);
  }
  return (id) => projection.edgesOf(id, 'both').some((edge) => edge.source === other || edge.target === other);
}

/** Whether a prime event touched node `id` (its own events, its edges', its vectors'); learns edge and vector ids as it goes. */
export function touches(event: StoredEvent, id: string, edgeIds: Set<string>, vectorIds: Set<string>): boolean {
  const p = event.payload;
  switch (event.event_type) {
    case PRIME_EVENTS.nodeCreated:
    case PRIME_EVENTS.nodeUpdated:
    case PRIME_EVENTS.nodeDeleted:
      return p.node_id === id;
    case PRIME_EVENTS.edgeCreated:
      if (p.source !== id && p.target !== id) return false;
      if (typeof p.edge_id === 'string') edgeIds.add(p.edge_id);
      return true;
    case PRIME_EVENTS.edgeDeleted:
      return typeof p.edge_id === 'string' && edgeIds.has(p.edge_id);
    case PRIME_EVENTS.vectorStored:
      if (p.node_id !== id && p.vector_id !== id) return false;
      if (typeof p.vector_id === 'string') vectorIds.add(p.vector_id);
      return true;
    case PRIME_EVENTS.vectorDeleted:
      return typeof p.vector_id === 'string' && vectorIds.has(p.vector_id);
    default:
      return false;
  }
}

export function tenantDirName(tenant: string): string {
  return createHash('sha256').update(tenant).digest('hex').slice(0, 24);
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
