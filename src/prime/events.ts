// Prime's event model: the ordinary log events that every Prime change is, and the builders that
// make them. Nodes, edges and vectors are entities of their own (`prime:node:<id>`, …) so each
// one's history is an entity query, and the projections are a fold of `prime.*` events.

import type { JsonObject, JsonValue, NewEvent } from '../core/types.js';

export const PRIME_EVENT_PREFIX = 'prime.';

export const PRIME_EVENTS = {
  nodeCreated: 'prime.node.created',
  nodeUpdated: 'prime.node.updated',
  nodeDeleted: 'prime.node.deleted',
  edgeCreated: 'prime.edge.created',
  edgeDeleted: 'prime.edge.deleted',
  vectorStored: 'prime.vector.stored',
  vectorDeleted: 'prime.vector.deleted',
} as const;

export const nodeEntity = (id: string): string => `prime:node:${id}`;
export const edgeEntity = (id: string): string => `prime:edge:${id}`;
export const vectorEntity = (id: string): string => `prime:vector:${id}`;

/** Longest node, edge or vector id: the entity id (at most 256) also holds the `prime:vector:` prefix. */
export const MAX_PRIME_ID_LENGTH = 200;

/** A vector as an event carries it: little-endian float32, base64 (4/3 bytes per byte, exact). */
export interface EncodedVector {
  embedder: string;
  dims: number;
  data: string;
}

export function nodeCreated(id: string, type: string, properties: JsonObject, embedding?: EncodedVector): NewEvent {
  return {
    entity_id: nodeEntity(id),
    event_type: PRIME_EVENTS.nodeCreated,
    payload: withOptional({ node_id: id, type, properties }, 'embedding', embedding),
    expected_version: 0,
  };
}

/** `properties` is an RFC 7396 merge patch over the node's properties (`null` removes a key). */
export function nodeUpdated(id: string, properties: JsonObject, embedding?: EncodedVector): NewEvent {
  return {
    entity_id: nodeEntity(id),
    event_type: PRIME_EVENTS.nodeUpdated,
    payload: withOptional({ node_id: id, properties }, 'embedding', embedding),
  };
}

export function nodeDeleted(id: string, reason?: string): NewEvent {
  return { entity_id: nodeEntity(id), event_type: PRIME_EVENTS.nodeDeleted, payload: withOptional({ node_id: id }, 'reason', reason) };
}

export function edgeCreated(edge: { id: string; source: string; target: string; relation: string; properties: JsonObject; weight: number }): NewEvent {
  return {
    entity_id: edgeEntity(edge.id),
    event_type: PRIME_EVENTS.edgeCreated,
    payload: { edge_id: edge.id, source: edge.source, target: edge.target, relation: edge.relation, properties: edge.properties, weight: edge.weight },
    expected_version: 0,
  };
}

export function edgeDeleted(id: string): NewEvent {
  return { entity_id: edgeEntity(id), event_type: PRIME_EVENTS.edgeDeleted, payload: { edge_id: id } };
}

export function vectorStored(id: string, vector: EncodedVector, options: { nodeId?: string; text?: string; metadata?: JsonObject }): NewEvent {
  const payload: JsonObject = { vector_id: id, node_id: options.nodeId ?? null, ...vector, metadata: options.metadata ?? {} };
  if (options.text !== undefined) payload.text = options.text;
  return { entity_id: vectorEntity(id), event_type: PRIME_EVENTS.vectorStored, payload };
}

export function vectorDeleted(id: string): NewEvent {
  return { entity_id: vectorEntity(id), event_type: PRIME_EVENTS.vectorDeleted, payload: { vector_id: id } };
}

function withOptional(payload: JsonObject, key: string, value: JsonValue | EncodedVector | undefined): JsonObject {
  if (value !== undefined) payload[key] = value as JsonValue;
  return payload;
}

/** Property keys whose text leads a node's document (what it is called and what it says); the tools' renderings read them first too. */
export const LEADING_TEXT_KEYS = ['name', 'title', 'text', 'content', 'description', 'summary', 'observations'];
/** Longest text indexed per node, in characters (recall is about finding the node, not storing books). */
export const MAX_NODE_TEXT = 16_000;

/**
 * The text recall indexes for a node: its string properties (and arrays of strings such as
 * `observations`), the well-known keys first. Keys starting with `_` are treated as private.
 */
export function nodeText(properties: JsonObject): string {
  const parts: string[] = [];
  const take = (value: JsonValue | undefined): void => {
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') parts.push(item);
  };
  for (const key of LEADING_TEXT_KEYS) take(properties[key]);
  for (const key of Object.keys(properties)) if (!LEADING_TEXT_KEYS.includes(key) && !key.startsWith('_')) take(properties[key]);
  const text = parts.join('\n');
  return text.length > MAX_NODE_TEXT ? text.slice(0, MAX_NODE_TEXT) : text;
}
